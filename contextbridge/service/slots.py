"""Fair shares of the SPARQL endpoint's query slots: no key and no tenant may hold them all.

    slots = FairSlots(total=4)               # a key or a tenant runs at most 2 queries at once
    with slots.take(key="analyst", tenant="santander"):   # QueryBusy (503) when it may not
        result = await store.query(...)

The store runs at most ``total`` queries at once, each stopped at its time limit (see
``contextbridge.sinks.graph.workers``); a key sending runaway queries, or a tenant's keys together,
fill at most ``share`` of them, so the other tenants' queries still find a free slot.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from contextbridge.errors import QueryBusy


class FairSlots:
    """Counts the queries running per key and per tenant (one event loop: no lock needed)."""

    def __init__(self, total: int, *, share: int | None = None) -> None:
        self.total = total
        self.share = share if share is not None else max(1, total // 2)
        self._keys: Counter[str] = Counter()
        self._tenants: Counter[str] = Counter()

    @contextlib.contextmanager
    def take(self, *, key: str, tenant: str) -> Iterator[None]:
        if self._keys[key] >= self.share:
            raise QueryBusy(f"key {key!r} already runs {self.share} queries: try again later")
        if self._tenants[tenant] >= self.share:
            raise QueryBusy(f"tenant {tenant!r} already runs {self.share} queries: try again later")
        self._keys[key] += 1
        self._tenants[tenant] += 1
        try:
            yield
        finally:
            self._keys[key] -= 1
            self._tenants[tenant] -= 1
