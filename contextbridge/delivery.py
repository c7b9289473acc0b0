"""The drainer: takes entities from the outbox to a sink, until the outbox is empty or told to stop.

    >>> async with BrokerClient(url) as broker:
    ...     stats = await Drainer(outbox, broker, DrainSettings(concurrency=4)).run()
    >>> await Drainer(outbox, GraphSink(store), DrainSettings(sink="graph")).run()
    >>> stats.delivered, stats.dead_lettered

The outbox's work stays off the path of the requests: batches are claimed several at a time, the
next one while the previous is in flight, and acks are written in the background, those of
several batches in one transaction when they come faster than one is written.

Each worker takes a batch for its sink, sends it, and settles every entry: delivered entries are
acked, refused ones dead-lettered with the broker's ProblemDetails (a whole-batch refusal is split
until the refused entities are isolated, so one bad entity never takes its batch down with it),
and transient failures (connection refused or dropped, timeouts, 429, 5xx) are retried with
exponential backoff and jitter, or after the broker's Retry-After, for as long as it takes: the
entries stay in the outbox meanwhile, a broker down for an hour loses nothing. Stopping (or a
crash) mid-retry leaves the entries in the outbox for the next run.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, stop_never
from tenacity.wait import wait_exponential_jitter

from .broker import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from .broker.problems import BatchResult
from .errors import BrokerError, DeliveryError, OutboxError
from .outbox import Entry, Outbox
from .updates import REPLACE, UpdatePolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts: ``initial`` doubling up to ``maximum``, plus up to ``jitter``
    seconds at random (so workers do not hammer a recovering broker in step). A Retry-After from
    the broker is obeyed instead, up to ``max_retry_after``. ``attempts=None``: never give up; else,
    after that many attempts at one batch, the drainer stops and the data waits in the outbox."""

    initial: float = 0.5
    maximum: float = 60.0
    jitter: float = 1.0
    max_retry_after: float = 3600.0
    attempts: int | None = None


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


class Batch(Protocol):
    """What a sink sends in one request: the ids of its entities, in order."""

    @property
    def ids(self) -> Sequence[str]: ...


class Sink(Protocol):
    """Where a drainer delivers: the broker (``BrokerClient``) or the city graph (``GraphSink``).

    ``upsert`` answers what became of each entity of the batch (``policy``: whole states or
    partial ones, with history or not, as the outbox entries say); it raises ``BrokerError`` when the
    whole batch is refused for good, ``DeliveryError`` when it may succeed if sent again.
    """

    def batches(self, entities: Sequence[Any]) -> Sequence[Batch]: ...

    async def upsert(
        self, batch: Any, *, tenant: str | None = None, policy: UpdatePolicy = REPLACE
    ) -> BatchResult: ...


class _Stopped(Exception):
    """Raised out of a backoff sleep when the drainer is told to stop."""


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
        self.settings = settings or DrainSettings()
        self.stats = DeliveryStats()
        self.on_progress = on_progress
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()  # pulsed when a batch is settled: idle workers look again at once
        self._claiming = asyncio.Lock()  # one claim at a time, for all the workers
        self._ready: collections.deque[tuple[float, list[Entry]]] = collections.deque()  # claimed, not sent
        self._done: list[Entry] = []  # delivered, their ack not written yet
        self._older: list[Entry] = []  # superseded in a batch, likewise
        self._acker: asyncio.Future[None] | None = None  # writes the acks, many batches at a time
        self._tries: dict[int, int] = {}  # seq -> attempts in this run (kept off the hot path)
        retry = self.settings.retry
        self._backoff = wait_exponential_jitter(
            multiplier=retry.initial, max=retry.maximum, jitter=retry.jitter
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
            self._reset()
            self.stats.last_error = str(error)
            retry = self.settings.retry
            failures = 1 if time.monotonic() - started > retry.maximum else failures + 1
            delay = min(retry.maximum, retry.initial * 2 ** (failures - 1))
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
            left = [entry for _, batch in self._ready for entry in batch]
            self._ready.clear()
            if left:  # claimed for rounds that did not come: back to the queue
                await asyncio.shield(
                    self.outbox.release(self.settings.sink, left, error=self.stats.last_error)
                )
            await self._flush()

    def _reset(self) -> None:
        """Forget the claims and acks of a round the outbox failed: the entries are still in the
        outbox, claimed (``abandon`` frees them) or delivered and not acked (sent once more)."""
        self._ready.clear()
        self._done, self._older = [], []
        if self._acker is not None and self._acker.done() and not self._acker.cancelled():
            self._acker.exception()  # retrieved: it was the round's failure, or one like it
        self._acker = None
        self._tries.clear()

    async def _claim(self) -> tuple[float, list[Entry]]:
        """The next batch to send, and when it was claimed. Batches are claimed ``concurrency`` at
        a time (one transaction for all the workers), the versions of one key in one batch."""
        settings = self.settings
        async with self._claiming:
            if not self._ready:
                entries = await self.outbox.claim(
                    settings.sink, limit=settings.batch_size * settings.concurrency, lease=settings.lease
                )
                claimed = time.monotonic()
                self._ready.extend((claimed, batch) for batch in _split(entries, settings.batch_size))
            return self._ready.popleft() if self._ready else (time.monotonic(), [])

    async def _fresh(self, claimed: float, entries: list[Entry]) -> list[Entry]:
        """``entries`` with their claim still good: renewed past half the lease; none once the lease
        may have run out (another claim, even this drainer's, may have taken them since)."""
        age = time.monotonic() - claimed
        if age < self.settings.lease / 2 or not entries:
            return entries
        if age > self.settings.lease * 0.9:
            return []
        return await self.outbox.renew(self.settings.sink, entries, lease=self.settings.lease)

    async def _worker(self, until_empty: bool) -> None:
        """Claim, send, settle, again. The outbox's work stays off the path of the requests: the
        next batch is claimed while this one is in flight, and acks are written in the background
        (a key stays claimed, so its next version waits, until its ack is written)."""
        sink = self.settings.sink
        ahead: asyncio.Future[tuple[float, list[Entry]]] | None = None
        try:
            while not self._stopping.is_set():
                claimed, entries = await (ahead if ahead is not None else self._claim())
                ahead = None
                if not entries:
                    await self._flush()  # acks being written still count as pending
                    if until_empty and await self.outbox.pending(sink) == 0:
                        return
                    await self._idle(self.settings.poll)
                    continue
                ahead = asyncio.ensure_future(self._claim())
                if not (entries := await self._fresh(claimed, entries)):
                    continue
                held = {entry.seq: entry for entry in entries}
                try:
                    await self._deliver(entries, held)
                except _Stopped:
                    pass
                except DeliveryError as error:  # out of attempts (RetryPolicy.attempts): stop, keep the data
                    log.error("giving up on %s for now: %s", sink, error)
                    self.stats.last_error = str(error)
                    self.stop()
                finally:
                    if held:  # stopped, cancelled or failed: back to the queue for the next run
                        await asyncio.shield(
                            self.outbox.release(
                                sink, self._counted(list(held.values())), error=self.stats.last_error
                            )
                        )
        finally:
            if ahead is not None:  # claimed for a next round that will not come: give it back
                await asyncio.shield(self._give_back(ahead))

    async def _give_back(self, claimed: asyncio.Future[tuple[float, list[Entry]]]) -> None:
        try:
            _, entries = await claimed
        except (Exception, asyncio.CancelledError):  # the claim failed or was cancelled: nothing taken
            return
        if entries:
            await self.outbox.release(self.settings.sink, entries, error=self.stats.last_error)

    def _acked(self, done: Sequence[Entry], superseded: Sequence[Entry] = ()) -> None:
        """Ack ``done`` (and ``superseded``) in the background. While one ack is being written the
        next ones gather, and go in one transaction: under load, one ack for several batches."""
        self._done.extend(done)
        self._older.extend(superseded)
        if self._acker is None:
            self._acker = asyncio.ensure_future(self._write_acks())
        elif self._acker.done():
            self._acker.result()  # an ack failed: raise it here

    async def _write_acks(self) -> None:
        while self._done or self._older:
            done, older = self._done, self._older
            self._done, self._older = [], []
            await self.outbox.ack(self.settings.sink, done, superseded=older)
            self.stats.observe(done, time.time())
            self.stats.delivered += len(done)
            self.stats.superseded += len(older)
            self._progress()
            self._wake.set()  # workers waiting for the keys of these entries may claim them now
            self._wake.clear()
        self._acker = None

    async def _flush(self) -> None:
        """Wait until the acks are written (their errors surface here)."""
        while (acker := self._acker) is not None:
            if acker.cancelled():  # the drainer itself was cancelled: those acks were not written
                self._acker = None
                return
            # Shielded: the writer is shared, a worker cancelled while it waits must not cancel it.
            await asyncio.shield(acker)

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
            raise _Stopped

    async def _deliver(self, entries: Sequence[Entry], held: dict[int, Entry]) -> None:
        """Send each version its turn: per id, a whole state supersedes the versions before it
        (but never a history one); the rest go in rounds, the n-th version of each id in the n-th,
        and each round in requests of one update policy (Orion-LD's ``options`` is per request)."""
        by_tenant: dict[str | None, dict[str, list[Entry]]] = {}
        older: list[Entry] = []
        for entry in sorted(entries, key=lambda entry: entry.seq):
            versions = by_tenant.setdefault(entry.tenant, {}).setdefault(entry.entity_id, [])
            if versions and not entry.policy.merge:
                older.extend(version for version in versions if not version.policy.history)
                versions[:] = [version for version in versions if version.policy.history]
            versions.append(entry)
        if older:
            self._acked([], superseded=older)
            for entry in older:
                held.pop(entry.seq)
        for tenant, keys in by_tenant.items():
            rounds = max(len(versions) for versions in keys.values())
            for turn in range(rounds):
                by_policy: dict[UpdatePolicy, list[Entry]] = {}
                for versions in keys.values():
                    if turn < len(versions):
                        by_policy.setdefault(versions[turn].policy, []).append(versions[turn])
                for policy, group in by_policy.items():
                    await self._send(group, tenant, held, policy)

    async def _send(
        self, entries: list[Entry], tenant: str | None, held: dict[int, Entry], policy: UpdatePolicy = REPLACE
    ) -> None:
        """Send ``entries`` (one tenant, distinct ids, one policy) until each is acked or dead-lettered."""
        sink = self.settings.sink
        retry = self.settings.retry
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(DeliveryError),
            wait=self._wait,
            stop=stop_never if retry.attempts is None else stop_after_attempt(retry.attempts),
            sleep=self._sleep,
            before_sleep=self._failed,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                # Fencing: only what this worker still holds is sent (one frozen past its lease and
                # thawed may have lost its claims to another worker; the outbox's ack is fenced too).
                kept = await self.outbox.fence(sink, entries)
                for seq in {entry.seq for entry in entries} - {entry.seq for entry in kept}:
                    held.pop(seq, None)  # the claim was lost (lease ran out): another worker has it
                entries = kept
                self._tries.update((entry.seq, self._tries.get(entry.seq, 0) + 1) for entry in entries)
                for batch in self.sink.batches([entry.entity for entry in entries]):
                    by_id = {entry.entity_id: entry for entry in entries}
                    sent = [by_id[entity_id] for entity_id in batch.ids]
                    self.stats.requests += 1
                    try:
                        result = await self.sink.upsert(batch, tenant=tenant, policy=policy)
                    except BrokerError as error:
                        await self._refused(sent, error, tenant, held, policy)
                        refused = {entry.seq for entry in sent}
                        entries = [entry for entry in entries if entry.seq not in refused]
                        continue
                    entries = await self._settle(sent, result, held, entries)
                if entries:
                    raise DeliveryError(f"{len(entries)} entities not confirmed by the broker; sending again")

    def _counted(self, entries: Sequence[Entry]) -> list[Entry]:
        """``entries`` with this run's attempts added (only for the few released or dead-lettered)."""
        now = time.time()
        return [
            dataclasses.replace(
                entry,
                attempts=entry.attempts + self._tries.pop(entry.seq, 0),
                first_attempt=entry.first_attempt or now,
            )
            for entry in entries
        ]

    async def _settle(
        self, sent: list[Entry], result: BatchResult, held: dict[int, Entry], remaining: list[Entry]
    ) -> list[Entry]:
        """Ack the successes, dead-letter the failures; the entries still unconfirmed."""
        sink = self.settings.sink
        by_id = {entry.entity_id: entry for entry in sent}
        done = [by_id[entity_id] for entity_id in result.success if entity_id in by_id]
        failed = [(by_id[f.entity_id], f.problem) for f in result.errors if f.entity_id in by_id]
        if done:
            self._acked(done)
            for entry in done:
                self._tries.pop(entry.seq, None)
        if failed:
            counted = self._counted([entry for entry, _ in failed])
            await self.outbox.dead_letter(
                sink, [(entry, problem) for entry, (_, problem) in zip(counted, failed, strict=True)]
            )
        for entry in (*done, *(entry for entry, _ in failed)):
            held.pop(entry.seq, None)
        self.stats.dead_lettered += len(failed)
        if failed:
            self._progress()
        settled = {entry.seq for entry in sent} - {by_id[entity_id].seq for entity_id in result.missing}
        return [entry for entry in remaining if entry.seq not in settled]

    async def _refused(
        self,
        sent: list[Entry],
        error: BrokerError,
        tenant: str | None,
        held: dict[int, Entry],
        policy: UpdatePolicy,
    ) -> None:
        """A whole batch refused: split it until each refused entity stands alone, then dead-letter."""
        if len(sent) > 1:
            middle = len(sent) // 2
            for half in (sent[:middle], sent[middle:]):
                await self._send(half, tenant, held, policy)
            return
        log.warning("%s: dead-lettered: %s", sent[0].entity_id, error)
        await self.outbox.dead_letter(self.settings.sink, [(self._counted(sent)[0], error.problem)])
        held.pop(sent[0].seq, None)
        self.stats.dead_lettered += 1
        self._progress()

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        after = getattr(error, "retry_after", None)
        if after is not None:
            return float(min(after, self.settings.retry.max_retry_after))
        return float(self._backoff(state))

    def _failed(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        self.stats.retries += 1
        self.stats.last_error = str(error)
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("delivery to %s failed (%s); attempt %d, next in %.1fs", self.settings.sink, error,
                    state.attempt_number, wait)  # fmt: skip
        self._progress()

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)


def _split(entries: Sequence[Entry], size: int) -> list[list[Entry]]:
    """``entries`` in batches of about ``size``, all the versions of a key in the same batch (the
    batch sends them in turn, or the latest and acks the others as superseded: versions never race
    each other)."""
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
