"""A feed at work: source messages translated into the outbox, acked only once stored."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from contextbridge import FeedRunner, Mapping, Outbox, load_mapping, open_outbox
from contextbridge.sources import FileSource, Message, MqttSource

ROOT = Path(__file__).resolve().parent.parent
SENSOR_MAPPING = """
    id: mqtt-sensors
    source: {format: json}
    entities:
      - id: "urn:ngsi-ld:WeatherObserved:santander:{_source.device}"
        type: WeatherObserved
        observedAt: {from: time, format: iso8601}
        attributes:
          temperature: {from: t, cast: float, unitCode: CEL}
"""


async def pending(outbox: Outbox) -> int:
    return await outbox.pending("broker")


def test_a_file_feed_puts_every_entity_and_every_reject_in_the_outbox(tmp_path: Path) -> None:
    async def main() -> None:
        outbox = open_outbox(tmp_path / "state")
        source = FileSource("examples/santander/parking.json", base_dir=ROOT)
        runner = FeedRunner("parking", source, load_mapping(ROOT / "mappings/santander-parking.yaml"), outbox)
        try:
            stats = await runner.run()
            assert stats.messages == 1 and runner.translation.entities == stats.stored == 48
            assert await pending(outbox) == 48  # 24 spots and their 24 devices
            letters = await outbox.dead_letters(sink="translate")
            assert [letter.feed for letter in letters] == ["parking", "parking"]
        finally:
            await outbox.close()

    asyncio.run(main())


class Listed:
    """A source of prepared messages that records what became of each."""

    kind = "test"

    def __init__(self, payloads: list[bytes]) -> None:
        self.payloads = payloads
        self.acked: list[str] = []
        self.nacked: list[str] = []

    async def messages(self) -> AsyncIterator[Message]:
        for number, payload in enumerate(self.payloads):
            name = f"m{number}"

            async def ack(name: str = name) -> None:
                self.acked.append(name)

            async def nack(error: BaseException, name: str = name) -> None:
                self.nacked.append(name)

            yield Message(name, {"device": f"d{number}"}, payload, _ack=ack, _nack=nack)

    async def close(self) -> None:
        pass


def reading(value: float) -> bytes:
    return orjson.dumps({"t": value, "time": "2026-11-25T10:00:00Z"})


def test_messages_are_acked_once_stored_and_nacked_when_the_outbox_fails(
    tmp_path: Path, make_mapping: Callable[[str], Mapping], caplog: pytest.LogCaptureFixture
) -> None:
    mapping = make_mapping(SENSOR_MAPPING)

    class BrokenOutbox:
        async def put(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("No space left on device")

        async def reject(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("No space left on device")

    async def main() -> None:
        outbox = open_outbox(tmp_path / "state")
        try:
            good = Listed([reading(n) for n in range(5)] + [b"{broken json"])
            await FeedRunner("sensors", good, mapping, outbox).run()
            assert good.acked == [f"m{n}" for n in range(6)] and not good.nacked  # the reject is stored too
            assert await pending(outbox) == 5
            assert len(await outbox.dead_letters(sink="translate")) == 1
            [logged] = [r for r in caplog.records if r.getMessage().startswith("record rejected")]
            assert (logged.feed, logged.source, logged.record) == ("sensors", "m5", 1)  # type: ignore[attr-defined]
        finally:
            await outbox.close()
        bad = Listed([reading(1), reading(2)])
        runner = FeedRunner("sensors", bad, mapping, BrokenOutbox())  # type: ignore[arg-type]
        await runner.run()
        assert bad.nacked == ["m0", "m1"] and not bad.acked and runner.stats.store_failures == 1

    asyncio.run(main())


def test_mqtt_messages_reach_the_outbox_with_their_topic_levels(
    tmp_path: Path, make_mapping: Callable[[str], Mapping], mqtt_broker: tuple[str, int]
) -> None:
    host, port = mqtt_broker
    base = f"contextbridge-test/{uuid.uuid4().hex}"
    count = 2000

    async def main() -> None:
        outbox = open_outbox(tmp_path / "state")
        source = MqttSource(f"mqtt://{host}:{port}", [f"{base}/+device/attrs"], qos=1)
        runner = FeedRunner("sensors", source, make_mapping(SENSOR_MAPPING), outbox, batch_size=200)
        task = asyncio.create_task(runner.run())
        try:
            await asyncio.sleep(0.5)  # subscribed
            async with aiomqtt.Client(host, port) as client:
                for number in range(count):
                    await client.publish(f"{base}/sensor-{number}/attrs", reading(number / 10), qos=1)
            for _ in range(200):
                if await pending(outbox) == count:
                    break
                await asyncio.sleep(0.05)
            await runner.stop()
            await asyncio.wait_for(task, 10)
            assert await pending(outbox) == count
            assert runner.stats.messages == count and runner.stats.stored == count
            batch = await outbox.claim("broker", limit=count, lease=60)
            ids = {entry.entity_id for entry in batch}
            assert ids == {f"urn:ngsi-ld:WeatherObserved:santander:sensor-{n}" for n in range(count)}
        finally:
            task.cancel()
            await outbox.close()

    asyncio.run(main())


def test_a_slow_consumer_pauses_reading_instead_of_filling_memory(mqtt_broker: tuple[str, int]) -> None:
    """While nothing is taken, at most a thousand messages (BUFFERED) wait in the process; none is lost."""

    host, port = mqtt_broker
    base = f"contextbridge-test/{uuid.uuid4().hex}"
    count = 1500  # beyond the buffer, within what the stock Mosquitto queues for a client (1,000 more)

    async def main() -> None:
        source = MqttSource(f"mqtt://{host}:{port}", [f"{base}/+device/attrs"], qos=1, receive_maximum=65535)
        messages = source.messages()
        async with aiomqtt.Client(host, port) as client:
            first = asyncio.ensure_future(anext(messages))
            await asyncio.sleep(0.5)  # subscribed
            await asyncio.gather(
                *(client.publish(f"{base}/s{n}/attrs", reading(n), qos=1) for n in range(count))
            )
            taken = [await first]
            await asyncio.sleep(1.0)  # the consumer dawdles: the source's buffer fills and reading stops
            assert source._client is not None
            assert len(source._client.messages) <= 1000  # not all 1,499
            while len(taken) < count:
                taken.append(await asyncio.wait_for(anext(messages), 5))
                await taken[-1].ack()
        await source.close()
        assert sorted(int(m.metadata["device"][1:]) for m in taken) == list(range(count))

    asyncio.run(main())
