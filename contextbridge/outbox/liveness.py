"""Claims that outlive their worker by ``liveness`` seconds at most: leases, heartbeat, watchdog.

    >>> outbox = open_outbox("postgresql://cb@db/city", liveness=10)
    >>> entries = await outbox.claim("broker", limit=200, lease=300)   # held 10 s, renewed every 3.3 s
    >>> entries = await outbox.fence("broker", entries)                # before sending, before acking

A claim is held until ``lease_until``: ``min(lease, liveness)`` seconds after it was taken, pushed
on by a heartbeat thread every third of ``liveness`` while the worker runs. A worker frozen
(SIGSTOP, a VM pause, a hung disk) or cut off stops beating: once its leases ran out, the
watchdog of any other worker (run at their claims, and at each of their heartbeats) takes its
claims back, counts them (``reclaimed``) and logs a warning naming the worker. Nothing else waits
for a frozen worker: claims skip the keys another transaction holds; and every worker beats in the
``workers`` table too, so that the watchdog ends the database sessions of one silent for
``liveness`` (PostgreSQL), and with them any transaction it was frozen in and the row locks it held
(the puts of the entities it was storing wait for that, no longer).

Fencing: each claim carries a token. A thawed worker must not deliver what another worker took
over meanwhile: ``fence`` keeps only the entries it still holds (by owner and token), checked in
the outbox whenever the lease the heartbeat last renewed may have run out; ``ack``, ``release``
and ``dead_letter`` only settle the entries still held. The bound: a frozen worker delays its own
claims, and the puts of the entities it was storing, by ``liveness`` seconds plus a third of it
(the watchdog looks at every heartbeat, and at claims every second), and nothing of anyone else.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

from ..errors import OutboxError
from .base import Entry
from .deadletters import DeadLetterQueue
from .sql import Tx

log = logging.getLogger("contextbridge.outbox")
REAP_EVERY = 1.0  # seconds between looks for expired or orphaned claims while the queue is full
MARGIN = 0.5  # of ``liveness``: a lease younger than this is trusted without asking the outbox


class Leases(DeadLetterQueue):
    """The heartbeat, the watchdog and the fence of a SQL outbox."""

    _reap_at = 0.0  # when claims next look for expired or orphaned claims
    _beating: threading.Thread | None = None

    def _start_heartbeat(self, sink: str | None = None) -> None:
        """Beat for this worker (from its first put or claim on), and watch ``sink``'s claims."""
        if not hasattr(self, "_held"):
            self._held: dict[str, float] = {}  # claim token → until when its lease surely holds
            self._watched: set[str] = set()
            self._guard = threading.Lock()
            self._stopping = threading.Event()
        if sink is not None:
            self._watched.add(sink)
        if self._beating is None:
            self._beating = threading.Thread(target=self._heartbeat, name="outbox-heartbeat", daemon=True)
            self._beating.start()

    def _beat_transaction(self, work: Callable[[Tx], None]) -> None:
        """Run a heartbeat's transaction (a backend may give it a connection of its own, so that it
        never waits behind the worker's own busy connections)."""
        self._transaction(True, work, durable=False)

    def _hold(self, token: str | None, until: float) -> None:
        if token is not None:
            with self._guard:
                self._held[token] = max(until, self._held.get(token, until))

    def _surely_held(self, entries: Sequence[Entry]) -> bool:
        """Whether every lease of ``entries`` is surely still good, by this worker's own account."""
        now = time.time() + self.liveness * MARGIN
        held = getattr(self, "_held", {})
        return all(entry.token is not None and held.get(entry.token, 0.0) > now for entry in entries)

    def _heartbeat(self) -> None:
        while True:
            try:
                self._beat()
            except Exception as error:  # the database is away: the claims lapse, the next beat tries again
                log.warning("outbox heartbeat failed (%s); claims held may lapse", error)
            if self._stopping.wait(self.liveness / 3):
                return

    def _beat(self) -> None:
        started = time.time()
        until = started + self.liveness

        def work(tx: Tx) -> None:
            tx.run(
                "INSERT INTO workers (owner, beat) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET beat = excluded.beat",
                (self._owner, started),
            )
            # An expired lease stays expired: another worker may have taken its entries already.
            # Rows another transaction holds are skipped: this worker's ack deleting them, or a
            # watchdog taking them back; waiting for either could only deadlock.
            tx.run(
                "UPDATE deliveries SET lease_until = ? WHERE "
                + tx.dialect.within(
                    "seq",
                    "SELECT seq FROM deliveries WHERE owner = ? AND lease_until >= ? "
                    + tx.dialect.skip_locked,
                ),
                (until, self._owner, started),
            )
            self._silenced(tx, started)
            for sink in sorted(self._watched):
                self._reap(tx, sink, started)

        self._beat_transaction(work)
        with self._guard:
            for token, held in list(self._held.items()):
                if held >= started:
                    self._held[token] = until
                else:  # lapsed: the fence asks the outbox
                    del self._held[token]

    def _silenced(self, tx: Tx, now: float) -> None:
        """The watchdog, for workers: one whose heartbeat stopped ``liveness`` ago (frozen, cut off)
        has its sessions ended, and with them the transactions and row locks it holds (a session
        frozen in the middle of a pipelined transaction is not idle to the server, and would keep
        them for as long as the freeze lasts)."""
        silent = [
            (str(owner), float(beat))
            for owner, beat in tx.rows(
                "SELECT owner, beat FROM workers WHERE owner <> ? AND beat < ?",
                (self._owner, now - self.liveness),
            )
        ]
        if not silent:
            return
        ended = tx.dialect.end_sessions(tx, [owner for owner, _ in silent])
        tx.run(
            f"DELETE FROM workers WHERE {tx.dialect.among('owner')}",
            (tx.dialect.array([o for o, _ in silent]),),
        )
        for owner, beat in silent:
            if ended.get(owner):
                log.warning(
                    "outbox: worker %s stopped beating %.1f s ago: its %d database sessions ended, its locks freed",
                    owner,
                    now - beat,
                    ended[owner],
                )

    def _reap(self, tx: Tx, sink: str, now: float) -> None:
        """The watchdog: free the claims on ``sink`` whose lease ran out or whose owner is gone,
        and say whose they were."""
        self._reap_at = now + REAP_EVERY
        held = tx.rows(
            "SELECT owner, MIN(lease_until) FROM deliveries WHERE sink = ? AND owner IS NOT NULL GROUP BY owner",
            (sink,),
        )
        others = [owner for owner, _ in held if owner != self._owner]
        expired = {owner: until for owner, until in held if until is not None and until < now}
        dead = set(tx.dialect.gone(tx, others)) if others else set()
        if not expired and not dead:
            return
        chosen = tx.rows(
            "SELECT seq, owner FROM deliveries WHERE sink = ? AND owner IS NOT NULL "
            f"AND (lease_until < ? OR {tx.dialect.among('owner')}) {tx.dialect.skip_locked}",
            (sink, now, tx.dialect.array(sorted(dead))),
        )
        freed = [owner for _, owner in chosen]
        tx.run(
            "UPDATE deliveries SET owner = NULL, lease_until = NULL, token = NULL "
            f"WHERE {tx.dialect.among('seq', 'bigint')}",
            (tx.dialect.array([seq for seq, _ in chosen]),),
        )
        counts: dict[str, int] = {}
        for owner in freed:
            counts[owner] = counts.get(owner, 0) + 1
        for owner, count in sorted(counts.items()):
            if owner in dead:
                why = "is gone"
            else:
                late = now - expired.get(owner, now)
                why = f"stopped renewing its claims ({late:.1f} s past their lease)"
            log.warning(
                "outbox: worker %s %s: %d entries of %s taken back for the other workers",
                owner,
                why,
                count,
                sink,
            )
        tx.count(sink, "reclaimed", sum(counts.values()))

    async def close(self) -> None:
        if self._beating is not None:
            self._stopping.set()
            self._beating.join(self.liveness)
            self._beating = None
            with contextlib.suppress(OutboxError):  # a worker that leaves says so (else the watchdog will)
                await self._run(
                    True,
                    lambda tx: tx.run("DELETE FROM workers WHERE owner = ?", (self._owner,)),
                    durable=False,
                )
        await super().close()
