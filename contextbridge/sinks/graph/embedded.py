"""The embedded city graph: a pyoxigraph (RocksDB) store on disk, in ``<state dir>/graph``.

    store = EmbeddedStore(Path(".contextbridge/graph"))
    await store.upsert(entities, tenant="santander")
    result = await store.query("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", limit=10)

Writes are serialised by a lock (one process owns the store: RocksDB locks the directory).
An entity's nodes have skolem IRIs (``contextbridge.entities.rdf``), so an updated entity gives the same
node IRIs again: the store reads the entity's stored triples (or takes the text it last wrote
of the entity from its state cache, ``statecache``: no read), and one SPARQL Update deletes the
ones that went and inserts the ones that came (``DELETE DATA`` / ``INSERT DATA``), one
transaction for the batch: readers never see an entity half-updated, and a reading that changed
one value rewrites two triples, not the entity. The batch's new entities are loaded directly,
after it: with ``Store.load`` (one transaction) when few, with the bulk loader from
``BULK_BATCH`` of them (four times faster; a crash in the middle may leave part of them, which
the retry of the idempotent upsert replaces).

With ``query_workers`` (what the service uses), queries run in worker processes on a
read-only snapshot of the store (``workers``): one still running at its time limit is killed,
so no query can hold a slot or a CPU past its time. The snapshot is a RocksDB checkpoint (hard
links, next to the store in ``<path>.queries``), made again when the data changed since the
last one: a query sees every write acknowledged before it started.

Without (the command line, the in-memory store), queries run in a worker thread; rows are
collected up to the limit and the deadline is checked between rows. A query that spends its
whole time before its first row (a huge aggregate) is abandoned at the deadline: the caller
gets ``QueryTimeout`` at once, and the thread finishes in the background, holding one of
``QUERY_SLOTS``; with every slot held, a new query is refused at once (``QueryBusy``).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pyoxigraph import DefaultGraph, NamedNode, QueryTriples, RdfFormat, Store, serialize

from contextbridge.entities.ontology import Ontology, default_ontology
from contextbridge.entities.rdf import Converter, View
from contextbridge.entities.rdf.converter import GENID
from contextbridge.entities.rdf.literals import iri
from contextbridge.entities.updates import REPLACE, UpdatePolicy
from contextbridge.errors import DeliveryError, GraphStoreError, QueryBusy, QueryError, QueryTimeout
from contextbridge.sinks.graph._query_worker import answer
from contextbridge.sinks.graph.base import (
    DEFAULT_LIMIT,
    DEFAULT_TENANT,
    DEFAULT_TIMEOUT,
    ONTOLOGY_GRAPH,
    QueryResult,
    UpsertReport,
    history_graph,
    query_graphs,
    tenant_graph,
)
from contextbridge.sinks.graph.batch import TripleBatch, convert_batch
from contextbridge.sinks.graph.history import retention_update
from contextbridge.sinks.graph.sparql import (
    data_update,
    delete_update,
    insert_update,
    merge_update,
    query_form,
)
from contextbridge.sinks.graph.statecache import StateCache
from contextbridge.sinks.graph.workers import QueryPool

BULK_BATCH = 500  # new entities per batch from which the bulk loader pays off
# RocksDB keeps every write in memory (and in its log) until its buffers are flushed, which a
# store that only updates the same entities rarely triggers by itself: flush after this many
# written triples, so that memory and the log stay bounded however long the service runs.
FLUSH_EVERY = 200_000
# Queries running at once. A query abandoned at its timeout cannot be interrupted while the store
# computes its first solution (a big ORDER BY, a cross product): it keeps its slot until it ends,
# so heavy queries repeated past their timeouts are refused (busy) instead of piling up threads.
QUERY_SLOTS = 4
# Bytes of the entities' last written triples kept to compare their next versions with (zlib:
# about 1 KB an entity of 55 triples, so some 50,000 entities).
STATE_CACHE = 64 * 1024 * 1024


class EmbeddedStore:
    """A ``GraphStore`` on a local pyoxigraph store (``path=None``: in memory, for tests)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        ontology: Ontology | None = None,
        view: View = "ngsi-ld",
        query_workers: int = 0,
        state_cache: int = STATE_CACHE,
    ) -> None:
        self.path = path
        # What each entity was last written with: its next version is compared without a read.
        self._cache = StateCache(state_cache)
        self.ontology = ontology or default_ontology()
        self.converter = Converter(self.ontology, view=view, infer_types=True, wgs84=True, skolem=True)
        try:
            if path is not None:
                path.mkdir(parents=True, exist_ok=True)
            self._store = Store(str(path)) if path is not None else Store()
        except OSError as exc:  # another process holds the store, or the disk refuses
            raise DeliveryError(f"cannot open the graph store: {exc}", url=str(path)) from exc
        self._write = threading.Lock()
        self._unflushed = 0  # triples written since the last flush
        self._slots = threading.BoundedSemaphore(QUERY_SLOTS)
        # Queries in worker processes (on disk only): snapshots by generation of the data.
        self._pool = QueryPool(query_workers) if path is not None and query_workers > 0 else None
        self._generation = 0  # writes so far
        self._snapshots = path.with_name(path.name + ".queries") if path is not None else None
        self._current: tuple[int, str] | None = None  # the newest snapshot: generation, directory
        self._users: dict[str, int] = {}  # queries running on each snapshot
        self._snapshot_lock = threading.Lock()
        if self._pool is not None and self._snapshots is not None:
            shutil.rmtree(self._snapshots, ignore_errors=True)  # a previous run's

    # -- writes -----------------------------------------------------------------------------

    async def upsert(
        self,
        entities: Iterable[Mapping[str, Any]],
        *,
        tenant: str | None = None,
        policy: UpdatePolicy = REPLACE,
        state: bool = True,
    ) -> UpsertReport:
        tenant_graph(tenant)  # a bad tenant name fails before any work
        batch = convert_batch(self.converter, entities, policy)
        if batch.ids:
            await asyncio.to_thread(self._write_versions, tenant, batch, policy, time.time(), state)
        return UpsertReport(len(batch.ids), batch.triples, batch.refused)

    def _write_versions(
        self, tenant: str | None, batch: TripleBatch, policy: UpdatePolicy, now: float, state: bool = True
    ) -> None:
        graph = tenant_graph(tenant)
        if state and policy.merge:  # the attribute instances it carries go, the others stay: one transaction
            with self._write, _boundary(self.path):
                self._cache.forget(graph, map(iri, batch.ids))
                self._store.update(merge_update(batch.targets, graph, batch.ntriples))
                self._written(2 * batch.triples)  # about as many go as come
        elif state:  # (else the history only: an older version than the state held)
            self._write_batch(graph, batch.ids, batch.texts)
        if not policy.history:
            return
        past = history_graph(tenant)
        with self._write, _boundary(self.path):
            if batch.history:
                self._store.load(batch.history, format=RdfFormat.N_TRIPLES, to_graph=NamedNode(past))
            if policy.keep is not None:
                self._store.update(retention_update(past, batch.ids, policy.keep, now=now))
            self._written(batch.history.count("\n"))

    def _write_batch(self, graph: str, ids: list[str], texts: list[str]) -> None:
        node = NamedNode(graph)
        with self._write, _boundary(self.path):
            new = self._replace_known(graph, ids, texts, remember=True)
            data = "".join(text for _, text in new)
            if len(new) >= BULK_BATCH:
                self._store.bulk_load(data.encode("utf-8"), format=RdfFormat.N_TRIPLES, to_graph=node)
            elif new:
                self._store.load(data, format=RdfFormat.N_TRIPLES, to_graph=node)
            self._cache.keep(graph, ((iri(ident), text) for ident, text in new))
            self._written(data.count("\n"))

    def _write_known(self, graph: str, ids: list[str], texts: list[str]) -> list[tuple[str, str]]:
        """Write the differences of the entities the graph holds; answer the others (id, text)."""
        with self._write, _boundary(self.path):
            return self._replace_known(graph, ids, texts)

    def _replace_known(
        self, graph: str, ids: list[str], texts: list[str], *, remember: bool = False
    ) -> list[tuple[str, str]]:
        """Write the differences of the entities the graph holds (one transaction); answer the
        others (id, text), which the caller loads (holding the write lock). The state cache
        gives the old triples of those it holds; ``remember``: it keeps the new ones."""
        subjects = [iri(ident) for ident in ids]
        cached = self._cache.texts(graph, subjects)
        unread = [(i, t) for i, s, t in zip(ids, subjects, texts, strict=True) if s not in cached]
        old = self._stored(NamedNode(graph), [i for i, _ in unread], [t for _, t in unread])
        held = {line[: line.index(" ")] for line in old}
        new: list[tuple[str, str]] = []
        known: list[tuple[str, str]] = []
        fresh: set[str] = set()
        removed: list[str] = []
        added: list[str] = []
        for subject, ident, text in zip(subjects, ids, texts, strict=True):
            before = cached.get(subject)
            if before is not None:  # the store holds what the cache does
                known.append((subject, text))
                if before != text:
                    _changes(before.splitlines(), text.splitlines(), removed, added)
            elif subject in held:
                fresh.update(text.splitlines())
                known.append((subject, text))
            else:
                new.append((ident, text))
        removed.extend(old - fresh)
        added.extend(fresh - old)
        if removed or added:  # one transaction: readers see the old state or the new one
            self._store.update(data_update(graph, removed, added))
        if remember:
            self._cache.keep(graph, known)
        else:
            self._cache.forget(graph, (subject for subject, _ in known))
        self._written(len(removed) + len(added))
        return new

    def _stored(self, graph: NamedNode, ids: list[str], texts: list[str]) -> set[str]:
        """The stored triples of the entities (their own and their nodes'), as N-Triples lines.

        One CONSTRUCT a round, serialised by the store (no Python object per triple): the first
        round asks for the entities, the second for the skolem nodes of the new texts of those the
        graph holds, the next ones for the nodes found in the answers but not asked yet (those an
        entity had and has no longer). Entities new to the graph cost one look-up each."""
        asked: set[str] = {iri(ident) for ident in ids}
        found: set[str] = set()
        todo = set(asked)
        first = True
        while todo:
            query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ VALUES ?s {{ {' '.join(todo)} }} ?s ?p ?o }}"
            triples = self._store.query(query, default_graph=graph)
            assert isinstance(triples, QueryTriples)
            answer = serialize(triples, format=RdfFormat.N_TRIPLES)
            todo = set()
            for line in (answer or b"").decode("utf-8").splitlines():
                found.add(line)
                if GENID not in line:
                    continue
                subject, _, rest = line.partition(" ")
                value = rest.partition(" ")[2][:-2]  # the object, without " ."
                owner = subject.split(GENID, 1)[0] if GENID in subject else subject[:-1]
                if value.startswith(owner + GENID) and value not in asked:
                    asked.add(value)
                    todo.add(value)
            if first:  # the nodes of the held entities' new texts, unless asked already
                first = False
                held = {line[: line.index(" ")] for line in found}
                for ident, text in zip(ids, texts, strict=True):
                    if iri(ident) in held:
                        nodes = iri(ident)[:-1] + GENID
                        for line in text.splitlines():
                            subject = line[: line.index(" ")]
                            if subject.startswith(nodes) and subject not in asked:
                                asked.add(subject)
                                todo.add(subject)
        return found

    def _graph_is_empty(self, graph: str) -> bool:
        return next(self._store.quads_for_pattern(None, None, None, NamedNode(graph)), None) is None

    def _written(self, triples: int) -> None:
        """Count written triples; flush past ``FLUSH_EVERY`` (holding the write lock)."""
        self._generation += 1  # the query workers' snapshot is stale from now on
        self._unflushed += triples
        if self._unflushed >= FLUSH_EVERY:
            self._store.flush()
            self._unflushed = 0

    def _bulk_write(self, graph: str, texts: list[str]) -> None:
        """Load the N-Triples of entities new to the graph with the bulk loader (not one
        transaction: a crash may leave part of them, which loading them again replaces)."""
        with self._write, _boundary(self.path):
            data = "".join(texts).encode("utf-8")
            self._store.bulk_load(data, format=RdfFormat.N_TRIPLES, to_graph=NamedNode(graph))
            self._written(data.count(b"\n"))

    async def delete(self, entity_ids: Iterable[str], *, tenant: str | None = None) -> None:
        ids = list(dict.fromkeys(entity_ids))
        if ids:
            graph = tenant_graph(tenant)
            subjects = [iri(ident) for ident in ids]
            await asyncio.to_thread(
                self._update, delete_update(ids, graph), lambda cache: cache.forget(graph, subjects)
            )

    async def load_ontology(self, ontology: Ontology | None = None) -> int:
        graph = (ontology or self.ontology).graph
        text = graph.serialize(format="nt")
        await asyncio.to_thread(self._update, insert_update(ONTOLOGY_GRAPH, text, replace=True))
        return len(graph)

    async def clear(self, *, tenant: str | None = None) -> None:
        target = (
            f"GRAPH <{tenant_graph(tenant)}> ; CLEAR SILENT GRAPH <{history_graph(tenant)}>"
            if tenant
            else "ALL"
        )
        graph = tenant_graph(tenant) if tenant else None
        await asyncio.to_thread(self._update, f"CLEAR SILENT {target}", lambda cache: cache.clear(graph))

    def _update(self, update: str, forget: Callable[[StateCache], None] | None = None) -> None:
        """Run a SPARQL update; ``forget``: what the state cache forgets first, of what it changes."""
        with self._write, _boundary(self.path):
            if forget is not None:
                forget(self._cache)
            self._generation += 1
            self._store.update(update)

    # -- reads ------------------------------------------------------------------------------

    async def query(
        self,
        sparql: str,
        *,
        tenant: str | None = DEFAULT_TENANT,
        timeout: float = DEFAULT_TIMEOUT,
        limit: int = DEFAULT_LIMIT,
    ) -> QueryResult:
        query_form(sparql)  # refuses updates with a clear message before anything runs
        if self._pool is not None:
            return await self._query_in_worker(sparql, tenant, timeout, limit)
        if not self._slots.acquire(blocking=False):
            raise QueryBusy(f"{QUERY_SLOTS} queries are still running: try again later")
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[QueryResult] = loop.create_future()

        def settle(result: QueryResult | None, error: BaseException | None) -> None:
            if not future.done():
                future.set_exception(error) if error is not None else future.set_result(result)  # type: ignore[arg-type]

        def work() -> None:
            result: QueryResult | None = None
            failure: BaseException | None = None
            try:
                result = self._run(sparql, tenant, time.monotonic() + timeout, limit, cancel)
            except BaseException as error:
                failure = error
            finally:  # free before the caller hears of it: its next query must find the slot
                self._slots.release()
            loop.call_soon_threadsafe(settle, result, failure)

        # A daemon thread, not the loop's executor: a runaway query must not keep the process alive.
        threading.Thread(target=work, name="sparql-query", daemon=True).start()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            cancel.set()
            raise QueryTimeout(f"the query ran longer than {timeout:g} s") from None

    async def _query_in_worker(
        self, sparql: str, tenant: str | None, timeout: float, limit: int
    ) -> QueryResult:
        assert self._pool is not None
        graphs = None if tenant is None else query_graphs(tenant)
        snapshot = await asyncio.to_thread(self._take_snapshot)
        try:
            found = await asyncio.to_thread(
                self._pool.run, snapshot, sparql, graphs, limit=limit, timeout=timeout
            )
        finally:
            await asyncio.to_thread(self._drop_snapshot, snapshot)
        return self._result(found, limit)

    def _result(self, found: tuple[Any, ...], limit: int) -> QueryResult:
        """The result of a query's answer (``_query_worker.answer``), or its error raised."""
        kind = found[0]
        if kind == "ask":
            return QueryResult("ask", boolean=found[1])
        if kind == "select":
            return QueryResult("select", found[1], found[2], truncated=found[3], limit=limit)
        if kind == "graph":
            return QueryResult("graph", triples=found[1], truncated=found[2], limit=limit)
        if found[1] == "timeout":
            raise QueryTimeout(found[2])
        if found[1] == "io":
            raise DeliveryError(f"cannot read the graph store: {found[2]}", url=str(self.path))
        prefix = "invalid SPARQL query" if found[1] == "syntax" else "the query cannot be evaluated"
        raise QueryError(f"{prefix}: {found[2]}")

    def _take_snapshot(self) -> str:
        """The directory of a snapshot with every write so far (made now if the data changed)."""
        assert self._snapshots is not None
        with self._write, _boundary(self.path):
            if self._current is None or self._current[0] != self._generation:
                self._snapshots.mkdir(parents=True, exist_ok=True)
                where = self._snapshots / f"{self._generation}-{uuid.uuid4().hex[:8]}"
                self._store.backup(str(where))  # flushes the writes in memory first
                self._unflushed = 0
                self._current = (self._generation, str(where))
            current = self._current[1]
            with self._snapshot_lock:  # counted before a newer one may make it stale
                self._users[current] = self._users.get(current, 0) + 1
        return current

    def _drop_snapshot(self, snapshot: str) -> None:
        """One query less on ``snapshot``; the snapshots no query uses go, but the newest."""
        with self._snapshot_lock:
            self._users[snapshot] -= 1
            newest = self._current[1] if self._current else None
            unused = [where for where, users in self._users.items() if users == 0 and where != newest]
            for where in unused:
                del self._users[where]
        for where in unused:
            shutil.rmtree(where, ignore_errors=True)

    def _run(
        self, sparql: str, tenant: str | None, deadline: float, limit: int, cancel: threading.Event
    ) -> QueryResult:
        graphs = None if tenant is None else query_graphs(tenant)
        # pyoxigraph's solutions stay in this thread: ``answer`` returns plain values and errors.
        found = answer(
            self._store, sparql, graphs, limit, lambda: cancel.is_set() or time.monotonic() > deadline
        )
        return self._result(found, limit)

    def dump(self, *, tenant: str | None = None) -> bytes:
        """The tenant's graph as N-Triples (for exports and tests)."""
        graph = NamedNode(tenant_graph(tenant)) if tenant is not None else DefaultGraph()
        data = self._store.dump(format=RdfFormat.N_TRIPLES, from_graph=graph)
        return data or b""

    def count(self, *, tenant: str | None = None) -> int:
        """Triples in the tenant's graph."""
        return sum(
            1 for _ in self._store.quads_for_pattern(None, None, None, NamedNode(tenant_graph(tenant)))
        )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            shutil.rmtree(self._snapshots or "", ignore_errors=True)
        with self._write:
            self._store.flush()
            # RocksDB's directory lock goes with the last reference to the store: drop ours now,
            # not when a traceback that mentions this object is collected.
            self._store = Store()
            self._cache.clear()


def _changes(old: list[str], new: list[str], removed: list[str], added: list[str]) -> None:
    """The lines of an entity's ``old`` text to delete and of its ``new`` one to insert.

    The converter writes an entity's triples in one order, so a new version with as many triples
    mostly pairs up with the old one line by line (a changed value: one line each side), which
    spares two sets of every line. Deleted before inserted, a line that only moved is written again
    and stays: the pairing may cost writes, never triples."""
    if len(old) == len(new):
        for before, after in zip(old, new, strict=True):
            if before != after:
                removed.append(before)
                added.append(after)
    else:
        gone, came = set(old), set(new)
        removed.extend(line for line in old if line not in came)
        added.extend(line for line in new if line not in gone)


class _boundary:
    """pyoxigraph's exceptions become contextbridge errors here."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, SyntaxError | ValueError):  # an IRI or a literal pyoxigraph cannot hold
            raise GraphStoreError(f"the graph store refused the data: {exc}") from exc
        if isinstance(exc, OSError):
            raise DeliveryError(f"cannot write the graph store: {exc}", url=str(self.path)) from exc
