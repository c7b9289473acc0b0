"""The adapter: feeds into the outbox, one drainer per sink out of it, and the metrics of it all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import orjson
from broker_double import BrokerDouble
from prometheus_client import generate_latest
from test_feeds import SENSOR_MAPPING, reading

from contextbridge import (
    Adapter,
    BrokerClient,
    DrainSettings,
    FeedRunner,
    GraphSink,
    Mapping,
    RetryPolicy,
    load_mapping,
    open_outbox,
)
from contextbridge.runtime.metrics import adapter_registry
from contextbridge.sinks.graph import EmbeddedStore
from contextbridge.sources import FileSource, MqttSource

ROOT = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(initial=0.001, maximum=0.01, jitter=0.001)


def metric(text: str, name: str, **labels: str) -> float:
    wanted = "contextbridge_" + name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{wanted} not in the metrics")


def test_once_the_feeds_run_to_their_end_and_every_sink_gets_everything(tmp_path: Path) -> None:
    double = BrokerDouble()

    async def main() -> None:
        outbox = open_outbox(tmp_path / "state", sinks=("broker", "graph"))
        store = EmbeddedStore()
        feeds = [
            FeedRunner(
                name,
                FileSource(f"examples/santander/{data}", base_dir=ROOT),
                load_mapping(ROOT / f"mappings/santander-{name}.yaml"),
                outbox,
            )
            for name, data in (("parking", "parking.json"), ("streetlights", "streetlights.xml"))
        ]
        try:
            async with BrokerClient("http://orion", transport=double.transport()) as broker:
                settings = {name: DrainSettings(sink=name, retry=FAST) for name in ("broker", "graph")}
                adapter = Adapter(
                    outbox, feeds, {"broker": broker, "graph": GraphSink(store)}, settings=settings
                )
                await adapter.run(once=True)
            assert len(double.entities("")) == 48 + 15
            total = await store.query(
                "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o "
                "FILTER(STRSTARTS(STR(?s), 'urn:ngsi-ld:') && !CONTAINS(STR(?s), '/.well-known/genid/')) }"
            )
            assert int(total.rows[0][0].value) == 48 + 15  # type: ignore[union-attr]
            text = generate_latest(adapter_registry(adapter, feeds=True)).decode()
            assert metric(text, "entities_produced_total", feed="parking") == 48
            assert metric(text, "records_rejected_total", feed="streetlights", reason="transform estado") == 1
            assert metric(text, "entities_delivered_total", sink="broker") == 63
            assert metric(text, "entities_delivered_total", sink="graph") == 63
            assert metric(text, "delivery_latency_seconds_count", sink="broker") == 63
            assert metric(text, "delivery_latency_seconds_bucket", le="+Inf", sink="broker") == 63
            assert 0 < metric(text, "delivery_latency_seconds_sum", sink="graph") < 63 * 30
            assert metric(text, "outbox_pending", sink="broker") == 0
            assert metric(text, "outbox_delivered_total", sink="graph") == 63
            assert metric(text, "outbox_superseded_total", sink="graph") == 0
            assert metric(text, "dead_letters", sink="translate") == 3
        finally:
            await store.close()
            await outbox.close()

    asyncio.run(main())


def test_stopping_during_a_burst_loses_nothing_taken(
    tmp_path: Path, make_mapping: Callable[[str], Mapping], mqtt_broker: tuple[str, int]
) -> None:
    """Stop while messages pour in: every message acked to Mosquitto is in the outbox or delivered."""
    host, port = mqtt_broker
    base = f"contextbridge-test/{uuid.uuid4().hex}"
    double = BrokerDouble()

    async def main() -> None:
        outbox = open_outbox(tmp_path / "state", sinks=("broker",))
        source = MqttSource(f"mqtt://{host}:{port}", [f"{base}/+device/attrs"], qos=1)
        feed = FeedRunner("sensors", source, make_mapping(SENSOR_MAPPING), outbox, batch_size=100)
        try:
            async with BrokerClient("http://orion", transport=double.transport()) as broker:
                adapter = Adapter(
                    outbox, [feed], {"broker": broker}, settings={"broker": DrainSettings(retry=FAST)}
                )
                running = asyncio.create_task(adapter.run())
                await asyncio.sleep(0.5)
                async with aiomqtt.Client(host, port) as client:
                    for number in range(3000):
                        await client.publish(f"{base}/s{number}/attrs", reading(number), qos=1)
                        if number == 1500:
                            await adapter.stop()
                await asyncio.wait_for(running, 20)
            taken = feed.stats.messages
            assert 0 < taken < 3000 and feed.stats.stored == taken
            delivered = set(double.entities(""))
            waiting = {entry.entity_id for entry in await outbox.claim("broker", limit=10_000, lease=60)}
            assert len(delivered | waiting) == taken and not delivered & waiting
        finally:
            await outbox.close()

    asyncio.run(main())


def test_metrics_name_every_feed_even_before_its_first_message(tmp_path: Path) -> None:
    async def main() -> None:
        outbox = open_outbox(tmp_path / "state")
        try:
            source = FileSource("nothing-here/*.json", base_dir=tmp_path)
            feed = FeedRunner("empty", source, load_mapping(ROOT / "mappings/santander-parking.yaml"), outbox)
            adapter = Adapter(outbox, [feed], {})
            await adapter.run(once=True)
            text = generate_latest(adapter_registry(adapter, feeds=True)).decode()
            assert metric(text, "messages_received_total", feed="empty") == 0
            summed = generate_latest(adapter_registry(adapter)).decode()  # no feed ids unless asked
            assert metric(summed, "messages_received_total", feed="*") == 0 and "empty" not in summed
        finally:
            await outbox.close()

    asyncio.run(main())


def test_logs_are_one_json_object_per_line_with_the_feed() -> None:
    import logging

    from contextbridge.runtime.logs import JsonFormatter

    record = logging.LogRecord(
        "contextbridge.runtime.feedrunner", logging.WARNING, __file__, 1, "%d rejected", (3,), None
    )
    record.feed, record.record = "parking", 12
    line = orjson.loads(JsonFormatter().format(record))
    assert line["message"] == "3 rejected" and line["level"] == "warning"
    assert (line["feed"], line["record"]) == ("parking", 12) and line["time"].endswith("Z")
