"""One specification, every graph store: the embedded pyoxigraph store and a real Oxigraph server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from contextbridge import GraphStore, QueryBusy, QueryRefused, QueryTimeout
from contextbridge.sinks.graph import EmbeddedStore, EndpointStore, embedded, tenant_graph

SDM = Path(__file__).resolve().parent / "data" / "sdm"
WEATHER = json.loads(
    (SDM / "dataModel.Weather/WeatherObserved/examples/example-normalized.jsonld").read_text()
)
DEVICE = json.loads((SDM / "dataModel.Device/Device/examples/example-normalized.jsonld").read_text())
AIR = json.loads(
    (SDM / "dataModel.Environment/AirQualityObserved/examples/example-normalized.jsonld").read_text()
)
for _entity in (WEATHER, DEVICE, AIR):
    _entity.pop("@context", None)


@pytest.fixture(params=["embedded", "endpoint"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], GraphStore]:
    if request.param == "embedded":
        return lambda: EmbeddedStore(tmp_path / "graph")
    url = request.getfixturevalue("oxigraph_server")
    return lambda: EndpointStore(url)


def run(make_store: Callable[[], GraphStore], body: Callable[[GraphStore], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        store = make_store()
        try:
            await store.clear()
            await store.load_ontology()
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def with_temperature(value: float) -> dict[str, Any]:
    return {
        **WEATHER,
        "temperature": {"type": "Property", "value": value, "observedAt": "2024-05-01T10:00:00Z"},
    }


async def count(store: GraphStore, tenant: str | None = None) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{tenant_graph(tenant)}> {{ ?s ?p ?o }} }}"
    result = await store.query(query, tenant=tenant or "default")
    return int(result.rows[0][0].value)  # type: ignore[union-attr]


class TestGraphStore:
    def test_upsert_then_query(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(store: GraphStore) -> None:
            report = await store.upsert([WEATHER, DEVICE])
            assert report.upserted == 2 and not report.refused
            result = await store.query(
                "SELECT ?t WHERE { ?s <https://smartdatamodels.org/dataModel.Weather/temperature> ?a . "
                "?a <https://uri.etsi.org/ngsi-ld/hasValue> ?t }"
            )
            assert [float(row[0].value) for row in result.rows] == [3.3]  # type: ignore[union-attr]

        run(make_store, body)

    def test_an_entity_updated_ten_times_has_exactly_one_state(
        self, make_store: Callable[[], GraphStore]
    ) -> None:
        async def body(store: GraphStore) -> None:
            await store.upsert([DEVICE])
            await store.upsert([with_temperature(0)])
            once = await count(store)
            assert once > 60
            for value in range(1, 10):
                await store.upsert([with_temperature(value)])
            await store.upsert([with_temperature(99), with_temperature(10)])  # in one batch: the last wins
            assert await count(store) == once
            result = await store.query(
                "SELECT ?t WHERE { ?s <https://smartdatamodels.org/dataModel.Weather/temperature>/"
                "<https://uri.etsi.org/ngsi-ld/hasValue> ?t }"
            )
            assert [float(row[0].value) for row in result.rows] == [10]  # type: ignore[union-attr]
            # The related Device (refDevice) keeps every one of its triples.
            device = await store.query(f"ASK {{ <{DEVICE['id']}> ?p ?o }}")
            assert device.boolean is True

        run(make_store, body)

    def test_the_related_entity_is_untouched_by_an_update(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(store: GraphStore) -> None:
            linked = {**DEVICE, "id": WEATHER["refDevice"]["object"]}
            await store.upsert([linked])
            alone = await count(store)
            await store.upsert([WEATHER])
            with_weather = await count(store)
            await store.upsert([with_temperature(5)])
            await store.delete([WEATHER["id"]])
            assert await count(store) == alone
            assert with_weather > alone

        run(make_store, body)

    def test_an_update_keeps_the_node_names_and_changes_only_what_changed(
        self, make_store: Callable[[], GraphStore]
    ) -> None:
        async def body(store: GraphStore) -> None:
            await store.upsert([with_temperature(1)])
            nodes = "SELECT ?node WHERE { ?e ?attribute ?node FILTER(STRSTARTS(STR(?node), CONCAT(STR(?e), '/.well-known/genid/'))) }"
            before = {row[0] for row in (await store.query(nodes)).rows}
            await store.upsert([with_temperature(2)])
            after = {row[0] for row in (await store.query(nodes)).rows}
            assert before == after and len(after) > 3  # skolem IRIs: the same nodes, new values
            entities = tenant_graph(None)  # (the ontology has blank nodes of its own)
            blank = await store.query(
                f"ASK {{ GRAPH <{entities}> {{ ?s ?p ?o FILTER(isBlank(?s) || isBlank(?o)) }} }}"
            )
            assert blank.boolean is False
            fresh = EmbeddedStore()
            await fresh.upsert([with_temperature(2)])
            assert await count(store) == await count(fresh)
            await fresh.close()

        run(make_store, body)

    def test_delete(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(store: GraphStore) -> None:
            await store.upsert([WEATHER, AIR])
            await store.delete([WEATHER["id"], AIR["id"]])
            assert await count(store) == 0

        run(make_store, body)

    def test_tenants_are_named_graphs_of_their_own(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(store: GraphStore) -> None:
            await store.upsert([WEATHER], tenant="north")
            await store.upsert([AIR], tenant="south")
            ask = "ASK {{ <{}> ?p ?o }}"
            assert (await store.query(ask.format(WEATHER["id"]), tenant="north")).boolean is True
            assert (await store.query(ask.format(WEATHER["id"]), tenant="south")).boolean is False
            assert (await store.query(ask.format(AIR["id"]), tenant="south")).boolean is True
            other = f"SELECT * WHERE {{ GRAPH <{tenant_graph('north')}> {{ ?s ?p ?o }} }}"
            assert len(await store.query(other, tenant="south")) == 0
            assert len(await store.query(other, tenant=None)) > 0
            await store.clear(tenant="north")
            assert await count(store, "north") == 0
            assert await count(store, "south") > 0

        run(make_store, body)

    def test_subclass_queries_find_the_subclasses(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(store: GraphStore) -> None:
            await store.upsert([WEATHER, AIR, DEVICE])
            result = await store.query("SELECT ?s WHERE { ?s a <http://www.w3.org/ns/sosa/Observation> }")
            assert {row[0].value for row in result.rows} == {WEATHER["id"], AIR["id"]}  # type: ignore[union-attr]

        run(make_store, body)

    @pytest.mark.parametrize(
        "update",
        [
            "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
            "DELETE WHERE { ?s ?p ?o }",
            "LOAD <http://example.org/data.ttl>",
            "CLEAR ALL",
            "PREFIX x: <urn:x:> # SELECT\nDELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
        ],
    )
    def test_updates_are_refused(self, make_store: Callable[[], GraphStore], update: str) -> None:
        async def body(store: GraphStore) -> None:
            await store.upsert([WEATHER])
            with pytest.raises(QueryRefused, match="read-only"):
                await store.query(update)
            assert await count(store) > 0

        run(make_store, body)

    def test_a_slow_query_times_out(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(store: GraphStore) -> None:
            started = time.monotonic()
            with pytest.raises(QueryTimeout):
                await store.query(
                    "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", timeout=0.5
                )
            assert time.monotonic() - started < 5

        run(make_store, body)

    def test_results_are_cut_at_the_limit(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(store: GraphStore) -> None:
            result = await store.query("SELECT * WHERE { ?s ?p ?o }", limit=10)
            assert len(result) == 10 and result.truncated
            result = await store.query("CONSTRUCT WHERE { ?s ?p ?o }", limit=7)
            assert len(result.triples) == 7 and result.truncated
            result = await store.query("SELECT * WHERE { ?s ?p ?o } LIMIT 3", limit=10)
            assert len(result) == 3 and not result.truncated

        run(make_store, body)

    def test_the_direct_view_is_a_choice(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(store: GraphStore) -> None:
            store.converter.view = "direct"  # type: ignore[attr-defined]
            await store.upsert([WEATHER])
            result = await store.query(
                f"SELECT ?t WHERE {{ <{WEATHER['id']}> <https://smartdatamodels.org/dataModel.Weather/temperature> ?t }}"
            )
            assert [float(row[0].value) for row in result.rows] == [3.3]  # type: ignore[union-attr]

        run(make_store, body)


def test_queries_abandoned_at_their_timeout_hold_their_slot_until_they_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "QUERY_SLOTS", 1)

    async def body(store: GraphStore) -> None:
        with pytest.raises(QueryTimeout):  # a cross product of the ontology: about a second of work
            await store.query(
                "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }", tenant=None, timeout=0.1
            )
        with pytest.raises(QueryBusy, match="still running"):
            await store.query("ASK {}")
        deadline = time.monotonic() + 30
        while True:  # the abandoned query ends, and its slot is free again
            try:
                assert (await store.query("ASK {}")).boolean is True
                return
            except QueryBusy:
                assert time.monotonic() < deadline, "the abandoned query never gave its slot back"
                await asyncio.sleep(0.1)

    run(lambda: EmbeddedStore(tmp_path / "graph"), body)


def test_the_embedded_store_flushes_its_writes_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RocksDB would keep every update in memory and in its log until closed: the store flushes
    them to table files every ``FLUSH_EVERY`` triples written, so a long run stays bounded."""

    def newest_table() -> int:
        # Table files are numbered in the order RocksDB writes them; a background compaction may
        # merge them at any moment (so their count may drop), but never lowers the newest number.
        return max((int(path.stem) for path in (tmp_path / "graph").glob("*.sst")), default=0)

    async def updates(store: EmbeddedStore) -> list[int]:
        seen = []
        for value in range(6):
            await store.upsert([with_temperature(value)])
            seen.append(newest_table())
        return seen

    monkeypatch.setattr(embedded, "FLUSH_EVERY", 5)
    store = EmbeddedStore(tmp_path / "graph")
    try:
        seen = asyncio.run(updates(store))
    finally:
        asyncio.run(store.close())
    assert seen[-1] > seen[0], f"no table file written while the store was open: {seen}"
