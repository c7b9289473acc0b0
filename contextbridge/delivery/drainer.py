"""The drainer: takes entities from the outbox to a sink, until the outbox is empty or told to stop.

    >>> async with BrokerClient(url) as broker:
    ...     stats = await Drainer(outbox, broker, DrainSettings(concurrency=4)).run()
    >>> await Drainer(outbox, GraphSink(store), DrainSettings(sink="graph")).run()
    >>> stats.delivered, stats.dead_lettered

``concurrency`` workers each take a batch for the sink, send it, and settle every entry. The
drainer only runs them; each concern is one part: claiming (``claims.Claims``: batches claimed
several at a time, the next one while the previous is in flight), sending with retries
(``sending.Sender``: versions in turn, transient failures retried with the ``RetryPolicy`` or the
sink's Retry-After for as long as it takes, refused batches bisected), acknowledging
(``settling.Acks``: in the background, several batches in one transaction) and dead-lettering
(``settling.DeadLetters``, with the sink's ProblemDetails). The entries stay in the outbox
meanwhile: a broker down for an hour loses nothing, and stopping (or a crash) mid-retry leaves
them in the outbox for the next run.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import DeliveryError, OutboxError
from ..outbox import Entry, Outbox
from ..remote.retry import RetryPolicy
from .claims import Claim, Claims
from .sending import Sender, Stopped
from .settling import Acks, DeadLetters
from .sink import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, Sink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrainSettings:
    sink: str = "broker"
    batch_size: int = DEFAULT_BATCH_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    lease: float = 300.0  # renewed before each retry: a claim outlives any single request
    poll: float = 0.2  # wait before claiming again when the rest is held by other workers
    retry: RetryPolicy = field(default_factory=RetryPolicy)


# Upper bounds (seconds) of the delivery latency histogram: from the outbox write to the sink's ack.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass
class DeliveryStats:
    delivered: int = 0
    superseded: int = 0
    dead_lettered: int = 0
    retries: int = 0
    requests: int = 0
    last_error: str | None = None
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))  # per bucket
    latency_sum: float = 0.0  # seconds, over every delivered entity

    def observe(self, entries: Sequence[Entry], now: float) -> None:
        """Count the delivery latency of ``entries`` (acked at ``now``) in the histogram."""
        counts = self.latency
        total = 0.0
        for entry in entries:
            waited = max(0.0, now - entry.created)
            total += waited
            counts[bisect.bisect_left(LATENCY_BUCKETS, waited)] += 1
        self.latency_sum += total


class Drainer:
    """Drains one sink of an outbox into that sink."""

    def __init__(
        self,
        outbox: Outbox,
        sink: Sink,
        settings: DrainSettings | None = None,
        *,
        on_progress: Callable[[DeliveryStats], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.sink = sink
        self.settings = settings = settings or DrainSettings()
        self.stats = DeliveryStats()
        self.on_progress = on_progress
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()  # pulsed when a batch is settled: idle workers look again at once
        name = settings.sink
        self.claims = Claims(
            outbox,
            sink=name,
            batch_size=settings.batch_size,
            concurrency=settings.concurrency,
            lease=settings.lease,
        )
        self.acks = Acks(outbox, name, self.stats, on_written=self._acked)
        self.dead_letters = DeadLetters(outbox, name, self.stats, on_written=self._progress)
        self.sender = Sender(
            outbox,
            sink,
            name=name,
            lease=settings.lease,
            retry=settings.retry,
            stats=self.stats,
            acks=self.acks,
            dead_letters=self.dead_letters,
            sleep=self._sleep,
            on_retry=self._progress,
        )

    def stop(self) -> None:
        """Finish the requests in flight, then return; entries being retried stay in the outbox."""
        self._stopping.set()

    async def run(self, *, until_empty: bool = True) -> DeliveryStats:
        """Deliver until nothing is pending (``until_empty``) or until ``stop()``.

        When the outbox itself fails (``OutboxError``: its database lost, its disk full), a drainer
        that runs ``until_empty`` raises it; one that runs until ``stop()`` (the service's) waits,
        with the retry policy's backoff, frees the claims it lost track of, and goes on.
        """
        failures, owed = 0, False  # owed: claims a failed round lost track of, to free first
        retry = self.settings.retry
        while True:
            started = time.monotonic()
            try:
                if owed:  # else they would wait for their lease, and every later version of theirs
                    await self.outbox.abandon(self.settings.sink)
                    owed = False
                await self._round(until_empty)
                return self.stats
            except (OutboxError, ExceptionGroup) as raised:
                error = _outbox_error(raised)
                if error is None or until_empty:
                    raise
            owed = True
            self._forget()
            self.stats.last_error = str(error)
            failures = 1 if time.monotonic() - started > retry.maximum else failures + 1
            delay = retry.delay(failures)
            log.warning(
                "%s: the outbox failed (%s); delivering again in %.1f s", self.settings.sink, error, delay
            )
            await self._pause(delay)
            if self._stopping.is_set():
                return self.stats

    async def _round(self, until_empty: bool) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self.settings.concurrency):
                    group.create_task(self._worker(until_empty))
        finally:
            # Claimed for rounds that did not come: back to the queue.
            await self.claims.release_unsent(error=self.stats.last_error)
            await self.acks.flush()

    def _forget(self) -> None:
        """Forget the claims and acks of a round the outbox failed: the entries are still in the
        outbox, claimed (``abandon`` frees them) or delivered and not acked (sent once more)."""
        self.claims.forget()
        self.acks.forget()
        self.sender.forget()

    async def _worker(self, until_empty: bool) -> None:
        """Claim, send, settle, again. The next batch is claimed while this one is in flight."""
        sink = self.settings.sink
        ahead: asyncio.Future[Claim] | None = None
        try:
            while not self._stopping.is_set():
                claim = await (ahead if ahead is not None else self.claims.take())
                ahead = None
                if not claim.entries:
                    await self.acks.flush()  # acks being written still count as pending
                    if until_empty and await self.outbox.pending(sink) == 0:
                        return
                    await self._idle(self.settings.poll)
                    continue
                ahead = asyncio.ensure_future(self.claims.take())
                if not (entries := await self.claims.fresh(claim)):
                    continue
                try:
                    await self.sender.deliver(entries)
                except Stopped:
                    pass
                except DeliveryError as error:  # out of attempts (RetryPolicy.attempts): stop, keep the data
                    log.error("giving up on %s for now: %s", sink, error)
                    self.stop()
        finally:
            if ahead is not None:  # claimed for a next round that will not come: give it back
                await asyncio.shield(self.claims.give_back(ahead, error=self.stats.last_error))

    def _acked(self) -> None:
        self._progress()
        self._wake.set()  # workers waiting for the keys of these entries may claim them now
        self._wake.clear()

    async def _idle(self, seconds: float) -> None:
        """Wait for a batch to be settled, for ``stop()``, or ``seconds``, whichever comes first."""
        waits = [asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _sleep(self, seconds: float) -> None:
        await self._pause(seconds)
        if self._stopping.is_set():
            raise Stopped

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)


def _outbox_error(raised: BaseException) -> OutboxError | None:
    """The ``OutboxError`` that ended a round (alone, or in the task group's exceptions), if
    that is all that went wrong; ``None`` when anything else did."""
    if isinstance(raised, OutboxError):
        return raised
    if isinstance(raised, BaseExceptionGroup):
        found = [_outbox_error(inner) for inner in raised.exceptions]
        if found and all(error is not None for error in found):
            return found[0]
    return None
