"""Claiming: the batches a drainer's workers send, taken from the outbox ahead of need.

    >>> claims = Claims(outbox, sink="broker", batch_size=200, concurrency=4, lease=300.0)
    >>> claim = await claims.take()                    # a batch of entries, and when it was claimed
    >>> entries = await claims.fresh(claim)            # [] when its lease may have run out meanwhile

The outbox's work stays off the path of the requests: one transaction claims a batch for every
worker (``batch_size × concurrency`` entries), and a worker takes the next batch while it sends
the one before. All the versions of one key go in one batch, so that versions never race each
other (the batch sends them in turn, or the latest and acks the others as superseded).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..outbox import Entry, Outbox


@dataclass(frozen=True)
class Claim:
    """A batch of claimed entries, and when it was claimed (``time.monotonic()``)."""

    entries: list[Entry]
    at: float


class Claims:
    """The batches claimed for one sink and not sent yet, shared by the drainer's workers."""

    def __init__(self, outbox: Outbox, *, sink: str, batch_size: int, concurrency: int, lease: float) -> None:
        self.outbox = outbox
        self.sink = sink
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease = lease
        self._ready: collections.deque[Claim] = collections.deque()  # claimed, not taken by a worker
        self._claiming = asyncio.Lock()  # one claim at a time, for all the workers

    async def take(self) -> Claim:
        """The next batch to send (empty when nothing is free). Batches are claimed
        ``concurrency`` at a time (one transaction for all the workers)."""
        async with self._claiming:
            if not self._ready:
                entries = await self.outbox.claim(
                    self.sink, limit=self.batch_size * self.concurrency, lease=self.lease
                )
                at = time.monotonic()
                self._ready.extend(Claim(batch, at) for batch in split(entries, self.batch_size))
            return self._ready.popleft() if self._ready else Claim([], time.monotonic())

    async def fresh(self, claim: Claim) -> list[Entry]:
        """The entries of ``claim`` with their claim still good: renewed past half the lease; none
        once the lease may have run out (another claim, even this drainer's, may have taken them)."""
        age = time.monotonic() - claim.at
        if age < self.lease / 2 or not claim.entries:
            return claim.entries
        if age > self.lease * 0.9:
            return []
        return await self.outbox.renew(self.sink, claim.entries, lease=self.lease)

    async def give_back(self, ahead: asyncio.Future[Claim], *, error: str | None) -> None:
        """Release a batch taken ahead for a round that will not come."""
        try:
            claim = await ahead
        except (Exception, asyncio.CancelledError):  # the claim failed or was cancelled: nothing taken
            return
        if claim.entries:
            await self.outbox.release(self.sink, claim.entries, error=error)

    async def release_unsent(self, *, error: str | None) -> None:
        """Release the batches claimed and never taken (the round ends): back to the queue."""
        left = [entry for claim in self._ready for entry in claim.entries]
        self._ready.clear()
        if left:
            await asyncio.shield(self.outbox.release(self.sink, left, error=error))

    def forget(self) -> None:
        """Drop the batches claimed (the outbox failed: ``abandon`` frees them)."""
        self._ready.clear()


def split(entries: Sequence[Entry], size: int) -> list[list[Entry]]:
    """``entries`` in batches of about ``size``, all the versions of a key in the same batch."""
    if len({entry.entity_id for entry in entries}) == len(entries):  # the usual case: one version each
        return [list(entries[start : start + size]) for start in range(0, len(entries), size)]
    keys: dict[str, list[Entry]] = {}  # by id alone: an id of two tenants in one batch is harmless
    for entry in entries:
        keys.setdefault(entry.entity_id, []).append(entry)
    batches: list[list[Entry]] = []
    batch: list[Entry] = []
    for versions in keys.values():
        if batch and len(batch) + len(versions) > size:
            batches.append(batch)
            batch = []
        batch.extend(versions)
    if batch:
        batches.append(batch)
    return batches
