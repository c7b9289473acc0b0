"""What each entity was last written with, so that its next version is compared without reading
the store.

    cache = StateCache(64 * 1024 * 1024)
    cache.keep(graph, [(subject, ntriples)])     # after the write committed
    cache.texts(graph, subjects)                 # {subject: ntriples} of those it holds
    cache.forget(graph, subjects)                # before any other write to them

An update writes an entity's differences: the triples that went and the triples that came. Reading
the stored triples costs about ten microseconds a triple in the store (RocksDB look-ups, then the
strings of the terms), most of an update's time (``benchmarks/graph.py``). The embedded store is
this process's alone (RocksDB locks its directory), so what it last wrote of an entity is what the
store holds, as long as every other write to the entity (a merge, a delete, a clear) forgets it
here first. The texts are kept compressed (zlib, about a ninth of their size), the most recently
written last, within a budget of bytes; an entity not here is read from the store, as before.
Not thread-safe: the store calls it holding its write lock.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Iterable

# Bytes an entry costs besides its compressed text: the key tuple, the subject's string, the bytes
# object, the dict's slot (measured with tracemalloc on urn:ngsi-ld ids: about 225).
ENTRY_OVERHEAD = 250


class StateCache:
    """The N-Triples last written of each entity (subject IRI) of each graph, within ``budget`` bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = max(0, budget)
        self.size = 0  # bytes held, entries' overhead included
        self._texts: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._texts)

    def texts(self, graph: str, subjects: Iterable[str]) -> dict[str, str]:
        """The texts held of these entities, by subject."""
        found: dict[str, str] = {}
        if not self._texts:
            return found
        for subject in subjects:
            packed = self._texts.get((graph, subject))
            if packed is not None:
                found[subject] = zlib.decompress(packed).decode("utf-8")
        return found

    def keep(self, graph: str, written: Iterable[tuple[str, str]]) -> None:
        """Hold the texts just written (subject, N-Triples); the oldest go past the budget."""
        if not self.budget:
            return
        for subject, text in written:
            key = (graph, subject)
            packed = zlib.compress(text.encode("utf-8"), 1)
            self._drop(key)  # re-inserted: it goes to the end, the most recently written
            self._texts[key] = packed
            self.size += len(packed) + ENTRY_OVERHEAD
        while self.size > self.budget:
            self._drop(next(iter(self._texts)))

    def forget(self, graph: str, subjects: Iterable[str]) -> None:
        if self._texts:
            for subject in subjects:
                self._drop((graph, subject))

    def clear(self, graph: str | None = None) -> None:
        """Forget a graph's entities (``None``: all)."""
        for key in [key for key in self._texts if graph in (None, key[0])]:
            self._drop(key)

    def _drop(self, key: tuple[str, str]) -> None:
        packed = self._texts.pop(key, None)
        if packed is not None:
            self.size -= len(packed) + ENTRY_OVERHEAD
