"""The MQTT source against a real Mosquitto, the one the test session starts (``mqtt_broker``).

Named topic levels reach the metadata (and a mapping, through ``_source``); two workers of one
shared subscription split 1,000 messages, none lost or doubled; a connection taken over by
another client with the same id is re-established and receiving resumes; a message not acked
is redelivered to the same session.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt
import paho.mqtt.client as paho
import pytest

from contextbridge import ConfigError, Mapping, RetryPolicy, Translator, build_source
from contextbridge.sources import Message, MqttSource, records_with_metadata

HOST, PORT, URL = "", 0, ""  # the test session's Mosquitto, set by the `mosquitto` fixture
FAST = RetryPolicy(initial=0.05, maximum=0.2, jitter=0.05, attempts=None)
T = TypeVar("T")


@pytest.fixture(autouse=True, scope="module")
def mosquitto(mqtt_broker: tuple[str, int]) -> None:
    global HOST, PORT, URL
    HOST, PORT = mqtt_broker
    URL = f"mqtt://{HOST}:{PORT}"


def run(coroutine: Awaitable[T], timeout: float = 30) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


def prefix() -> str:
    """A topic root of its own per test, so runs and tests never see each other's messages."""
    return f"cb-test/{uuid.uuid4().hex[:10]}"


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


class Worker:
    """Consumes a source in a task, acking each message after "storing" it in ``received``."""

    def __init__(self, source: MqttSource, *, ack: bool = True) -> None:
        self.source = source
        self.ack = ack
        self.received: list[Message] = []
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for message in self.source.messages():
            self.received.append(message)
            if self.ack:
                await message.ack()

    async def stop(self) -> None:
        await self.source.close()
        await asyncio.wait_for(self.task, 10)


async def publish(messages: list[tuple[str, bytes]], *, qos: int = 1) -> None:
    async with aiomqtt.Client(HOST, PORT, protocol=aiomqtt.ProtocolVersion.V5) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=qos)


def test_named_levels_reach_the_metadata_and_the_mapping(make_mapping: Callable[[str], Mapping]) -> None:
    root = prefix()
    mapping = make_mapping(
        """\
        id: santander-mqtt
        source: {format: json}
        entity:
          id: "urn:ngsi-ld:Thing:santander:{_source.device}"
          type: Thing
          attributes:
            temperature: {from: t, cast: float}
            channel: {from: _source.rest}
        """
    )

    async def scenario() -> list[Message]:
        source = MqttSource(URL, [f"{root}/+device/attrs/#rest"], qos=1)
        worker = Worker(source)
        await until(lambda: source.subscribed == 1)
        await publish([(f"{root}/sensor-419/attrs/env/temp", b'{"t": "16.45"}'), (f"{root}/other/x", b"{}")])
        await publish([(f"{root}/sensor-742/attrs", b'{"t": "15.1"}')])
        await until(lambda: len(worker.received) == 2)
        await worker.stop()
        return worker.received

    received = run(scenario())
    first, second = received
    assert first.name == f"{root}/sensor-419/attrs/env/temp"
    assert first.metadata["device"] == "sensor-419"
    assert first.metadata["rest"] == "env/temp"
    assert first.metadata["qos"] == 1 and first.metadata["retain"] is False
    assert first.metadata["received_at"].endswith("Z")
    assert second.metadata["rest"] == ""  # '#' also matches the parent level
    translator = Translator(mapping)
    fmt = mapping.source_format
    entities = [
        entity
        for message in received
        for entity in translator.translate(records_with_metadata(fmt.parse(message.open()), message.metadata))
    ]
    assert [e["id"] for e in entities] == [
        "urn:ngsi-ld:Thing:santander:sensor-419",
        "urn:ngsi-ld:Thing:santander:sensor-742",
    ]
    assert entities[0]["channel"]["value"] == "env/temp"
    assert entities[0]["temperature"]["value"] == 16.45


def test_two_workers_of_a_shared_subscription_split_1000_messages() -> None:
    root = prefix()
    group = f"workers-{uuid.uuid4().hex[:6]}"
    count = 1000

    async def scenario() -> tuple[list[str], list[str]]:
        workers = [Worker(MqttSource(URL, [f"{root}/+device"], qos=1, share=group)) for _ in range(2)]
        await until(lambda: all(w.source.subscribed == 1 for w in workers))
        await publish([(f"{root}/d{n % 7}", str(n).encode()) for n in range(count)])
        await until(lambda: sum(len(w.received) for w in workers) >= count, timeout=20)
        await asyncio.sleep(0.3)  # a duplicate would arrive now
        for worker in workers:
            await worker.stop()
        return tuple([m.read().decode() for m in w.received] for w in workers)  # type: ignore[return-value]

    first, second = run(scenario())
    assert first and second, "both workers take a share"
    together = first + second
    assert len(together) == count, "no message doubled"
    assert set(together) == {str(n) for n in range(count)}, "no message lost"


def test_a_dropped_connection_is_re_established_and_receiving_resumes() -> None:
    root = prefix()
    client_id = f"cb-test-{uuid.uuid4().hex[:8]}"

    async def scenario() -> tuple[MqttSource, list[bytes]]:
        source = MqttSource(URL, [f"{root}/+device"], client_id=client_id, backoff=FAST)
        worker = Worker(source)
        await until(lambda: source.subscribed == 1)
        await publish([(f"{root}/a", b"before")])
        await until(lambda: len(worker.received) == 1)
        # Another client with the same id takes the session over: the broker drops the source's connection.
        async with aiomqtt.Client(HOST, PORT, identifier=client_id, protocol=aiomqtt.ProtocolVersion.V5):
            pass
        await until(lambda: source.subscribed == 2)
        await publish([(f"{root}/b", b"after")])
        await until(lambda: len(worker.received) == 2)
        await worker.stop()
        return source, [m.read() for m in worker.received]

    source, payloads = run(scenario())
    assert payloads == [b"before", b"after"]
    assert source.connections == 2


def test_a_message_not_acked_and_those_published_meanwhile_reach_the_resumed_session() -> None:
    root = prefix()
    client_id = f"cb-test-{uuid.uuid4().hex[:8]}"

    def source() -> MqttSource:
        return MqttSource(URL, [f"{root}/+device"], client_id=client_id, session_expiry=60, backoff=FAST)

    async def scenario() -> tuple[list[bytes], list[bytes], int]:
        crashed = Worker(source(), ack=False)  # stores nothing: no PUBACK may leave
        await until(lambda: crashed.source.subscribed == 1)
        await publish([(f"{root}/a", b"one")])
        await until(lambda: len(crashed.received) == 1)
        await crashed.stop()
        await publish([(f"{root}/b", b"two")])  # while nobody is connected: kept for the session
        restarted = Worker(source())
        await until(lambda: len(restarted.received) == 2)
        await asyncio.sleep(0.2)
        await restarted.stop()
        acked = restarted.source.acked
        again = Worker(source())  # acked now: nothing comes back
        await until(lambda: again.source.subscribed == 1)
        await asyncio.sleep(0.3)
        await again.stop()
        # Leave no session behind in the broker.
        async with aiomqtt.Client(HOST, PORT, identifier=client_id, protocol=aiomqtt.ProtocolVersion.V5,
                                  clean_start=paho.MQTT_CLEAN_START_FIRST_ONLY):  # fmt: skip
            pass
        return [m.read() for m in restarted.received], [m.read() for m in again.received], acked

    redelivered, after_ack, acked = run(scenario())
    assert redelivered == [b"one", b"two"]
    assert acked == 2
    assert after_ack == []


def test_close_ends_the_message_stream() -> None:
    async def scenario() -> MqttSource:
        source = MqttSource(URL, [f"{prefix()}/#"])
        worker = Worker(source)
        await until(lambda: source.subscribed == 1)
        await worker.stop()
        return source

    assert run(scenario()).connections == 1


def test_a_broker_that_is_down_is_retried_until_closed() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    async def scenario() -> None:
        worker = Worker(MqttSource(f"mqtt://127.0.0.1:{port}", ["x/#"], backoff=FAST))
        await asyncio.sleep(0.5)
        assert not worker.task.done()  # still trying
        await worker.stop()

    run(scenario())


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"topic": "a/#x/b"}, "mqtt.topic"),
        ({"topic": "a/+topic"}, "mqtt.topic"),
        ({"topic": "a", "qos": 3}, "mqtt.qos"),
        ({"topic": "a", "share": "a/b"}, "mqtt.share"),
        ({"topic": "a", "url": "http://h"}, "mqtt.url"),
        ({"topic": "a", "session_expiry": 60}, "mqtt.session_expiry"),
        ({"topic": "a", "tls": {"ca": "missing.pem"}}, "mqtt.tls.ca"),
        ({"topic": "a", "qos": 1, "retain": True}, "mqtt.retain"),
        ({"topic": 7}, "mqtt.topic"),
    ],
)
def test_bad_mqtt_settings_name_their_key(section: dict[str, Any], key: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_source({"mqtt": section}, base_dir=tmp_path)
    assert caught.value.key == key, str(caught.value)


def test_mqtt_configuration() -> None:
    source = build_source(
        {"mqtt": {"url": "mqtts://user:p%40ss@broker.city:8883", "topic": ["santander/+device/attrs", "x/#"],
                  "qos": 1, "share": "workers", "receive_maximum": 10}},
        base_dir=Path("."),
    )  # fmt: skip
    assert isinstance(source, MqttSource)
    assert source.subscriptions == ["$share/workers/santander/+/attrs", "$share/workers/x/#"]
    assert (source.host, source.port, source.username, source.password) == (
        "broker.city",
        8883,
        "user",
        "p@ss",
    )
    assert source.tls is not None
