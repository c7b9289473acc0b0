"""Chaos, feed side: the connection between contextbridge's MQTT source and Mosquitto
(the test session's Mosquitto, through a loopback TCP proxy that resets it and refuses new ones for a while) is
cut again and again in the middle of a burst of QoS 1 messages, published straight to Mosquitto.

MQTT decides what survives a cut (MQTT 5 §4.1, §4.4): with a session that outlives the connection
(a fixed client id and a session expiry), Mosquitto keeps every QoS 1 message for the session while
it is away and sends again what was not acknowledged, so every message reaches Orion-LD and the
graph, exactly. With a clean session (the defaults) the subscription ends with the connection: what
is published while it is down is for no one, and exactly those messages are missing."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
from broker_double import BrokerDouble
from chaos.pipeline import Pipeline, translated
from chaos.profile import scale
from chaos.proxy import TcpProxy
from chaos.seeds import reported, seeds
from chaos.state import assert_broker, assert_graph
from test_feeds import SENSOR_MAPPING

from contextbridge import Mapping, RetryPolicy, load_mapping, open_outbox
from contextbridge.sources import MqttSource

MESSAGES, CUTS, ROUNDS = (
    scale(400, 900),
    scale(3, 8),
    scale(1, 3),
)  # under Mosquitto's 1,000 queued per session
QUICK = RetryPolicy(initial=0.05, maximum=0.5, jitter=0.05, attempts=None)


def message(base: str, number: int) -> tuple[str, bytes, dict[str, Any]]:
    """Message ``number``: its topic, payload and the metadata the source gives it (one device each)."""
    topic = f"{base}/s{number}/attrs"
    payload = orjson.dumps({"t": number / 10, "time": f"2026-11-25T10:{number % 60:02d}:00Z"})
    return topic, payload, {"topic": topic, "device": f"s{number}"}


def load(tmp_path: Path) -> Mapping:
    path = tmp_path / "sensors.yaml"
    path.write_text(SENSOR_MAPPING)
    return load_mapping(path)


def test_a_lasting_session_survives_every_cut_with_every_message(
    tmp_path: Path, mqtt_broker: tuple[str, int]
) -> None:
    for index, seed in enumerate(seeds("mqtt-cuts", rounds=ROUNDS)):
        with reported(seed):
            asyncio.run(
                asyncio.wait_for(
                    lasting(mqtt_broker, tmp_path / f"round-{index}", random.Random(seed)), scale(60, 600)
                )
            )


async def lasting(mqtt: tuple[str, int], state: Path, rng: random.Random) -> None:
    mapping = load(state.parent)
    base = f"contextbridge-chaos/{uuid.uuid4().hex}"
    double = BrokerDouble()
    during: list[int] = []  # published while the source was cut off
    with TcpProxy(mqtt) as proxy:
        source = MqttSource(
            f"mqtt://127.0.0.1:{proxy.port}", [f"{base}/+device/attrs"], qos=1,
            client_id=f"cb-chaos-{uuid.uuid4().hex[:8]}", session_expiry=600, backoff=QUICK,
        )  # fmt: skip
        outbox = open_outbox(state, sinks=("broker", "graph"))
        try:
            async with Pipeline(outbox, source, mapping, double) as pipeline:
                while source.subscribed < 1:
                    pipeline.check_alive()
                    await asyncio.sleep(0.02)

                async def cutter() -> None:
                    for _ in range(CUTS):  # each outage cuts a live session: the last one resumed first
                        await asyncio.sleep(rng.uniform(0.1, 0.5))
                        subscribed = source.subscribed
                        # The port closed (connection refused at once): with resets instead, a reconnection
                        # now and then waited for aiomqtt's 10 s CONNACK timeout, too long for CI.
                        await asyncio.to_thread(proxy.outage, rng.uniform(0.1, 0.5), listening=False)
                        while source.subscribed == subscribed:
                            await asyncio.sleep(0.01)

                cutting = asyncio.create_task(cutter())
                async with aiomqtt.Client(*mqtt) as publisher:
                    for number in range(MESSAGES):
                        topic, payload, _ = message(base, number)
                        await publisher.publish(topic, payload, qos=1)
                        if proxy.refusing:
                            during.append(number)
                        await asyncio.sleep(rng.random() * 0.006)
                await cutting
                expected = translated(mapping, [message(base, n)[1:] for n in range(MESSAGES)])
                assert len(expected) == MESSAGES
                await pipeline.settle(lambda: len(double.entities()) >= MESSAGES, scale(30, 120))
                assert_broker(double, expected)
                await assert_graph(pipeline.store, expected)
            assert await outbox.dead_letters() == []
        finally:
            await outbox.close()
    print(f"cuts: {proxy.cuts}, connections: {source.connections}, published while cut off: {len(during)}")
    assert source.connections >= CUTS + 1, "the source connected again after each outage"
    assert during, "the cuts came after the burst"
    assert double.duplicate_ids == 0


def test_a_clean_session_misses_exactly_what_was_published_while_cut_off(
    tmp_path: Path, mqtt_broker: tuple[str, int]
) -> None:
    [seed] = seeds("mqtt-clean-session")[:1]
    with reported(seed):
        asyncio.run(asyncio.wait_for(clean(mqtt_broker, tmp_path, random.Random(seed)), 60))


async def clean(mqtt: tuple[str, int], state: Path, rng: random.Random) -> None:
    mapping = load(state)
    base = f"contextbridge-chaos/{uuid.uuid4().hex}"
    double = BrokerDouble()
    first, cut_off, second = range(0, 100), range(100, 150), range(150, 250)
    with TcpProxy(mqtt) as proxy:
        source = MqttSource(f"mqtt://127.0.0.1:{proxy.port}", [f"{base}/+device/attrs"], qos=1, backoff=QUICK)
        outbox = open_outbox(state / "state", sinks=("broker", "graph"))
        try:
            async with Pipeline(outbox, source, mapping, double) as pipeline:

                async def publish(numbers: range) -> None:
                    async with aiomqtt.Client(*mqtt) as publisher:
                        for number in numbers:  # each one acknowledged by Mosquitto (PUBACK) before the next
                            topic, payload, _ = message(base, number)
                            await publisher.publish(topic, payload, qos=1)
                            await asyncio.sleep(rng.random() * 0.004)

                while source.subscribed < 1:
                    await asyncio.sleep(0.02)
                await publish(first)
                await pipeline.settle(lambda: len(double.entities()) == len(first), 20)
                proxy.refuse(True, listening=False)
                proxy.cut()
                await publish(cut_off)  # Mosquitto has them; no session is there to take them
                await asyncio.sleep(rng.uniform(0.1, 0.3))
                proxy.refuse(False)
                while source.subscribed < 2:
                    pipeline.check_alive()
                    await asyncio.sleep(0.02)
                await publish(second)
                delivered = [*first, *second]
                expected = translated(mapping, [message(base, n)[1:] for n in delivered])
                await pipeline.settle(lambda: len(double.entities()) >= len(delivered), 20)
                await asyncio.sleep(0.3)  # time for a message that should not come to come all the same
                await pipeline.settle(lambda: True, 5)
                assert_broker(double, expected)
                await assert_graph(pipeline.store, expected)
            assert await outbox.dead_letters() == []
        finally:
            await outbox.close()
    assert source.connections == 2
