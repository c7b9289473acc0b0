"""Loading a stream of entities into the embedded graph: the bulk path, the pipeline, their failures."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contextbridge import DeliveryError, UpdatePolicy
from contextbridge.sinks.graph import EmbeddedStore, UpsertReport, loading
from contextbridge.sinks.graph.loading import load_stream

SDM = Path(__file__).resolve().parent / "data" / "sdm"
EXAMPLES = [
    json.loads((SDM / model / "examples/example-normalized.jsonld").read_text())
    for model in (
        "dataModel.Weather/WeatherObserved",
        "dataModel.Device/Device",
        "dataModel.Environment/AirQualityObserved",
    )
]
for _entity in EXAMPLES:
    _entity.pop("@context", None)


def entity(number: int, reading: int = 0, *, shrunk: bool = False) -> dict[str, Any]:
    """A varied copy of an example: its numbers depend on ``reading``; ``shrunk`` drops attributes."""
    found = copy.deepcopy(EXAMPLES[number % len(EXAMPLES)])
    found["id"] = f"urn:ngsi-ld:{found['type']}:load:{number}"
    for value in list(found.values()):
        if isinstance(value, dict) and isinstance(value.get("value"), int | float):
            value["value"] = value["value"] + reading + number
    if shrunk:  # the attributes with nodes of their own go: their nodes must go too
        for name in [k for k, v in found.items() if isinstance(v, dict) and k != "location"][:3]:
            del found[name]
    return found


def stream() -> list[list[dict[str, Any]]]:
    """First states, versions of the same entities in later batches and in the same batch, new
    entities among known ones, entities that lose attributes."""
    first = [entity(n) for n in range(30)]
    again = [entity(n, 1) for n in range(0, 30, 2)] + [entity(n) for n in range(30, 40)]
    mixed = [entity(n, 2, shrunk=n % 3 == 0) for n in range(25, 35)] + [entity(5, 3), entity(5, 4)]
    return [first[:12], first[12:], again, mixed, [entity(n, 5) for n in range(0, 40, 7)]]


def latest(batches: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    final: dict[str, dict[str, Any]] = {}
    for batch in batches:
        for item in batch:
            final[item["id"]] = item
    return list(final.values())


def lines(store: EmbeddedStore) -> set[bytes]:
    return set(store.dump(tenant="default").splitlines())


def upserted(path: Path, batches: list[list[dict[str, Any]]], **options: Any) -> set[bytes]:
    async def main() -> set[bytes]:
        store = EmbeddedStore(path, **options)
        try:
            for batch in batches:
                await store.upsert(batch)
            return lines(store)
        finally:
            await store.close()

    return asyncio.run(main())


def loaded(store: EmbeddedStore, batches: Any, **options: Any) -> UpsertReport:
    return load_stream(store, batches, tenant="default", **options)


@pytest.fixture(params=[200, 1_000_000], ids=["small-chunks", "one-chunk"])
def small_chunks(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    # Small: several chunks a load; one: every new entity waits in the chunk till the end, later
    # versions of them come while they wait.
    monkeypatch.setattr(loading, "CHUNK", request.param)


def test_the_pipeline_and_upserts_leave_the_latest_state_of_each_entity(
    tmp_path: Path, small_chunks: None
) -> None:
    batches = stream()
    expected = upserted(tmp_path / "fresh", [latest(batches)])  # the final states, loaded once
    assert upserted(tmp_path / "upserts", batches) == expected
    store = EmbeddedStore(tmp_path / "pipeline")
    report = loaded(store, batches)
    assert lines(store) == expected
    assert report.upserted == sum(len({e["id"] for e in batch}) for batch in batches)
    asyncio.run(store.close())


def test_a_load_into_a_graph_that_holds_entities_replaces_them(tmp_path: Path, small_chunks: None) -> None:
    batches = stream()
    store = EmbeddedStore(tmp_path / "graph")
    asyncio.run(store.upsert(batches[0] + batches[2]))  # some known before the load begins
    loaded(store, batches[1:])
    final = latest([batches[0] + batches[2], *batches[1:]])
    assert lines(store) == upserted(tmp_path / "fresh", [final])
    asyncio.run(store.close())


def test_a_failed_write_keeps_every_batch_reported_and_a_second_load_completes(
    tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = stream()
    store = EmbeddedStore(tmp_path / "graph")
    real = store._bulk_write
    calls = 0

    def failing(graph: str, texts: list[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == (3 if loading.CHUNK < 1000 else 2):
            raise DeliveryError("the disk is full", url="graph")
        real(graph, texts)

    monkeypatch.setattr(store, "_bulk_write", failing)
    reported: list[UpsertReport] = []
    threads = threading.active_count()
    with pytest.raises(DeliveryError, match="disk is full"):
        loaded(store, batches, on_written=reported.append)
    assert threading.active_count() == threads  # the converting thread stopped too
    assert reported, "the writes before the failure were reported"
    held = {line.split(b" ", 1)[0] for line in lines(store)}
    assert sum(r.upserted for r in reported) <= len({i for i in held if b"genid" not in i})
    monkeypatch.setattr(store, "_bulk_write", real)
    loaded(store, batches)
    assert lines(store) == upserted(tmp_path / "fresh", [latest(batches)])
    asyncio.run(store.close())


def test_a_failing_source_writes_every_batch_before_the_failure(tmp_path: Path, small_chunks: None) -> None:
    batches = stream()

    def source() -> Iterator[list[dict[str, Any]]]:
        yield from batches[:3]
        raise ValueError("line 99: cut")

    store = EmbeddedStore(tmp_path / "graph")
    reported: list[UpsertReport] = []
    with pytest.raises(ValueError, match="cut"):
        loaded(store, source(), on_written=reported.append)
    assert sum(r.upserted for r in reported) == sum(len({e["id"] for e in b}) for b in batches[:3])
    assert lines(store) == upserted(tmp_path / "fresh", [latest(batches[:3])])
    asyncio.run(store.close())


def test_refused_entities_are_reported_and_the_others_loaded(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "graph")
    report = loaded(store, [[entity(1), {"type": "Device"}, entity(2)]])
    assert report.upserted == 2 and len(report.refused) == 1
    asyncio.run(store.close())


def test_merge_and_history_policies_take_the_upsert_path(tmp_path: Path) -> None:
    policy = UpdatePolicy(merge=True)
    batches = [[entity(1)], [{"id": entity(1)["id"], "type": entity(1)["type"], **_one(entity(1, 7))}]]
    store = EmbeddedStore(tmp_path / "pipeline")
    loaded(store, batches, policy=policy)

    async def upserts() -> set[bytes]:
        other = EmbeddedStore(tmp_path / "upserts")
        for batch in batches:
            await other.upsert(batch, policy=policy)
        found = lines(other)
        await other.close()
        return found

    assert lines(store) == asyncio.run(upserts())
    asyncio.run(store.close())


def _one(found: dict[str, Any]) -> dict[str, Any]:
    name = next(
        k for k, v in found.items() if isinstance(v, dict) and isinstance(v.get("value"), int | float)
    )
    return {name: found[name]}
