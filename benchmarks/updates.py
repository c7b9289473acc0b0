"""The cost of partial versions (merge) and of history, against whole states (replace), in one run.

    $ python benchmarks/updates.py [--sensors 200] [--versions 12] [--runs 3] [--postgres URL] [--endpoint URL]

A feed of ``--sensors`` weather stations sends ``--versions`` readings each, one reading of every
station per write (as a feed's batches come). Three policies, measured on the same data:
- replace: each version is the whole state (temperature, humidity, pressure, location, device);
- merge:   each version carries one measured attribute, the others stay (a LoRaWAN frame);
- merge, whole: whole states sent as partial ones (the cost of merging itself, same data as replace);
- history: whole states, every version kept (delivered in turn, kept in the graph as observations).
Measured, entities per second (best of ``--runs``), with the ratio to replace of the same run:
- outbox (SQLite in a temporary directory, PostgreSQL with ``--postgres``): ``put`` of every write,
  then the drain of the queue into a sink that takes everything at once (claim, hand out, ack: the
  outbox's and the drainer's own cost). Replace and merge leave one version per station waiting
  (superseded or merged), history all of them;
- graph (the embedded store, on disk; an ``oxigraph serve`` with ``--endpoint``): ``upsert`` of the
  writes, one batch per write, as the graph's drainer sends them.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from delivery import NullSink  # noqa: E402  (a sink that takes everything at once)
from harness import Measure, table  # noqa: E402

from contextbridge.delivery.drainer import Drainer, DrainSettings  # noqa: E402
from contextbridge.entities.updates import REPLACE, UpdatePolicy  # noqa: E402
from contextbridge.outbox import Outbox, open_outbox  # noqa: E402
from contextbridge.sinks.graph import EmbeddedStore, EndpointStore, GraphStore  # noqa: E402

MERGE = UpdatePolicy(merge=True)
# name → (policy, partial versions): "merge, whole" isolates the cost of merging from the smaller data
POLICIES = {
    "replace": (REPLACE, False),
    "merge": (MERGE, True),
    "merge, whole": (MERGE, False),
    "history": (UpdatePolicy(history=True), False),
}
MEASURED = ("temperature", "relativeHumidity", "atmosphericPressure")


def reading(station: int, version: int, *, partial: bool) -> dict[str, Any]:
    at = f"2024-11-14T{version // 60:02d}:{version % 60:02d}:00Z"
    entity: dict[str, Any] = {"id": f"urn:ngsi-ld:WeatherObserved:bench:{station}", "type": "WeatherObserved"}
    values = {
        "temperature": 10 + version * 0.1,
        "relativeHumidity": 0.5 + version / 1000,
        "atmosphericPressure": 1000.0 + version,
    }
    names = (MEASURED[version % 3],) if partial else MEASURED
    for name in names:
        entity[name] = {"type": "Property", "value": values[name] + station / 1000, "observedAt": at}
    if not partial:
        entity["location"] = {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [-3.8, 43.46 + station / 1e5]},
        }
        entity["refDevice"] = {"type": "Relationship", "object": f"urn:ngsi-ld:Device:bench:{station}"}
    return entity


def writes(sensors: int, versions: int, partial: bool) -> list[list[dict[str, Any]]]:
    return [[reading(s, v, partial=partial) for s in range(sensors)] for v in range(versions)]


async def outbox_pass(
    location: Callable[[], str], data: list[list[dict[str, Any]]], policy: UpdatePolicy
) -> tuple[float, float, int]:
    """Seconds to put every write, seconds to drain, entries drained."""
    outbox: Outbox = open_outbox(location(), schema=f"bench_{uuid.uuid4().hex[:8]}")
    try:
        started = time.perf_counter()
        for write in data:
            await outbox.put(write, policy=policy, feed="bench")
        put = time.perf_counter() - started
        pending = await outbox.pending("broker")
        started = time.perf_counter()
        await Drainer(outbox, NullSink(), DrainSettings(batch_size=200, concurrency=4)).run()
        return put, time.perf_counter() - started, pending
    finally:
        await outbox.close()


async def graph_pass(
    make: Callable[[], GraphStore], data: list[list[dict[str, Any]]], policy: UpdatePolicy
) -> float:
    store = make()
    try:
        await store.clear()
        store.converter.table_of(data[0][0])  # type: ignore[attr-defined]  # built once per store: not timed
        started = time.perf_counter()
        for write in data:
            await store.upsert(write, policy=policy)
        return time.perf_counter() - started
    finally:
        await store.close()


async def best(runs: int, measure: Callable[[], Awaitable[Any]]) -> Any:
    results = [await measure() for _ in range(runs)]
    return min(results, key=lambda found: found if isinstance(found, float) else found[0] + found[1])


def report(title: str, measures: dict[str, Measure]) -> None:
    others = [measure for name, measure in measures.items() if name != "replace"]
    print(table(title, others, baseline=measures["replace"]) + "\n")


async def main(sensors: int, versions: int, runs: int, postgres: str | None, endpoint: str | None) -> None:
    data = {name: writes(sensors, versions, partial) for name, (_, partial) in POLICIES.items()}
    total = sensors * versions
    print(f"{sensors} stations × {versions} versions = {total:,} entities per policy; best of {runs}\n")
    with tempfile.TemporaryDirectory() as scratch:
        backends: dict[str, Callable[[], str]] = {"SQLite": lambda: str(Path(scratch) / uuid.uuid4().hex)}
        if postgres:
            backends["PostgreSQL"] = lambda: postgres
        for backend, location in backends.items():
            puts, drains = {}, {}
            for name, (policy, _) in POLICIES.items():
                put, drain, pending = await best(
                    runs, functools.partial(outbox_pass, location, data[name], policy)
                )
                puts[name] = Measure(f"{name}: put", total, put)
                drains[name] = Measure(f"{name}: drain ({pending:,} waiting)", pending, drain)
            report(f"outbox, {backend}: put (entities/s)", puts)
            report(f"outbox, {backend}: drain (entries/s)", drains)
        stores: dict[str, Callable[[], GraphStore]] = {
            "embedded": lambda: EmbeddedStore(Path(scratch) / "graph" / uuid.uuid4().hex)
        }
        if endpoint:
            stores["oxigraph serve"] = lambda: EndpointStore(endpoint, timeout=300)
        for label, make in stores.items():
            graph = {}
            for name, (policy, _) in POLICIES.items():
                seconds = await best(runs, functools.partial(graph_pass, make, data[name], policy))
                graph[name] = Measure(f"{name}: upsert", total, seconds)
            report(f"graph, {label}: upsert (entities/s)", graph)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--versions", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL URL for the outbox (a schema per pass)")
    parser.add_argument("--endpoint", help="an oxigraph serve query URL (its graphs are cleared)")
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.sensors, arguments.versions, arguments.runs, arguments.postgres, arguments.endpoint)
    )
