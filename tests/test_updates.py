"""Partial readings and history: the outbox, the broker and both graph stores agree on what an entity is.

Versions go through the outbox to the broker double and to a graph store (embedded pyoxigraph and
a real ``oxigraph serve``); after any mix of partial (merge) and whole (replace) versions both sinks
hold the same attributes with the same values, and ``history`` keeps every version.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import test_graph_stores
from broker_double import BrokerDouble, serve
from typer.testing import CliRunner

from contextbridge import (
    BrokerClient,
    ConfigError,
    Drainer,
    DrainSettings,
    GraphSink,
    GraphStore,
    MappingError,
    RetryPolicy,
    UpdatePolicy,
    default_ontology,
    load_config,
    load_mapping,
    merge_entities,
    open_outbox,
)
from contextbridge.cli import app
from contextbridge.entities.rdf.terms import TermTable
from contextbridge.entities.updates import REPLACE
from contextbridge.sinks.graph.sparql import with_prefixes

FAST = RetryPolicy(initial=0.001, maximum=0.01, jitter=0.001)
MERGE = UpdatePolicy(merge=True)
HISTORY = UpdatePolicy(history=True)
STATION = "urn:ngsi-ld:WeatherObserved:santander:station-1"
WEATHER = "https://smartdatamodels.org/dataModel.Weather/"
HISTORY_MAPPING = Path(__file__).parent / "data" / "history" / "readings.yaml"
make_store = test_graph_stores.make_store  # the graph store fixture: embedded, and a real oxigraph serve


def reading(when: str = "2024-05-01T10:00:00Z", **values: Any) -> dict[str, Any]:
    """A WeatherObserved with the given attributes (a list of values: one instance per datasetId)."""
    entity: dict[str, Any] = {"id": STATION, "type": "WeatherObserved"}
    for name, value in values.items():
        if isinstance(value, list):
            entity[name] = [
                {"type": "Property", "value": v, "observedAt": when, "datasetId": f"urn:ngsi-ld:Dataset:{i}"}
                for i, v in enumerate(value)
            ]
        else:
            entity[name] = {"type": "Property", "value": value, "observedAt": when}
    return entity


def deliver(
    make_store: Callable[[], GraphStore],
    tmp_path: Path,
    steps: Sequence[tuple[list[dict[str, Any]], UpdatePolicy]],
    *,
    drain_between: bool = True,
    queries: Sequence[str] = (),
) -> tuple[BrokerDouble, set[tuple[str, str | None, Any]], list[Any]]:
    """Put each step's versions in the outbox (draining both sinks after each, or once at the end);
    the broker double, the graph's attribute instances of the station, and the answers to ``queries``."""
    double = BrokerDouble()

    async def main() -> tuple[set[tuple[str, str | None, Any]], list[Any]]:
        store = make_store()
        outbox = open_outbox(tmp_path / "state", sinks=("broker", "graph"))
        try:
            await store.clear()
            async with BrokerClient("http://orion", transport=double.transport()) as client:
                for number, (versions, policy) in enumerate(steps):
                    await outbox.put(versions, policy=policy)
                    if drain_between or number == len(steps) - 1:
                        await Drainer(outbox, client, DrainSettings(retry=FAST)).run()
                        await Drainer(outbox, GraphSink(store), DrainSettings(sink="graph", retry=FAST)).run()
            return await graph_attributes(store), [
                (await store.query(with_prefixes(q))).rows for q in queries
            ]
        finally:
            await outbox.close()
            await store.close()

    found, answers = asyncio.run(main())
    return double, found, answers


async def graph_attributes(store: GraphStore) -> set[tuple[str, str | None, Any]]:
    query = (
        f"SELECT ?a ?d ?v WHERE {{ GRAPH ?g {{ <{STATION}> ?a ?n . ?n ngsi-ld:hasValue ?v . "
        "OPTIONAL { ?n ngsi-ld:datasetId ?d } } FILTER(STRSTARTS(STR(?g), 'urn:contextbridge:graph:tenant:')) }"
    )
    result = await store.query("PREFIX ngsi-ld: <https://uri.etsi.org/ngsi-ld/>\n" + query)
    return {
        (str(a.value), d.value if d is not None else None, float(v.value))  # type: ignore[union-attr]
        for a, d, v in result.rows
    }


def broker_attributes(double: BrokerDouble) -> set[tuple[str, str | None, Any]]:
    table = TermTable.build(default_ontology(), "WeatherObserved")
    found = set()
    for name, value in double.entities()[STATION].items():
        if name in ("id", "type"):
            continue
        term = table.term(name)
        assert term is not None
        for instance in value if isinstance(value, list) else [value]:
            found.add((term.iri, instance.get("datasetId"), float(instance["value"])))
    return found


def named(**values: float) -> set[tuple[str, str | None, Any]]:
    return {(WEATHER + name, None, float(value)) for name, value in values.items()}


@pytest.mark.parametrize("drain_between", [True, False], ids=["drained", "waiting"])
def test_partial_full_partial_ends_the_same_in_the_broker_and_the_graph(
    make_store: Callable[[], GraphStore], tmp_path: Path, drain_between: bool
) -> None:
    steps = [
        ([reading(temperature=12.5)], MERGE),
        ([reading(temperature=13.0, relativeHumidity=0.8, atmosphericPressure=1013.0)], MERGE),
        ([reading(relativeHumidity=0.7)], MERGE),
    ]
    double, graph, _ = deliver(make_store, tmp_path, steps, drain_between=drain_between)
    expected = named(temperature=13.0, relativeHumidity=0.7, atmosphericPressure=1013.0)
    assert broker_attributes(double) == graph == expected
    assert set(double.upsert_options) == {"update"}


@pytest.mark.parametrize("drain_between", [True, False], ids=["drained", "waiting"])
def test_whole_and_partial_versions_mixed_end_the_same(
    make_store: Callable[[], GraphStore], tmp_path: Path, drain_between: bool
) -> None:
    steps = [
        ([reading(temperature=1.0, relativeHumidity=0.5, atmosphericPressure=1000.0)], REPLACE),
        ([reading(windSpeed=3.0)], MERGE),
        ([reading(temperature=2.0, relativeHumidity=0.6)], REPLACE),  # pressure and wind gone
        ([reading(atmosphericPressure=990.0)], MERGE),
    ]
    double, graph, _ = deliver(make_store, tmp_path, steps, drain_between=drain_between)
    expected = named(temperature=2.0, relativeHumidity=0.6, atmosphericPressure=990.0)
    assert broker_attributes(double) == graph == expected


def test_a_whole_state_feed_dropping_an_attribute_removes_it_everywhere(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    steps = [
        ([reading(temperature=10.0, relativeHumidity=0.9)], REPLACE),
        ([reading(temperature=11.0)], REPLACE),  # the humidity sensor was removed
    ]
    double, graph, _ = deliver(make_store, tmp_path, steps)
    assert broker_attributes(double) == graph == named(temperature=11.0)
    assert set(double.upsert_options) == {"replace"}


def test_a_partial_version_replaces_only_the_instances_of_its_dataset_ids(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    partial = reading(temperature=[20.0])  # instance urn:ngsi-ld:Dataset:0 only
    steps = [([reading(temperature=[10.0, 15.0], relativeHumidity=0.4)], MERGE), ([partial], MERGE)]
    double, graph, _ = deliver(make_store, tmp_path, steps)
    expected = {
        (WEATHER + "temperature", "urn:ngsi-ld:Dataset:0", 20.0),
        (WEATHER + "temperature", "urn:ngsi-ld:Dataset:1", 15.0),
        (WEATHER + "relativeHumidity", None, 0.4),
    }
    assert broker_attributes(double) == graph == expected


OBSERVATIONS = (
    "SELECT (COUNT(*) AS ?n) (MIN(?v) AS ?first) (MAX(?v) AS ?last) WHERE { ?o a sosa:Observation ; "
    f"sosa:hasFeatureOfInterest <{STATION}> ; sosa:observedProperty <{WEATHER}temperature> ; "
    "sosa:hasSimpleResult ?v ; sosa:resultTime ?t }"
)


def test_history_keeps_every_version_in_order_in_the_broker_and_the_graph(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    day = [reading(f"2024-05-01T{hour:02d}:00:00Z", temperature=float(hour)) for hour in range(24)]
    # the day comes in two parts, and the second part once more (a redelivery changes nothing)
    steps = [(day[:10], HISTORY), (day[10:], HISTORY), (day[10:], HISTORY)]
    double, graph, answers = deliver(make_store, tmp_path, steps, queries=[OBSERVATIONS])
    sent = [entity["temperature"]["value"] for _, entity_id, entity in double.writes if entity_id == STATION]
    assert sent == [float(hour) for hour in range(24)]  # 24 upserts, in order: the third put was unchanged
    assert graph == named(temperature=23.0)  # the latest state
    ((count, first, last),) = answers[0]
    assert (int(count.value), float(first.value), float(last.value)) == (24, 0.0, 23.0)


def test_history_retention_drops_the_older_observations(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    now = time.time()

    def at(days_ago: float) -> str:
        moment = datetime.datetime.fromtimestamp(now - days_ago * 86400, datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    versions = [reading(at(days), temperature=float(days)) for days in (40, 31, 2, 1)]
    policy = UpdatePolicy(history=True, keep=30 * 86400.0)
    _, _, answers = deliver(make_store, tmp_path, [(versions, policy)], queries=[OBSERVATIONS])
    ((count, first, last),) = answers[0]
    assert (int(count.value), float(first.value), float(last.value)) == (2, 1.0, 2.0)


def test_the_broker_double_tells_replace_from_update() -> None:
    double = BrokerDouble()

    async def main() -> None:
        async with BrokerClient("http://orion", transport=double.transport()) as client:
            await client.upsert([reading(temperature=1.0, relativeHumidity=0.5)], policy=REPLACE)
            await client.upsert([reading(temperature=2.0)], policy=MERGE)
            assert set(double.entities()[STATION]) == {"id", "type", "temperature", "relativeHumidity"}
            await client.upsert([reading(temperature=3.0)], policy=REPLACE)
            assert set(double.entities()[STATION]) == {"id", "type", "temperature"}

    asyncio.run(main())
    assert double.upsert_options == ["replace", "update", "replace"]


def test_merge_entities_replaces_instances_per_attribute_and_dataset_id() -> None:
    older = reading(temperature=[1.0, 2.0], relativeHumidity=0.5)
    merged = merge_entities(older, reading(temperature=[9.0], windSpeed=4.0))
    assert [i["value"] for i in merged["temperature"]] == [2.0, 9.0]
    assert (merged["relativeHumidity"]["value"], merged["windSpeed"]["value"]) == (0.5, 4.0)


def test_update_policies_are_read_and_checked() -> None:
    policy = UpdatePolicy.parse({"update": "merge", "history": {"keep": "30d"}})
    assert (policy.merge, policy.history, policy.keep) == (True, True, 30 * 86400.0)
    assert UpdatePolicy.from_code(policy.code) == policy
    assert UpdatePolicy.parse({}, default="merge") == MERGE
    with pytest.raises(ConfigError, match="duration"):
        UpdatePolicy.parse({"history": {"keep": "soon"}})
    with pytest.raises(ConfigError, match="replace or merge"):
        UpdatePolicy.parse({"update": "patch"})


# --- the command line: ``sync`` and ``graph load`` take the mapping's update and history ----------


def write_readings(tmp_path: Path, hours: int = 6) -> Path:
    readings = [
        {"station": "1", "t": str(20 + hour), "at": f"2024-11-14T{hour:02d}:00:00Z"} for hour in range(hours)
    ]
    path = tmp_path / "readings.json"
    path.write_text(json.dumps({"readings": readings}))
    return path


def test_sync_sends_history_in_order_and_partial_mappings_with_update(tmp_path: Path) -> None:
    double = BrokerDouble()
    readings = write_readings(tmp_path)
    partial = tmp_path / "partial.yaml"
    partial.write_text(HISTORY_MAPPING.read_text().replace("history: true", "update: merge"))
    with serve(double) as url:
        for mapping, state in ((HISTORY_MAPPING, "history"), (partial, "partial")):
            command = ["sync", "-m", str(mapping), str(readings), "--broker", url, "--state", str(tmp_path / state),
                       "--format", "json"]  # fmt: skip
            result = CliRunner().invoke(app, command, catch_exceptions=False)
            assert result.exit_code == 0, result.output
    sent = [w[2]["temperature"]["value"] for w in double.writes]
    assert sent == [20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 25.0]  # every reading, then the latest one merged
    assert double.upsert_options == ["replace"] * 6 + ["update"]
    assert json.loads(result.stdout)["merged"] == 5  # the partial versions of one put


def test_graph_load_keeps_the_history_the_mapping_asks_for(tmp_path: Path) -> None:
    readings = write_readings(tmp_path, hours=24)
    entities = tmp_path / "entities.ndjson"
    result = CliRunner().invoke(
        app, ["translate", "-m", str(HISTORY_MAPPING), str(readings), "-o", str(entities)]
    )
    assert result.exit_code == 0, result.output
    state = str(tmp_path / "state")
    for options in (["-m", str(HISTORY_MAPPING)], ["-m", str(HISTORY_MAPPING)], ["--no-history"]):
        result = CliRunner().invoke(app, ["graph", "load", str(entities), "--state", state, *options])
        assert result.exit_code == 0, result.output
    count = "SELECT (COUNT(?o) AS ?n) WHERE { ?o sosa:hasFeatureOfInterest ?e }"
    result = CliRunner().invoke(app, ["sparql", count, "--state", state, "--format", "csv"])
    assert result.stdout.split() == ["n", "24"]  # loaded twice with history (the same 24), once without


def test_a_feed_takes_its_mappings_policy_by_source_kind_and_may_override_it(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "id: m\nsource: {format: json}\nentity: {id: 'urn:x:{id}', type: WeatherObserved, attributes: {temperature: {from: t}}}\n"
    )
    (tmp_path / "h.yaml").write_text((tmp_path / "m.yaml").read_text() + "history: {keep: 7d}\n")
    config = tmp_path / "contextbridge.yaml"
    config.write_text(
        "feeds:\n"
        "  - {id: files, mapping: m.yaml, source: {file: m.yaml}}\n"
        "  - {id: devices, mapping: m.yaml, source: {mqtt: {url: 'mqtt://localhost', topic: a/b}}}\n"
        "  - {id: kept, mapping: h.yaml, source: {mqtt: {url: 'mqtt://localhost', topic: a/b}}, update: replace}\n"
        "  - {id: bad, mapping: m.yaml, source: {file: m.yaml}, history: {keep: never}}\n"
    )
    with pytest.raises(MappingError, match=r"feeds\[3\]\.history.*not a duration"):
        load_config(config)
    config.write_text(config.read_text().rsplit("  - {id: bad", 1)[0])
    files, devices, kept = load_config(config).feeds
    policies = [feed.policy(load_mapping(feed.mapping)) for feed in (files, devices, kept)]
    assert policies == [REPLACE, MERGE, UpdatePolicy(history=True, keep=7 * 86400.0)]
    assert devices.policy(load_mapping(devices.mapping), options="replace") == REPLACE
