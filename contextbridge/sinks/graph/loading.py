"""A stream of entities into the embedded city graph, conversion and writes overlapping.

    report = load_stream(store, batches, tenant="santander", on_written=progress)

Two stages joined by a bounded queue (``DEPTH`` batches): a thread reads and converts the batches
to N-Triples (Python: it holds the GIL), the calling thread writes them (pyoxigraph releases the
GIL in its Rust calls), so both cores work. Entities new to the graph (absent from it when the
load began, and not written earlier in the load) are gathered into chunks of ``CHUNK`` triples
for the store's bulk loader; entities the graph holds take ``upsert``'s path: only their
differences are written, one transaction per batch. A batch naming an entity that still waits in
a chunk loads the chunk first, so the versions of an entity land in order. With a merge or
history policy every batch takes ``upsert``'s path (conversion still overlaps).

Nothing is reported before it is in the store: ``on_written`` hears of a batch once its
differences committed and its new entities' chunk was loaded. An error in the writing stops both
stages and is raised: what was reported stays, the rest was not written, or partly (the bulk
loader is not transactional), and loading again replaces it (upserts are idempotent). An error
in the reading or the conversion is raised once every batch before it is written.
"""

from __future__ import annotations

import gc
import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contextbridge.entities.updates import REPLACE, UpdatePolicy
from contextbridge.sinks.graph.base import UpsertReport, tenant_graph
from contextbridge.sinks.graph.batch import TripleBatch, convert_batch

if TYPE_CHECKING:
    from contextbridge.sinks.graph.embedded import EmbeddedStore

DEPTH = 4  # converted batches waiting for the writer: bounds memory, and enough to keep it busy
# Triples per call of the bulk loader: each call pays a fixed cost (it writes and ingests sorted
# files for every index), and its memory grows with the chunk (measured with 1.6 M triples: one
# call 10 s and 1.5 GB; 200,000 a call 13 s and 250 MB; the 200,000-row parking load 218 MB
# peak with 50,000 a call, 281 MB with 100,000, no slower): this bounds the memory.
CHUNK = 50_000


@dataclass(frozen=True)
class _Done:
    error: BaseException | None = None


def load_stream(
    store: EmbeddedStore,
    batches: Iterable[Iterable[Mapping[str, Any]]],
    *,
    tenant: str | None = None,
    policy: UpdatePolicy = REPLACE,
    on_written: Callable[[UpsertReport], None] | None = None,
) -> UpsertReport:
    """Write ``batches`` of entities into ``store``; answers the totals (blocking: run it in a thread)."""
    graph = tenant_graph(tenant)
    converted: queue.Queue[TripleBatch | _Done] = queue.Queue(DEPTH)
    stop = threading.Event()

    def put(item: TripleBatch | _Done) -> bool:
        while not stop.is_set():
            try:
                converted.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def convert() -> None:
        try:
            for entities in batches:
                if not put(convert_batch(store.converter, entities, policy)):
                    return
        except BaseException as error:
            put(_Done(error))
        else:
            put(_Done())

    writer = _Writer(store, graph, tenant, policy, on_written)
    worker = threading.Thread(target=convert, name="graph-convert", daemon=True)
    # The entities are trees (no cycles): the cyclic collector, which their many dicts set off
    # again and again, found nothing and took a tenth of the conversion's time (py-spy).
    collecting = gc.isenabled()
    gc.disable()
    worker.start()
    try:
        while True:
            item = converted.get()
            if isinstance(item, _Done):
                writer.finish()  # what came before the error was accepted: it is written first
                if item.error is not None:
                    raise item.error
                return writer.total
            writer.write(item)
    finally:
        stop.set()
        worker.join()
        if collecting:
            gc.enable()


class _Writer:
    """The writing stage: chunks of new entities for the bulk loader, differences for the others."""

    def __init__(
        self,
        store: EmbeddedStore,
        graph: str,
        tenant: str | None,
        policy: UpdatePolicy,
        on_written: Callable[[UpsertReport], None] | None,
    ) -> None:
        self.store = store
        self.graph = graph
        self.tenant = tenant
        self.policy = policy
        self.on_written = on_written
        self.total = UpsertReport()
        self.bulk = not policy.merge and not policy.history
        # An empty graph holds none of the entities: no look-up then, only what this load wrote.
        self.empty = self.bulk and store._graph_is_empty(graph)
        self.seen: set[bytes] = set()  # digests of the ids written (or waiting) in this load
        self.waiting: set[bytes] = set()  # digests of the ids in the chunk
        self.chunk: list[str] = []
        self.chunk_triples = 0
        self.reports: list[UpsertReport] = []  # batches whose new entities wait in the chunk

    def write(self, batch: TripleBatch) -> None:
        if not batch.ids:
            self._report(UpsertReport(0, 0, batch.refused))
            return
        if not self.bulk:
            self.store._write_versions(self.tenant, batch, self.policy, time.time())
            self._report(UpsertReport(len(batch.ids), batch.triples, batch.refused))
            return
        digests = [_digest(ident) for ident in batch.ids]
        if self.waiting.intersection(digests):  # an older version waits in the chunk: it goes first
            self.finish()
        if self.empty:  # the graph holds what this load wrote, nothing else
            new: list[tuple[str, str]] = []
            known: list[tuple[str, str]] = []
            for ident, digest, text in zip(batch.ids, digests, batch.texts, strict=True):
                (known if digest in self.seen else new).append((ident, text))
            if known:
                ids, texts = zip(*known, strict=True)
                new.extend(self.store._write_known(self.graph, list(ids), list(texts)))
        else:  # the differences of those the graph holds are written now, the others are new
            new = self.store._write_known(self.graph, batch.ids, batch.texts)
        for ident, text in new:
            self.chunk.append(text)
            self.chunk_triples += text.count("\n")
            self.waiting.add(_digest(ident))
        self.seen.update(digests)
        report = UpsertReport(len(batch.ids), batch.triples, batch.refused)
        if new:
            self.reports.append(report)
        else:
            self._report(report)
        if self.chunk_triples >= CHUNK:
            self.finish()

    def finish(self) -> None:
        """Load the chunk, then report the batches that waited for it."""
        if self.chunk:
            self.store._bulk_write(self.graph, self.chunk)
        self.chunk, self.chunk_triples = [], 0
        self.waiting.clear()
        reports, self.reports = self.reports, []
        for report in reports:
            self._report(report)

    def _report(self, report: UpsertReport) -> None:
        self.total = UpsertReport(
            self.total.upserted + report.upserted,
            self.total.triples + report.triples,
            self.total.refused + report.refused,
        )
        if self.on_written is not None:
            self.on_written(report)


def _digest(ident: str) -> bytes:
    # 8 bytes an id instead of the id itself: a load of millions of entities keeps its set small.
    return hashlib.blake2b(ident.encode("utf-8"), digest_size=8).digest()
