"""The outbox queue in SQL: put, claim, renew, ack, release — the same statements on every backend.

    >>> entries = await outbox.claim("broker", limit=200, lease=60)
    >>> await outbox.ack("broker", entries)

Order per entity id: a claim never takes an entry whose (tenant, id) has another entry claimed
(by anyone, any process), so versions of one entity reach a sink one claim after the other, in
the order they were put; entry numbers come from a counter taken under the write lock, so their
order is the commit order even with several writers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from .base import Entity, Entry, PutResult
from .deadletters import DeadLetterQueue
from .sql import SEQ, Tx, chunks, digest, marks


class SqlOutbox(DeadLetterQueue):
    """The Outbox protocol over SQL; a backend subclass opens the connection."""

    async def put(
        self,
        entities: Iterable[Entity],
        *,
        tenant: str | None = None,
        feed: str | None = None,
        sinks: Sequence[str] | None = None,
    ) -> PutResult:
        """Queue each entity for each sink, in one transaction (all of them or none)."""
        versions = [
            (str(entity["id"]), orjson.dumps(entity, option=orjson.OPT_SORT_KEYS)) for entity in entities
        ]
        targets = tuple(sinks or self.sinks)
        superseded = 0
        if self.supersede:
            latest = dict(versions)
            superseded = (len(versions) - len(latest)) * len(targets)
            versions = list(latest.items())
        if not versions:
            return PutResult()
        result = await self._run(True, lambda tx: self._put(tx, versions, tenant or "", feed, targets))
        return PutResult(result.queued, result.superseded + superseded, result.unchanged)

    def _put(
        self,
        tx: Tx,
        versions: Sequence[tuple[str, bytes]],
        tenant: str,
        feed: str | None,
        sinks: Sequence[str],
        *,
        force: bool = False,
    ) -> PutResult:
        now = time.time()
        digests = [digest(body) for _, body in versions]
        wanted: list[list[str]] = [[] for _ in versions]
        ids = list({entity_id for entity_id, _ in versions})
        superseded = unchanged = 0
        for sink in sinks:
            # What the sink will hold once the waiting entries are through: with supersession the
            # unclaimed ones are dropped, so it is the latest claimed version, else the delivered one.
            last: dict[str, str] = {}
            free: dict[str, list[tuple[int, str]]] = {}  # id -> (seq, digest) waiting, not claimed
            for part in chunks(ids):
                for entity_id, found in tx.rows(
                    f"SELECT entity_id, digest FROM heads WHERE sink = ? AND tenant = ? "
                    f"AND entity_id IN ({marks(len(part))})",
                    (sink, tenant, *part),
                ):
                    last[entity_id] = found
                for entity_id, found, seq, owner in tx.rows(
                    "SELECT d.entity_id, e.digest, d.seq, d.owner FROM deliveries d JOIN entries e "
                    f"ON e.seq = d.seq WHERE d.sink = ? AND d.tenant = ? AND d.entity_id IN ({marks(len(part))})"
                    " ORDER BY d.seq",
                    (sink, tenant, *part),
                ):
                    if owner is None:
                        free.setdefault(entity_id, []).append((seq, found))
                    if owner is not None or not self.supersede:
                        last[entity_id] = found
            drop: list[int] = []
            for index, (entity_id, _) in enumerate(versions):
                if self.supersede:
                    waiting = free.pop(entity_id, [])
                    if waiting and waiting[-1][1] == digests[index] and self.skip_unchanged and not force:
                        free[entity_id] = waiting[-1:]  # the same version already waits: keep it
                        drop.extend(seq for seq, _ in waiting[:-1])
                        unchanged += 1
                        continue
                    drop.extend(seq for seq, _ in waiting)
                if not force and self.skip_unchanged and last.get(entity_id) == digests[index]:
                    unchanged += 1
                    continue
                last[entity_id] = digests[index]
                wanted[index].append(sink)
            if drop:
                superseded += len(drop)
                tx.forget(sink, drop)
                tx.count(sink, "superseded", len(drop))
                self._collect(tx, drop)
        rows = [(index, targets) for index, targets in enumerate(wanted) if targets]
        if not rows:
            return PutResult(0, superseded, unchanged)
        ((top,),) = tx.rows(
            "INSERT INTO counters (sink, name, value) VALUES (?, ?, ?) ON CONFLICT (sink, name) "
            "DO UPDATE SET value = counters.value + excluded.value RETURNING value",
            (*SEQ, len(rows)),
        )
        start = int(top) - len(rows) + 1
        tx.many(
            "INSERT INTO entries (seq, tenant, entity_id, feed, body, digest, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    start + n,
                    tenant,
                    versions[index][0],
                    feed,
                    versions[index][1].decode(),
                    digests[index],
                    now,
                )
                for n, (index, _) in enumerate(rows)
            ),
        )
        tx.many(
            "INSERT INTO deliveries (sink, seq, tenant, entity_id, attempts) VALUES (?, ?, ?, ?, 0)",
            (
                (sink, start + n, tenant, versions[index][0])
                for n, (index, targets) in enumerate(rows)
                for sink in targets
            ),
        )
        return PutResult(sum(len(targets) for _, targets in rows), superseded, unchanged)

    def _requeue(self, tx: Tx, sink: str, tenant: str, entity_id: str, feed: str | None, body: bytes) -> None:
        self._put(tx, [(entity_id, body)], tenant, feed, (sink,), force=True)

    def _collect(self, tx: Tx, seqs: Sequence[int]) -> None:
        """Delete the entries no sink waits for any more."""
        for part in chunks(list(seqs)):
            tx.run(
                f"DELETE FROM entries WHERE seq IN ({marks(len(part))}) AND NOT EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.seq = entries.seq)",
                part,
            )

    async def claim(self, sink: str, *, limit: int, lease: float) -> list[Entry]:
        """Up to ``limit`` waiting entries of ``sink``, oldest first, none of a key claimed elsewhere."""
        return await self._run(True, lambda tx: self._claim(tx, sink, limit, lease))

    def _claim(self, tx: Tx, sink: str, limit: int, lease: float) -> list[Entry]:
        now = time.time()
        owners = {
            row[0]
            for row in tx.rows(
                "SELECT DISTINCT owner FROM deliveries WHERE sink = ? AND owner IS NOT NULL", (sink,)
            )
        } - {self._owner}
        dead = sorted(owners - self._dialect.alive(tx.cursor, owners)) if owners else []
        # A crashed worker's claims are free at once (its process or connection is gone); a live
        # but silent one's when their lease runs out.
        tx.run(
            "UPDATE deliveries SET owner = NULL, lease_until = NULL WHERE sink = ? AND owner IS NOT NULL "
            f"AND (lease_until < ? OR owner IN ({marks(len(dead)) or 'NULL'}))",
            (sink, now, *dead),
        )
        # Keys with a live claim are few (workers × batch size): read them, then page through the
        # waiting entries in order and skip theirs (a correlated NOT EXISTS makes SQLite scan).
        busy = set(
            tx.rows("SELECT tenant, entity_id FROM deliveries WHERE sink = ? AND owner IS NOT NULL", (sink,))
        )
        rows: list[tuple[Any, ...]] = []
        after = -1
        while len(rows) < limit:
            page = tx.rows(
                "SELECT d.seq, d.tenant, d.entity_id, e.feed, e.body, d.attempts, d.first_attempt, e.created "
                "FROM deliveries d JOIN entries e ON e.seq = d.seq WHERE d.sink = ? AND d.owner IS NULL "
                "AND d.seq > ? ORDER BY d.seq LIMIT ?",
                (sink, after, limit),
            )
            rows.extend(row for row in page if (row[1], row[2]) not in busy)
            if len(page) < limit:
                break
            after = page[-1][0]
        rows = rows[:limit]
        for part in chunks([row[0] for row in rows]):
            tx.run(
                f"UPDATE deliveries SET owner = ?, lease_until = ? WHERE sink = ? AND seq IN ({marks(len(part))})",
                (self._owner, now + lease, sink, *part),
            )
        return [
            Entry(seq, sink, tenant or None, entity_id, orjson.loads(body), feed, attempts, first, created)
            for seq, tenant, entity_id, feed, body, attempts, first, created in rows
        ]

    async def renew(self, sink: str, entries: Sequence[Entry], *, lease: float) -> list[Entry]:
        """Extend the lease of ``entries``; those no longer held (lease lost) are left out."""

        def work(tx: Tx) -> list[Entry]:
            until = time.time() + lease
            held: set[int] = set()
            for part in chunks([entry.seq for entry in entries]):
                params = (sink, self._owner, *part)
                where = f"sink = ? AND owner = ? AND seq IN ({marks(len(part))})"
                held.update(row[0] for row in tx.rows(f"SELECT seq FROM deliveries WHERE {where}", params))
                tx.run(f"UPDATE deliveries SET lease_until = ? WHERE {where}", (until, *params))
            return [entry for entry in entries if entry.seq in held]

        return await self._run(True, work)

    async def ack(self, sink: str, entries: Sequence[Entry], *, superseded: Sequence[Entry] = ()) -> None:
        """``entries`` reached ``sink``; ``superseded`` were older versions replaced before sending."""

        def work(tx: Tx) -> None:
            done = [entry.seq for entry in (*entries, *superseded)]
            tx.forget(sink, done)
            rows = [
                row
                for part in chunks([entry.seq for entry in entries])
                for row in tx.rows(
                    f"SELECT seq, tenant, entity_id, digest FROM entries WHERE seq IN ({marks(len(part))})",
                    part,
                )
            ]
            tx.many(
                "INSERT INTO heads (sink, tenant, entity_id, digest, seq) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (sink, tenant, entity_id) DO UPDATE SET digest = excluded.digest, "
                "seq = excluded.seq WHERE excluded.seq > heads.seq",
                ((sink, tenant, entity_id, found, seq) for seq, tenant, entity_id, found in sorted(rows)),
            )
            tx.count(sink, "delivered", len(entries))
            tx.count(sink, "superseded", len(superseded))
            self._collect(tx, done)

        await self._run(True, work)

    async def release(self, sink: str, entries: Sequence[Entry], *, error: str | None = None) -> None:
        """Give ``entries`` back to the queue after failed attempts (``Entry.attempts`` is kept)."""
        now = time.time()
        await self._run(
            True,
            lambda tx: tx.many(
                "UPDATE deliveries SET owner = NULL, lease_until = NULL, attempts = ?, "
                "first_attempt = COALESCE(first_attempt, ?), last_attempt = ?, last_error = ? "
                "WHERE sink = ? AND seq = ? AND owner = ?",
                (
                    (entry.attempts, entry.first_attempt or now, now, error, sink, entry.seq, self._owner)
                    for entry in entries
                ),
            ),
        )

    async def pending(self, sink: str) -> int:
        """Entries still to deliver to ``sink`` (claimed ones included)."""
        rows = await self._run(
            False, lambda tx: tx.rows("SELECT COUNT(*) FROM deliveries WHERE sink = ?", (sink,))
        )
        return int(rows[0][0])
