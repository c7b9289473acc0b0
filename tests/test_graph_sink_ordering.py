"""The city graph never goes back in time either: an older version than the state it holds is
refused as stale, or, with history, only recorded in the history graph (in time order)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from contextbridge import Drainer, DrainSettings, GraphSink, RetryPolicy, UpdatePolicy, open_outbox
from contextbridge.outbox import DeadLetterFilter
from contextbridge.outbox.ordering import STALE
from contextbridge.sinks.graph import EmbeddedStore
from contextbridge.sinks.graph.sink import EntityBatch

FAST = RetryPolicy(initial=0.001, maximum=0.01, jitter=0.001)
HISTORY = UpdatePolicy(history=True)
READING = "<https://uri.etsi.org/ngsi-ld/default-context/reading>"
VALUE = "<https://uri.etsi.org/ngsi-ld/hasValue>"


def sensor(number: int, minute: int, *, dated: bool = False) -> dict[str, Any]:
    moment = f"2026-11-25T10:{minute:02d}:00Z"
    entity: dict[str, Any] = {"id": f"urn:ngsi-ld:Sensor:{number}", "type": "Sensor"}
    if dated:  # the time as a dateObserved attribute instead
        entity["reading"] = {"type": "Property", "value": minute}
        entity["dateObserved"] = {"type": "Property", "value": moment}
    else:
        entity["reading"] = {"type": "Property", "value": minute, "observedAt": moment}
    return entity


async def state(store: EmbeddedStore) -> dict[str, int]:
    result = await store.query(f"SELECT ?s ?v WHERE {{ ?s {READING} ?r . ?r {VALUE} ?v }}")
    return {str(row[0].value): int(row[1].value) for row in result.rows}  # type: ignore[union-attr]


async def history(store: EmbeddedStore) -> list[int]:
    result = await store.query(
        "SELECT ?v WHERE { GRAPH ?g { ?o <http://www.w3.org/ns/sosa/hasSimpleResult> ?v ; "
        "<http://www.w3.org/ns/sosa/resultTime> ?t } } ORDER BY ?t"
    )
    return [int(row[0].value) for row in result.rows]  # type: ignore[union-attr]


def test_an_older_version_is_refused_as_stale_and_the_state_kept() -> None:
    async def main() -> None:
        store = EmbeddedStore()
        sink = GraphSink(store)
        try:
            await sink.upsert(EntityBatch([sensor(1, 10), sensor(2, 10, dated=True)]))
            result = await sink.upsert(EntityBatch([sensor(1, 5), sensor(2, 5, dated=True), sensor(3, 1)]))
            assert set(result.success) == {"urn:ngsi-ld:Sensor:3"}
            assert {f.entity_id: f.problem["type"] for f in result.errors} == {
                "urn:ngsi-ld:Sensor:1": STALE,
                "urn:ngsi-ld:Sensor:2": STALE,
            }
            assert await state(store) == {"urn:ngsi-ld:Sensor:1": 10, "urn:ngsi-ld:Sensor:2": 10,
                                          "urn:ngsi-ld:Sensor:3": 1}  # fmt: skip
            # equal or newer: written
            assert (await sink.upsert(EntityBatch([sensor(1, 10), sensor(2, 11, dated=True)]))).errors == ()
            assert (await state(store))["urn:ngsi-ld:Sensor:2"] == 11
        finally:
            await store.close()

    asyncio.run(main())


def test_with_history_an_older_version_goes_into_history_only() -> None:
    async def main() -> None:
        store = EmbeddedStore()
        sink = GraphSink(store)
        try:
            await sink.upsert(EntityBatch([sensor(1, 10)]), policy=HISTORY)
            result = await sink.upsert(EntityBatch([sensor(1, 5)]), policy=HISTORY)
            assert (result.success, result.errors) == (("urn:ngsi-ld:Sensor:1",), ())
            assert await state(store) == {"urn:ngsi-ld:Sensor:1": 10}
            assert await history(store) == [5, 10]  # in time order, though it came late
        finally:
            await store.close()

    asyncio.run(main())


def test_a_forced_replay_of_an_older_version_is_kept_stale_by_the_graph(tmp_path: Path) -> None:
    """The outbox keeps an older version as stale; forced back into the queue, the graph (which
    holds a newer state) refuses it as stale again, and the outbox counts it so."""

    async def main() -> None:
        store = EmbeddedStore()
        outbox = open_outbox(tmp_path / "state", sinks=("graph",))
        drain = Drainer(outbox, GraphSink(store), DrainSettings(sink="graph", retry=FAST))
        try:
            await outbox.put([sensor(1, 10)])
            await drain.run()
            assert (await outbox.put([sensor(1, 5)])).stale == 1
            assert (await outbox.replay(force=True)).replayed == 1
            await drain.run()
            assert await state(store) == {"urn:ngsi-ld:Sensor:1": 10}
            (letter,) = await outbox.dead_letters(where=DeadLetterFilter(type=STALE))
            assert letter.data["reading"]["value"] == 5
            (status,) = await outbox.status()
            assert (status.delivered, status.stale, status.dead_lettered) == (1, 2, 0)
        finally:
            await outbox.close()
            await store.close()

    asyncio.run(main())


def test_a_late_history_version_reaches_the_graphs_history_and_not_the_broker(tmp_path: Path) -> None:
    async def main() -> None:
        store = EmbeddedStore()
        outbox = open_outbox(tmp_path / "state", sinks=("broker", "graph"))
        drain = Drainer(outbox, GraphSink(store), DrainSettings(sink="graph", retry=FAST))
        try:
            await outbox.put([sensor(1, 10)], policy=HISTORY)
            await drain.run()
            await outbox.ack("broker", await outbox.claim("broker", limit=10, lease=60))
            result = await outbox.put([sensor(1, 5)], policy=HISTORY)  # came late
            assert (result.queued, result.unchanged) == (1, 1)  # for the graph; the broker has newer
            assert await outbox.pending("broker") == 0
            await drain.run()
            assert await state(store) == {"urn:ngsi-ld:Sensor:1": 10}
            assert await history(store) == [5, 10]
        finally:
            await outbox.close()
            await store.close()

    asyncio.run(main())
