"""Sending with retries: one claimed batch to the sink, until each entry is settled.

    >>> sender = Sender(outbox, sink, name="broker", lease=300.0, retry=RetryPolicy(), stats=stats,
    ...                 acks=acks, dead_letters=letters, sleep=pause)
    >>> await sender.deliver(entries)        # acked, dead-lettered, or given back to the outbox

Each version gets its turn: per id, a whole state supersedes the versions before it (never a
history one); the rest go in rounds, the n-th version of each id in the n-th, each round in
requests of one update policy (Orion-LD's ``options`` is per request).

Transient failures (``DeliveryError``: connection refused or dropped, timeouts, 429, 5xx) are
retried with the ``RetryPolicy``, for as long as it allows: the entries stay claimed meanwhile
(their claims checked, and renewed when in doubt, before each try). A batch refused as a whole (``SinkRefused``) is split
(``sink.bisect``) until the refused entities stand alone, and those are dead-lettered. Stopping
(``Stopped`` out of ``sleep``), running out of attempts or a cancellation gives back whatever was
not settled, for the next run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenacity import RetryCallState

from ..entities.updates import REPLACE, UpdatePolicy
from ..errors import DeliveryError, SinkRefused
from ..outbox import Entry, Outbox
from ..remote.retry import RetryPolicy
from .settling import Acks, DeadLetters
from .sink import Batch, Sink, bisect

if TYPE_CHECKING:
    from .drainer import DeliveryStats

log = logging.getLogger(__name__)


class Stopped(Exception):
    """Raised out of a backoff sleep when the drainer is told to stop."""


@dataclass(frozen=True)
class Attempt:
    """What one attempt at a group left: the entries still unconfirmed, the batches refused as a
    whole (to bisect), and the transient failure that cut it short, if any."""

    pending: list[Entry]
    refused: list[tuple[list[Entry], SinkRefused]]
    error: DeliveryError | None = None


class Sender:
    """Sends claimed batches to one sink, with retries, and settles every entry."""

    def __init__(
        self,
        outbox: Outbox,
        sink: Sink,
        *,
        name: str,
        lease: float,
        retry: RetryPolicy,
        stats: DeliveryStats,
        acks: Acks,
        dead_letters: DeadLetters,
        sleep: Callable[[float], Awaitable[None]],
        on_retry: Callable[[], None] = lambda: None,
    ) -> None:
        self.outbox = outbox
        self.sink = sink
        self.name = name
        self.lease = lease
        self.retry = retry
        self.stats = stats
        self.acks = acks
        self.dead_letters = dead_letters
        self.sleep = sleep  # raises Stopped when the drainer stops
        self.on_retry = on_retry
        self.tries: dict[int, int] = {}  # seq -> attempts in this run (kept off the hot path)
        self._encoded = getattr(sink, "encoded_batches", None)  # EncodedSink: sent as stored

    def batches(self, entries: Sequence[Entry]) -> Sequence[Batch]:
        """The batches the sink cuts of ``entries``: of their stored JSON when it takes it as it is
        (``EncodedSink``), else of the entities decoded."""
        if self._encoded is not None:
            batches: Sequence[Batch] = self._encoded([(entry.entity_id, entry.body) for entry in entries])
            return batches
        return self.sink.batches([entry.entity for entry in entries])

    async def deliver(self, entries: Sequence[Entry]) -> None:
        """Deliver one claimed batch. Every entry ends acked, dead-lettered or, when the drainer
        stops (``Stopped``), the attempts run out (``DeliveryError``) or on cancellation, given
        back to the outbox."""
        delivery = Delivery(self, entries)
        try:
            await delivery.run()
        except DeliveryError as error:
            self.stats.last_error = str(error)
            raise
        finally:
            if delivery.held:  # back to the queue for the next run
                left = self.counted(delivery.held.values())
                await asyncio.shield(self.outbox.release(self.name, left, error=self.stats.last_error))

    def counted(self, entries: Iterable[Entry]) -> list[Entry]:
        """``entries`` with this run's attempts added (only for the few released or dead-lettered)."""
        now = time.time()
        return [
            dataclasses.replace(
                entry,
                attempts=entry.attempts + self.tries.pop(entry.seq, 0),
                first_attempt=entry.first_attempt or now,
            )
            for entry in entries
        ]

    def forget(self) -> None:
        self.tries.clear()

    def failed(self, state: RetryCallState) -> None:
        """Before the wait of a retry: count it, say it."""
        error = state.outcome.exception() if state.outcome else None
        self.stats.retries += 1
        self.stats.last_error = str(error)
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("delivery to %s failed (%s); attempt %d, next in %.1fs", self.name, error,
                    state.attempt_number, wait)  # fmt: skip
        self.on_retry()


class Delivery:
    """One claimed batch on its way: ``held`` is what it still has to settle."""

    def __init__(self, sender: Sender, entries: Sequence[Entry]) -> None:
        self.sender = sender
        self.held = {entry.seq: entry for entry in entries}

    async def run(self) -> None:
        """Send each version its turn (see the module's docstring)."""
        by_tenant: dict[str | None, dict[str, list[Entry]]] = {}
        older: list[Entry] = []
        for entry in sorted(self.held.values(), key=lambda entry: entry.seq):
            versions = by_tenant.setdefault(entry.tenant, {}).setdefault(entry.entity_id, [])
            if versions and not entry.policy.merge:
                older.extend(version for version in versions if not version.policy.history)
                versions[:] = [version for version in versions if version.policy.history]
            versions.append(entry)
        if older:
            self.sender.acks.add([], superseded=older)
            self._settled(older)
        for tenant, keys in by_tenant.items():
            rounds = max(len(versions) for versions in keys.values())
            for turn in range(rounds):
                by_policy: dict[UpdatePolicy, list[Entry]] = {}
                for versions in keys.values():
                    if turn < len(versions):
                        by_policy.setdefault(versions[turn].policy, []).append(versions[turn])
                for policy, group in by_policy.items():
                    await self.send(group, tenant, policy)

    async def send(
        self, entries: Sequence[Entry], tenant: str | None, policy: UpdatePolicy = REPLACE
    ) -> None:
        """Send ``entries`` (one tenant, distinct ids, one policy) until each is acked or
        dead-lettered: retried while the sink fails, then the batches it refused bisected."""
        sender = self.sender
        pending = list(entries)
        refused: list[tuple[list[Entry], SinkRefused]] = []
        async for attempt in sender.retry.retrying(sleep=sender.sleep, before_sleep=sender.failed):
            with attempt:
                # Fencing, before every try: only what this worker still holds is sent (one frozen
                # past its lease and thawed may have lost its claims to another worker).
                pending, refused = await self._fence(pending, refused)
                sender.tries.update((entry.seq, sender.tries.get(entry.seq, 0) + 1) for entry in pending)
                done = await self.attempt(pending, tenant, policy)
                pending, refused = done.pending, refused + done.refused
                if done.error is not None:
                    raise done.error
                if pending:
                    raise DeliveryError(f"{len(pending)} entities not confirmed by the sink; sending again")
        for sent, refusal in refused:
            await bisect(sent, refusal, lambda half: self.send(half, tenant, policy), self._alone)

    async def attempt(self, entries: list[Entry], tenant: str | None, policy: UpdatePolicy) -> Attempt:
        """One try at ``entries``: one request per batch the sink cuts, the entities it took acked
        and those it refused one by one dead-lettered. The one place entries leave for the sink."""
        sender = self.sender
        pending = entries
        refused: list[tuple[list[Entry], SinkRefused]] = []
        for batch in sender.batches(entries):
            by_id = {entry.entity_id: entry for entry in pending}
            sent = [by_id[entity_id] for entity_id in batch.ids]
            sender.stats.requests += 1
            try:
                result = await sender.sink.upsert(batch, tenant=tenant, policy=policy)
            except SinkRefused as refusal:
                refused.append((sent, refusal))
                gone = {entry.seq for entry in sent}
            except DeliveryError as error:
                return Attempt(pending, refused, error)
            else:
                by_id = {entry.entity_id: entry for entry in sent}
                done = [by_id[entity_id] for entity_id in result.success if entity_id in by_id]
                failed = [(by_id[f.entity_id], f.problem) for f in result.errors if f.entity_id in by_id]
                if done:
                    sender.acks.add(done)
                    for entry in done:
                        sender.tries.pop(entry.seq, None)
                if failed:
                    counted = sender.counted(entry for entry, _ in failed)
                    await sender.dead_letters.put(
                        [(entry, problem) for entry, (_, problem) in zip(counted, failed, strict=True)]
                    )
                self._settled([*done, *(entry for entry, _ in failed)])
                gone = {entry.seq for entry in sent} - {by_id[entity_id].seq for entity_id in result.missing}
            pending = [entry for entry in pending if entry.seq not in gone]
        return Attempt(pending, refused)

    async def _alone(self, entry: Entry, refusal: SinkRefused) -> None:
        """An entity refused alone: dead-lettered with the sink's ProblemDetails."""
        log.warning("%s: dead-lettered: %s", entry.entity_id, refusal)
        await self.sender.dead_letters.put([(self.sender.counted([entry])[0], refusal.problem)])
        self._settled([entry])

    async def _fence(
        self, pending: list[Entry], refused: list[tuple[list[Entry], SinkRefused]]
    ) -> tuple[list[Entry], list[tuple[list[Entry], SinkRefused]]]:
        """Before a try: the claims still held (renewed when in doubt); those lost (the lease ran
        out: another worker has them) are no longer this batch's to settle."""
        waiting = [*pending, *(entry for sent, _ in refused for entry in sent)]
        renewed = await self.sender.outbox.fence(self.sender.name, waiting)
        kept = {entry.seq: entry for entry in renewed}
        self._settled(entry for entry in waiting if entry.seq not in kept)
        still = [
            ([kept[entry.seq] for entry in sent if entry.seq in kept], refusal)
            for sent, refusal in refused
            if any(entry.seq in kept for entry in sent)
        ]
        return [kept[entry.seq] for entry in pending if entry.seq in kept], still

    def _settled(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.held.pop(entry.seq, None)
