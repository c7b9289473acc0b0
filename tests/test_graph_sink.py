"""The city graph drains the outbox like the broker does: its own cursor, retries, dead letters."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from contextbridge import (
    Drainer,
    DrainSettings,
    GraphSink,
    GraphStoreError,
    RetryPolicy,
    UpdatePolicy,
    open_outbox,
    open_store,
)
from contextbridge.entities.updates import REPLACE
from contextbridge.sinks.graph import EmbeddedStore, UpsertReport

FAST = RetryPolicy(initial=0.001, maximum=0.01, jitter=0.001)
COUNT_SENSORS = (
    "SELECT (COUNT(?s) AS ?n) WHERE { ?s a <https://uri.etsi.org/ngsi-ld/default-context/Sensor> }"
)


def sensor(number: int, value: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Sensor:{number}",
        "type": "Sensor",
        "reading": {"type": "Property", "value": value},
    }


async def readings(store: EmbeddedStore) -> dict[str, float]:
    result = await store.query(
        "SELECT ?s ?v WHERE { ?s <https://uri.etsi.org/ngsi-ld/default-context/reading> ?r . "
        "?r <https://uri.etsi.org/ngsi-ld/hasValue> ?v }"
    )
    return {str(row[0].value): float(row[1].value) for row in result.rows}  # type: ignore[union-attr]


def test_the_graph_drains_its_own_cursor_and_holds_the_latest_state(tmp_path: Path) -> None:
    async def main() -> None:
        outbox = open_outbox(tmp_path / "state", sinks=("broker", "graph"))
        store = EmbeddedStore()
        try:
            for version in range(3):  # three versions waiting: only the latest reaches the graph
                await outbox.put([sensor(n, n + version / 10) for n in range(50)], feed="sensors")
            stats = await Drainer(outbox, GraphSink(store, batch_size=7), DrainSettings(sink="graph")).run()
            assert stats.delivered == 50 and stats.dead_lettered == 0
            assert await readings(store) == {f"urn:ngsi-ld:Sensor:{n}": n + 0.2 for n in range(50)}
            assert await outbox.pending("graph") == 0
            assert await outbox.pending("broker") == 50  # the broker's cursor has not moved
        finally:
            await store.close()
            await outbox.close()

    asyncio.run(main())


class RefusingStore(EmbeddedStore):
    """An embedded store that refuses, as a whole, any batch holding one of ``bad``."""

    def __init__(self, bad: set[str]) -> None:
        super().__init__()
        self.bad = bad
        self.calls = 0

    async def upsert(
        self,
        entities: Iterable[Mapping[str, Any]],
        *,
        tenant: str | None = None,
        policy: UpdatePolicy = REPLACE,
    ) -> UpsertReport:
        self.calls += 1
        entities = list(entities)
        if self.bad & {entity["id"] for entity in entities}:
            raise GraphStoreError("the store refused the update")
        return await super().upsert(entities, tenant=tenant, policy=policy)


def test_a_refused_batch_is_halved_until_the_culprit_stands_alone(tmp_path: Path) -> None:
    async def main() -> None:
        outbox = open_outbox(tmp_path / "state", sinks=("graph",))
        store = RefusingStore({"urn:ngsi-ld:Sensor:13"})
        try:
            await outbox.put([sensor(n, n) for n in range(32)])
            stats = await Drainer(outbox, GraphSink(store, batch_size=32), DrainSettings(sink="graph")).run()
            assert (stats.delivered, stats.dead_lettered) == (31, 1)
            assert len(await readings(store)) == 31
            [letter] = await outbox.dead_letters(sink="graph")
            assert letter.entity_id == "urn:ngsi-ld:Sensor:13"
            assert "the store refused the update" in letter.reason["detail"]
            assert store.calls <= 1 + 2 * 5  # a bisection, not one request per entity
        finally:
            await store.close()
            await outbox.close()

    asyncio.run(main())


def test_an_unreachable_graph_store_keeps_the_entities_waiting(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        outbox = open_outbox(tmp_path / "state", sinks=("graph",))
        try:
            await outbox.put([sensor(n, n) for n in range(10)])
            down = open_store(endpoint=f"http://127.0.0.1:{port}/query")
            try:
                settings = DrainSettings(sink="graph", retry=RetryPolicy(initial=0.001, jitter=0, attempts=3))
                stats = await Drainer(outbox, GraphSink(down), settings).run()
            finally:
                await down.close()
            assert stats.delivered == 0 and stats.retries == 2 and stats.last_error
            assert await outbox.pending("graph") == 10  # nothing lost: the next run delivers them
            store = EmbeddedStore()
            try:
                again = await Drainer(outbox, GraphSink(store), DrainSettings(sink="graph", retry=FAST)).run()
                assert again.delivered == 10 and len(await readings(store)) == 10
            finally:
                await store.close()
        finally:
            await outbox.close()

    asyncio.run(main())


def test_an_entity_the_store_cannot_hold_is_dead_lettered_alone(tmp_path: Path) -> None:
    async def main() -> None:
        outbox = open_outbox(tmp_path / "state", sinks=("graph",))
        store = EmbeddedStore()
        try:
            bad = {
                **sensor(3, 3),
                "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:\ufff0"},
            }
            await outbox.put([sensor(n, n) for n in range(3)] + [bad] + [sensor(n, n) for n in range(4, 8)])
            stats = await Drainer(outbox, GraphSink(store), DrainSettings(sink="graph", retry=FAST)).run()
            assert (stats.delivered, stats.dead_lettered) == (7, 1)
            [letter] = await outbox.dead_letters(sink="graph")
            assert letter.entity_id == "urn:ngsi-ld:Sensor:3" and "refused" in letter.reason["detail"]
        finally:
            await store.close()
            await outbox.close()

    asyncio.run(main())
