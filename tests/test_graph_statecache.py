"""The embedded graph's state cache: updates compared with what was last written, never with a stale copy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from test_graph_loading import entity, latest, lines, loaded, stream, upserted

from contextbridge import DeliveryError, MappingError, UpdatePolicy, load_config
from contextbridge.sinks.graph import EmbeddedStore

MAPPING = Path(__file__).resolve().parents[1] / "mappings" / "santander-parking.yaml"
Steps = Callable[[EmbeddedStore], Awaitable[None]]


async def every_kind_of_write(store: EmbeddedStore) -> None:
    """Replacements (attributes dropped and back), a merge, a delete and a clear between versions
    of the same entities, a pipeline load, another tenant."""
    for batch in stream():
        await store.upsert(batch)
    await store.upsert([entity(1, 7, shrunk=True)], policy=UpdatePolicy(merge=True))
    await store.upsert([entity(1, 8), entity(2, 8)])
    await store.delete([entity(2)["id"], entity(3)["id"]])
    await store.upsert([entity(2, 9), entity(3, 9, shrunk=True)])
    await store.upsert([entity(4, 9)], tenant="other")
    await store.clear(tenant="other")
    await store.upsert([entity(4, 10)], tenant="other")
    await asyncio.to_thread(loaded, store, [[entity(n, 11) for n in range(0, 40, 3)]])
    await store.upsert([entity(n, 12) for n in range(0, 40, 2)])


def written(path: Path, steps: Steps, **options: Any) -> tuple[set[bytes], set[bytes]]:
    async def main() -> tuple[set[bytes], set[bytes]]:
        store = EmbeddedStore(path, **options)
        try:
            await steps(store)
            return lines(store), set(store.dump(tenant="other").splitlines())
        finally:
            await store.close()

    return asyncio.run(main())


def test_with_the_cache_the_graph_holds_what_it_holds_without(tmp_path: Path) -> None:
    cached = written(tmp_path / "cached", every_kind_of_write)
    assert cached == written(tmp_path / "uncached", every_kind_of_write, state_cache=0)
    assert cached[0] and cached[1]


def reordered(number: int, reading: int) -> dict[str, Any]:
    """A version with its attributes in reverse order, and, on odd readings, one attribute renamed:
    as many triples as the version before, but not line for line in the same places."""
    found = entity(number, reading)
    names = [key for key in found if key not in ("id", "type")]
    version = {"id": found["id"], "type": found["type"], **{key: found[key] for key in reversed(names)}}
    if reading % 2:
        plain = next(key for key in names if key != "location" and "value" in found[key])
        version[plain + "Copy"] = version.pop(plain)
    return version


@pytest.mark.parametrize("cache", [64 * 1024 * 1024, 0], ids=["cached", "uncached"])
def test_versions_whose_triples_move_leave_exactly_the_last_one(tmp_path: Path, cache: int) -> None:
    versions = [[entity(n, 1) for n in range(6)], *([reordered(n, r) for n in range(6)] for r in range(2, 6))]
    written = upserted(tmp_path / "graph", versions, state_cache=cache)
    assert written == upserted(tmp_path / "fresh", versions[-1:])


def reads(store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids whose stored triples ``store`` reads from now on."""
    asked: list[str] = []
    stored = store._stored

    def counted(graph: Any, ids: list[str], texts: list[str]) -> set[str]:
        asked.extend(ids)
        return stored(graph, ids, texts)

    monkeypatch.setattr(store, "_stored", counted)
    return asked


def test_a_new_version_of_an_entity_just_written_reads_nothing_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedStore(tmp_path / "graph")
    asked = reads(store, monkeypatch)

    async def main() -> None:
        await store.upsert([entity(n) for n in range(10)])
        asked.clear()
        await store.upsert([entity(n, 1) for n in range(12)])
        assert asked == [entity(10)["id"], entity(11)["id"]]  # the new ones only: are they held?
        await store.close()

    asyncio.run(main())


def test_past_its_budget_the_cache_drops_the_oldest_and_those_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedStore(tmp_path / "graph", state_cache=4_000)  # about 3 entities
    asked = reads(store, monkeypatch)
    batches = [[entity(n, reading) for n in range(8)] for reading in range(3)]

    async def main() -> set[bytes]:
        for batch in batches:
            await store.upsert(batch)
        assert 0 < len(store._cache) < 8 and store._cache.size <= 4_000
        asked.clear()
        await store.upsert([entity(0, 5)])  # among the first written: dropped, read again
        assert asked == [entity(0)["id"]]
        try:
            return lines(store)
        finally:
            await store.close()

    assert asyncio.run(main()) == upserted(tmp_path / "fresh", [latest([*batches, [entity(0, 5)]])])


class _FailingOnce:
    """The store, whose next update fails as a full disk would."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def update(self, *args: Any, **kwargs: Any) -> None:
        if not self.failed:
            self.failed = True
            raise OSError("No space left on device")
        self.store.update(*args, **kwargs)


def test_a_failed_write_leaves_the_cache_as_the_store(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "graph")

    async def main() -> set[bytes]:
        await store.upsert([entity(0), entity(1)])
        store._store = _FailingOnce(store._store)  # type: ignore[assignment]
        with pytest.raises(DeliveryError):
            await store.upsert([entity(0, 1), entity(1, 1, shrunk=True)])
        await store.upsert([entity(0, 3), entity(1, 3)])
        try:
            return lines(store)
        finally:
            store._store = store._store.store  # type: ignore[attr-defined]
            await store.close()

    assert asyncio.run(main()) == upserted(tmp_path / "fresh", [[entity(0, 3), entity(1, 3)]])


def test_the_configuration_sizes_the_cache(tmp_path: Path) -> None:
    feeds = f"feeds: [{{id: a, mapping: {MAPPING}, source: {{webhook: {{insecure: true}}}}}}]\n"
    (tmp_path / "c.yaml").write_text(feeds + "graph: {cache_mb: 0.5}\n")
    store = load_config(tmp_path / "c.yaml").graph.open(tmp_path / "state")
    assert isinstance(store, EmbeddedStore) and store._cache.budget == 512 * 1024
    asyncio.run(store.close())
    (tmp_path / "c.yaml").write_text(feeds + "graph: {cache_mb: -1}\n")
    with pytest.raises(MappingError, match=r"c.yaml:2: graph.cache_mb"):
        load_config(tmp_path / "c.yaml")
