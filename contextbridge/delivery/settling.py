"""Settling the entries a drainer sent: acknowledging what the sink took, dead-lettering what it
refused.

    >>> acks = Acks(outbox, "broker", stats, on_written=wake_workers)
    >>> acks.add(delivered)                      # written in the background
    >>> await acks.flush()                       # wait until written (their errors surface here)
    >>> await DeadLetters(outbox, "broker", stats).put([(entry, problem)])

Acks are written in the background, those of several batches in one transaction when they come
faster than one is written: under load, one ack for several batches. A key stays claimed until
its ack is written, so its next version waits for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..outbox import Entry, Outbox
from ..remote.problemdetails import Problem

if TYPE_CHECKING:
    from .drainer import DeliveryStats


def _nothing() -> None:
    pass


class Acks:
    """Acknowledging: the entries a sink took, acked in the background, many batches at a time."""

    def __init__(
        self, outbox: Outbox, sink: str, stats: DeliveryStats, *, on_written: Callable[[], None] = _nothing
    ) -> None:
        self.outbox = outbox
        self.sink = sink
        self.stats = stats
        self.on_written = on_written  # the keys of the entries acked may be claimed again
        self._done: list[Entry] = []  # delivered, their ack not written yet
        self._older: list[Entry] = []  # superseded in a batch, likewise
        self._writer: asyncio.Future[None] | None = None

    def add(self, done: Sequence[Entry], superseded: Sequence[Entry] = ()) -> None:
        """Ack ``done`` (and ``superseded``) in the background. While one ack is being written the
        next ones gather, and go in one transaction."""
        self._done.extend(done)
        self._older.extend(superseded)
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write())
        elif self._writer.done():
            self._writer.result()  # an ack failed: raise it here

    async def _write(self) -> None:
        while self._done or self._older:
            done, older = self._done, self._older
            self._done, self._older = [], []
            await self.outbox.ack(self.sink, done, superseded=older)
            self.stats.observe(done, time.time())
            self.stats.delivered += len(done)
            self.stats.superseded += len(older)
            self.on_written()
        self._writer = None

    async def flush(self) -> None:
        """Wait until the acks are written (their errors surface here)."""
        while (writer := self._writer) is not None:
            if writer.cancelled():  # the drainer itself was cancelled: those acks were not written
                self._writer = None
                return
            # Shielded: the writer is shared, a worker cancelled while it waits must not cancel it.
            await asyncio.shield(writer)

    def forget(self) -> None:
        """Drop the acks not written (the outbox failed: those entries are sent once more)."""
        self._done, self._older = [], []
        if self._writer is not None and self._writer.done() and not self._writer.cancelled():
            self._writer.exception()  # retrieved: it was the round's failure, or one like it
        self._writer = None


class DeadLetters:
    """Dead-lettering: the entries a sink refused for good, into the dead-letter queue with the
    ProblemDetails saying why."""

    def __init__(
        self, outbox: Outbox, sink: str, stats: DeliveryStats, *, on_written: Callable[[], None] = _nothing
    ) -> None:
        self.outbox = outbox
        self.sink = sink
        self.stats = stats
        self.on_written = on_written

    async def put(self, refused: Sequence[tuple[Entry, Problem]]) -> None:
        if not refused:
            return
        await self.outbox.dead_letter(self.sink, list(refused))
        self.stats.dead_lettered += len(refused)
        self.on_written()
