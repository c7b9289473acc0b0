"""The JetStream source against a real nats-server (JetStream and its MQTT listener, started by the
tests): named subject tokens, acks only from ``Message.ack()``, redelivery after ``ack_wait`` to
another worker of the same durable consumer, backpressure by ``max_ack_pending``, reconnection;
MQTT devices publishing through the NATS MQTT listener, and through a Mosquitto bridge."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import nats
import orjson
import pytest
from services import mosquitto_server, nats_server
from test_feeds import SENSOR_MAPPING

from contextbridge import ConfigError, FeedRunner, Mapping, RetryPolicy, build_source, open_outbox
from contextbridge.sources import SOURCES, JetStreamSource, Message, MqttSource, SubjectFilter, source_schema

QUICK = RetryPolicy(initial=0.05, maximum=0.5, jitter=0.05, attempts=None)


def names() -> tuple[str, str]:
    """A stream of its own for each test, and a subject prefix."""
    tag = uuid.uuid4().hex[:10]
    return f"T{tag}", f"t{tag}"


async def publish(url: str, subjects: list[str], payload: Callable[[int], bytes] = lambda n: b"{}") -> None:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        for number, subject in enumerate(subjects):
            await js.publish(subject, payload(number))  # answered once the stream stored it
    finally:
        await client.close()


class Taker:
    """Runs a source in the background; the test takes its messages (unacked) as they come."""

    def __init__(self, source: JetStreamSource) -> None:
        self.source = source
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for message in self.source.messages():
            await self.queue.put(message)

    async def ready(self, seconds: float = 10) -> Taker:
        """Once the stream and the consumer exist."""
        async with asyncio.timeout(seconds):
            while self.source.bound == 0:
                await asyncio.sleep(0.02)
        return self

    async def take(self, count: int, seconds: float = 10) -> list[Message]:
        async with asyncio.timeout(seconds):
            return [await self.queue.get() for _ in range(count)]

    async def close(self) -> None:
        """Close the source, acking what is still taken meanwhile (the source waits for those acks)."""
        await self.source.close()
        async with asyncio.timeout(10):
            while not self.task.done():
                while not self.queue.empty():
                    await self.queue.get_nowait().ack()
                await asyncio.sleep(0.05)


# ---- pure: subject filters and settings


def test_named_tokens_are_read_from_the_subject() -> None:
    f = SubjectFilter.parse("santander.*device.attrs")
    assert f.filter == "santander.*.attrs" and f.tokens("santander.s-1.attrs") == {"device": "s-1"}
    rest = SubjectFilter.parse("city.*district.>rest")
    assert rest.filter == "city.*.>"
    assert rest.tokens("city.centro.parking.7") == {"district": "centro", "rest": "parking.7"}
    assert rest.matches("city.centro.parking.7") and not rest.matches("city.centro")
    assert f.matches("santander.x.attrs") and not f.matches("santander.x.other")


@pytest.mark.parametrize(
    "pattern", ["", "a..b", "a.b*.c", "a.>.c", "a.*subject", "a.*x.*x", "a b", "a.*1x", "a.>stream"]
)
def test_bad_subject_filters_are_refused(pattern: str) -> None:
    with pytest.raises(ConfigError):
        SubjectFilter.parse(pattern)


def test_the_factory_and_the_schema_agree_on_a_jetstream_section() -> None:
    config = {"jetstream": {"url": "nats://nats:4222", "subject": ["city.*device.attrs", "city.x.>"],
                            "stream": "CITY", "durable": "workers", "ack_wait": 15, "max_ack_pending": 500,
                            "batch": 50, "tls": {"verify": False}, "retry": {"initial": 1}}}  # fmt: skip
    source = build_source(config, base_dir=Path("."))
    assert isinstance(source, JetStreamSource) and SOURCES["jetstream"] is JetStreamSource
    assert (source.stream, source.durable, source.ack_wait, source.max_ack_pending, source.batch) == (
        "CITY", "workers", 15.0, 500, 50
    )  # fmt: skip
    assert list(jsonschema.Draft202012Validator(source_schema()).iter_errors(config)) == []


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"subject": "a", "ack_wait": 0}, "jetstream.ack_wait"),
        ({"subject": "a", "max_ack_pending": 0}, "jetstream.max_ack_pending"),
        ({"subject": "a", "url": "mqtt://h"}, "jetstream.url"),
        ({"subject": "a", "stream": "a.b"}, "jetstream.stream"),
        ({"subject": "a", "colour": "red"}, "jetstream.colour"),
        ({"subject": "a", "creds": "missing.creds"}, "jetstream.creds"),
        ({}, "jetstream.subject"),
    ],
)
def test_bad_jetstream_settings_name_their_key(section: dict[str, Any], key: str) -> None:
    config = {"jetstream": section}
    with pytest.raises(ConfigError) as caught:
        build_source(config, base_dir=Path("."))
    assert caught.value.key == key, str(caught.value)
    if key != "jetstream.creds":  # the schema does not look for files
        assert list(jsonschema.Draft202012Validator(source_schema()).iter_errors(config)), config


def test_a_shared_subscription_with_a_persistent_session_is_warned_about(caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="contextbridge.sources.mqtt"):
        MqttSource("mqtt://h", ["a/+x"], share="workers", client_id="w1", session_expiry=600)
        assert "discards them" in caplog.text and "JetStream" in caplog.text
        caplog.clear()
        MqttSource("mqtt://h", ["a/+x"], share="workers")
        MqttSource("mqtt://h", ["a/+x"], client_id="w1", session_expiry=600)
        assert caplog.text == ""


# ---- against nats-server


def test_messages_carry_their_subject_tokens_and_the_stream_is_created(nats_broker: tuple[str, int]) -> None:
    url, _ = nats_broker
    stream, prefix = names()

    async def main() -> None:
        source = JetStreamSource(url, [f"{prefix}.*device.attrs"], stream=stream, durable="w", backoff=QUICK)
        taker = await Taker(source).ready()  # the stream and the consumer are created
        await publish(url, [f"{prefix}.s{n}.attrs" for n in range(3)], lambda n: orjson.dumps({"n": n}))
        taken = await taker.take(3)
        for message in taken:
            await message.ack()
        await taker.close()
        assert [m.metadata["device"] for m in taken] == ["s0", "s1", "s2"]
        assert [orjson.loads(m.read())["n"] for m in taken] == [0, 1, 2]
        assert taken[0].metadata["stream"] == stream and taken[0].metadata["sequence"] == 1
        assert taken[0].metadata["delivered"] == 1 and taken[0].name == f"{prefix}.s0.attrs"

    asyncio.run(main())


def test_an_unacked_message_goes_to_another_worker_after_ack_wait(nats_broker: tuple[str, int]) -> None:
    url, _ = nats_broker
    stream, prefix = names()

    async def main() -> None:
        settings = {"stream": stream, "durable": "shared", "ack_wait": 1.0, "backoff": QUICK}
        dead = await Taker(JetStreamSource(url, [f"{prefix}.>"], **settings)).ready()  # type: ignore[arg-type]
        await publish(url, [f"{prefix}.a", f"{prefix}.b"])
        held = await dead.take(2)
        await held[0].ack()  # the first is stored and acked; the worker dies before the second
        await dead.source.close()  # it fetches no more (its connection lingers until ack_wait)
        alive = await Taker(JetStreamSource(url, [f"{prefix}.>"], **settings)).ready()  # type: ignore[arg-type]
        [again] = await alive.take(1, seconds=5)  # after ack_wait (1 s), to the other worker
        # delivered 2, or 3 when the dying worker's last pull request caught the first redelivery
        assert again.name == f"{prefix}.b" and again.metadata["delivered"] >= 2, (
            [m.metadata for m in held],
            again.metadata,
        )
        await again.ack()
        await alive.close()
        await asyncio.wait_for(dead.task, 5)

    asyncio.run(main())


def test_max_ack_pending_holds_the_stream_back_until_acks_come(nats_broker: tuple[str, int]) -> None:
    url, _ = nats_broker
    stream, prefix = names()

    async def main() -> None:
        source = JetStreamSource(url, [f"{prefix}.>"], stream=stream, durable="w", max_ack_pending=5, batch=3)
        taker = await Taker(source).ready()
        await publish(url, [f"{prefix}.{n}" for n in range(20)])
        first = await taker.take(5)
        await asyncio.sleep(2.5)
        assert taker.queue.empty(), "nothing more while five are out unacknowledged"
        for message in first:
            await message.ack()
        rest = await taker.take(5)
        assert {m.metadata["sequence"] for m in first + rest} == set(range(1, 11))
        for message in rest:
            await message.ack()
        await taker.close()

    asyncio.run(main())


def test_a_nacked_message_comes_back_after_nak_delay(nats_broker: tuple[str, int]) -> None:
    url, _ = nats_broker
    stream, prefix = names()

    async def main() -> None:
        taker = await Taker(
            JetStreamSource(url, [f"{prefix}.>"], stream=stream, durable="w", nak_delay=0.5)
        ).ready()
        await publish(url, [f"{prefix}.x"])
        [message] = await taker.take(1)
        await message.nack(OSError("No space left on device"))
        [again] = await taker.take(1, seconds=5)
        assert again.metadata["delivered"] == 2 and again.metadata["sequence"] == 1
        await again.ack()
        await taker.close()

    asyncio.run(main())


def test_the_source_reconnects_and_resumes_after_a_server_restart(tmp_path: Path) -> None:
    home = tmp_path / "nats"
    home.mkdir()
    server = nats_server(home)
    url, mqtt_port = server.__enter__()
    port = int(url.rsplit(":", 1)[1])

    async def main() -> None:
        nonlocal server
        source = JetStreamSource(
            url, ["city.>"], stream="CITY", durable="w", reconnect_wait=0.2, backoff=QUICK
        )
        taker = await Taker(source).ready()
        await publish(url, ["city.a"])
        [first] = await taker.take(1)
        await first.ack()
        await asyncio.to_thread(server.__exit__, None, None, None)
        server = nats_server(home, port=port, mqtt_port=mqtt_port)  # the same store: the stream is kept
        await asyncio.to_thread(server.__enter__)
        await publish(url, ["city.b"])
        [second] = await taker.take(1, seconds=20)
        assert second.name == "city.b" and second.metadata["sequence"] == 2
        await second.ack()
        await taker.close()

    try:
        asyncio.run(main())
    finally:
        server.__exit__(None, None, None)


# ---- devices speaking MQTT


async def mqtt_readings(port: int, topics: list[str]) -> None:
    """QoS 1 publishes, MQTT 3.1.1 (what the NATS MQTT listener speaks), each answered by a PUBACK."""
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier=f"dev-{uuid.uuid4().hex[:6]}", protocol=aiomqtt.ProtocolVersion.V311
    ) as client:
        for number, topic in enumerate(topics):
            payload = orjson.dumps({"t": number, "time": f"2026-11-25T10:{number:02d}:00Z"})
            await client.publish(topic, payload, qos=1)


async def through_a_feed(tmp_path: Path, source: JetStreamSource, mapping: Mapping, count: int) -> list[Any]:
    """Run a feed from ``source`` into an outbox until ``count`` entities are stored; the entities."""
    outbox = open_outbox(tmp_path / "state", sinks=("broker",))
    runner = FeedRunner("sensors", source, mapping, outbox)
    task = asyncio.create_task(runner.run())
    try:
        for _ in range(200):
            if runner.stats.stored >= count:
                break
            await asyncio.sleep(0.05)
        await runner.stop()
        await asyncio.wait_for(task, 10)
        claimed = await outbox.claim("broker", limit=1000, lease=60)
        return [item.entity for item in claimed]
    finally:
        await outbox.close()


def test_mqtt_devices_reach_the_feed_through_the_nats_mqtt_listener(
    nats_broker: tuple[str, int], tmp_path: Path, make_mapping: Callable[[str], Mapping]
) -> None:
    url, mqtt_port = nats_broker
    stream, prefix = names()

    async def main() -> None:
        # The stream must exist before the devices publish: a subject no stream listens to is stored nowhere.
        creating = await Taker(
            JetStreamSource(url, [f"{prefix}.*device.attrs"], stream=stream, durable="w")
        ).ready()
        await creating.close()
        await mqtt_readings(mqtt_port, [f"{prefix}/s{n}/attrs" for n in range(5)])
        source = JetStreamSource(url, [f"{prefix}.*device.attrs"], stream=stream, durable="w")
        entities = await through_a_feed(tmp_path, source, make_mapping(SENSOR_MAPPING), 5)
        assert sorted(e["id"] for e in entities) == [
            f"urn:ngsi-ld:WeatherObserved:santander:s{n}" for n in range(5)
        ]
        assert source.acked == 5

    asyncio.run(main())


def test_a_mosquitto_bridge_forwards_devices_to_the_stream(
    nats_broker: tuple[str, int], tmp_path: Path
) -> None:
    url, mqtt_port = nats_broker
    stream, prefix = names()
    bridge = (BRIDGE.replace("NATS_MQTT_PORT", str(mqtt_port)).replace("PREFIX", prefix)
              .replace("BRIDGE_ID", f"bridge-{prefix}"))  # fmt: skip

    async def main(mosquitto: tuple[str, int]) -> None:
        taker = await Taker(
            JetStreamSource(url, [f"{prefix}.*device.attrs"], stream=stream, durable="w")
        ).ready()
        async with aiomqtt.Client(*mosquitto) as device:  # MQTT 5 to Mosquitto; the bridge speaks 3.1.1
            for number in range(5):
                await device.publish(f"{prefix}/s{number}/attrs", b"{}", qos=1)
        taken = await taker.take(5, seconds=20)
        assert sorted(m.metadata["device"] for m in taken) == [f"s{n}" for n in range(5)]
        for message in taken:
            await message.ack()
        await taker.close()

    home = tmp_path / "mosquitto"
    home.mkdir()
    with mosquitto_server(home, settings=bridge) as mosquitto:
        asyncio.run(main(mosquitto))


# The bridge of docs/sources.md, as the test runs it (NATS_MQTT_PORT, PREFIX and BRIDGE_ID filled in).
BRIDGE = """
connection nats
address 127.0.0.1:NATS_MQTT_PORT
bridge_protocol_version mqttv311
try_private false
cleansession false
remote_clientid BRIDGE_ID
topic PREFIX/# out 1
"""
