"""The outbox queue in SQL: put, claim, renew, ack, release — the same statements on every backend.

    >>> entries = await outbox.claim("broker", limit=200, lease=60)
    >>> await outbox.ack("broker", entries)

Order per entity id: a claim never takes an entry whose (tenant, id) has another entry claimed
(by anyone, any process), so versions of one entity reach a sink one claim after the other, in
the order they were put; entry numbers come from a counter taken under the lock that orders puts
and claims, so their order is the commit order even with several writers.

Cost: each call is one transaction of a fixed number of statements whatever the number of
entities (put: two look-ups, one delete, one insert; claim: one update returning the rows; ack:
one upsert of the heads, one delete). An entity is encoded once, at put; the stored bytes come
back with the claim (``Entry.body``), decoded when a sink reads ``Entry.entity``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..updates import REPLACE, UpdatePolicy, merge_entities, version_time
from .base import Entity, Entry, PutResult
from .deadletters import DeadLetterQueue
from .sql import SEQ, Tx, digest

COLUMNS = ("seq", "sink", "tenant", "entity_id", "feed", "body", "digest", "created", "policy", "observed")
HISTORY = UpdatePolicy(history=True)
REAP_EVERY = 1.0  # seconds between looks for expired or orphaned claims while the queue is full
ENCODE = orjson.OPT_SORT_KEYS  # equal entities encode equally: ``skip_unchanged`` compares the bytes


class SqlOutbox(DeadLetterQueue):
    """The Outbox protocol over SQL; a backend subclass opens the connections."""

    _reap_at = 0.0  # when claims next look for expired or orphaned claims

    async def put(
        self,
        entities: Iterable[Entity],
        *,
        tenant: str | None = None,
        feed: str | None = None,
        sinks: Sequence[str] | None = None,
        policy: UpdatePolicy | None = None,
    ) -> PutResult:
        """Queue each entity for each sink, in one transaction (all of them or none).

        ``policy``: whole states (the default) supersede the versions waiting; partial ones
        (``merge``) are merged into them; with ``history`` each version is kept."""
        policy = policy or REPLACE
        targets = tuple(sinks or self.sinks)
        versions, folded = _fold(entities, policy if self.supersede else HISTORY)
        if not versions:
            return PutResult()
        result = await self._run(
            True, lambda tx: self._put(tx, versions, tenant or "", feed, targets, policy), locked=True
        )
        gone = folded * len(targets)
        if policy.merge:
            return dataclasses.replace(result, merged=result.merged + gone)
        return dataclasses.replace(result, superseded=result.superseded + gone)

    def _put(
        self,
        tx: Tx,
        versions: Sequence[tuple[str, bytes, float | None]],
        tenant: str,
        feed: str | None,
        sinks: Sequence[str],
        policy: UpdatePolicy,
        *,
        force: bool = False,
    ) -> PutResult:
        now = time.time()
        among, array = tx.dialect.among, tx.dialect.array
        digests = [digest(body) for _, body, _ in versions]
        keys = (array(sinks), tenant, array(list({entity_id: None for entity_id, _, _ in versions})))
        # What each sink will hold once the waiting entries are through: with supersession the
        # unclaimed ones are dropped (or merged into), so it is the latest claimed version, else
        # the delivered one.
        last: dict[tuple[str, str], bytes] = {}
        # When the last version queued or delivered was observed: a history version not newer than
        # it was sent already (a feed read again after a crash) and is not queued again.
        seen: dict[tuple[str, str], float] = {}
        for sink, entity_id, found, moment in tx.rows(
            f"SELECT sink, entity_id, digest, observed FROM heads WHERE {among('sink')} AND tenant = ? "
            f"AND {among('entity_id')}",
            keys,
        ):
            last[(sink, entity_id)] = bytes(found)
            if moment is not None:
                seen[(sink, entity_id)] = moment
        # Waiting, not claimed, and open to supersession (after the key's last history version).
        free: dict[tuple[str, str], list[_Waiting]] = {}
        body = "body" if policy.merge else "NULL"  # a merge reads the body it merges into
        for sink, entity_id, found, seq, owner, code, moment, stored in tx.rows(
            f"SELECT sink, entity_id, digest, seq, owner, policy, observed, {body} FROM deliveries "
            f"WHERE {among('sink')} AND tenant = ? AND {among('entity_id')} ORDER BY seq",
            keys,
        ):
            key = (sink, entity_id)
            if moment is not None:
                seen[key] = max(moment, seen.get(key, moment))
            if owner is None and not UpdatePolicy.from_code(code).history:
                free.setdefault(key, []).append(_Waiting(seq, bytes(found), code, stored))
            else:  # claimed or history: what comes next cannot reach back before it
                free.pop(key, None)
            if owner is not None or not self.supersede or key not in free:
                last[key] = bytes(found)
        skip = self.skip_unchanged and not force
        fold = self.supersede and not policy.history
        rows: list[tuple[int, str]] = []  # (entity index, sink)
        drop: dict[str, list[int]] = {}
        into: list[tuple[bytes, bytes, int]] = []  # (merged body, its digest, seq): merged into a waiting one
        merges: dict[str, int] = {}
        unchanged = 0
        for index, (entity_id, _, moment) in enumerate(versions):
            for sink in sinks:
                key = (sink, entity_id)
                if (
                    skip
                    and moment is not None
                    and _sent(moment, digests[index], seen.get(key), last.get(key))
                ):
                    unchanged += 1
                    continue
                waiting = free.pop(key, None)
                if waiting and not fold:  # it stays: what the sink will hold is this one, then
                    last[key] = waiting[-1].digest
                    waiting = None
                if waiting and policy.merge:  # into the latest waiting version, which stays
                    tail = waiting[-1]
                    drop.setdefault(sink, []).extend(entry.seq for entry in waiting[:-1])
                    free[key] = [tail]
                    combined = orjson.dumps(
                        merge_entities(orjson.loads(tail.body), orjson.loads(versions[index][1])),
                        option=ENCODE,
                    )
                    found = digest(combined)
                    if found == tail.digest:
                        unchanged += 1
                        continue
                    into.append((combined, found, tail.seq))
                    tail.body, tail.digest = combined, found
                    last[key] = found
                    merges[sink] = merges.get(sink, 0) + 1
                    continue
                if waiting:
                    if skip and waiting[-1].digest == digests[index]:
                        free[key] = waiting[-1:]  # the same version already waits: keep it
                        drop.setdefault(sink, []).extend(entry.seq for entry in waiting[:-1])
                        unchanged += 1
                        continue
                    drop.setdefault(sink, []).extend(entry.seq for entry in waiting)
                if skip and last.get(key) == digests[index]:
                    unchanged += 1
                    continue
                last[key] = digests[index]
                if moment is not None:
                    seen[key] = max(moment, seen.get(key, moment))
                rows.append((index, sink))
        superseded = 0
        for sink, seqs in drop.items():
            if seqs:
                superseded += len(seqs)
                tx.forget(sink, seqs)
                tx.count(sink, "superseded", len(seqs))
        if into:
            tx.many("UPDATE deliveries SET body = ?, digest = ? WHERE seq = ?", into)
            for sink, count in merges.items():
                tx.count(sink, "merged", count)
        merged = sum(merges.values())
        if not rows:
            return PutResult(0, superseded, unchanged, merged)
        ((top,),) = tx.rows(
            "INSERT INTO counters (sink, name, value) VALUES (?, ?, ?) ON CONFLICT (sink, name) "
            "DO UPDATE SET value = counters.value + excluded.value RETURNING value",
            (*SEQ, len(rows)),
        )
        start = int(top) - len(rows) + 1
        code = policy.code
        tx.dialect.insert(
            tx,
            "deliveries",
            COLUMNS,
            [
                (
                    start + n,
                    sink,
                    tenant,
                    versions[index][0],
                    feed,
                    versions[index][1],
                    digests[index],
                    now,
                    code,
                    versions[index][2],
                )
                for n, (index, sink) in enumerate(rows)
            ],
        )
        return PutResult(len(rows), superseded, unchanged, merged)

    def _requeue(
        self, tx: Tx, sink: str, tenant: str, entity_id: str, feed: str | None, body: bytes, policy: int
    ) -> None:
        found = UpdatePolicy.from_code(policy)
        moment = version_time(orjson.loads(body)) if found.history else None
        self._put(tx, [(entity_id, body, moment)], tenant, feed, (sink,), found, force=True)

    async def claim(self, sink: str, *, limit: int, lease: float) -> list[Entry]:
        """Up to ``limit`` waiting entries of ``sink``, oldest first, none of a key claimed elsewhere."""
        return await self._run(
            True, lambda tx: self._claim(tx, sink, limit, lease), locked=True, durable=False
        )

    def _claim(self, tx: Tx, sink: str, limit: int, lease: float) -> list[Entry]:
        now = time.time()
        # A crashed worker's claims are free at once (its process or connection is gone), a live
        # but silent one's when their lease runs out: looked for now and then, and whenever the
        # entries free to take are fewer than asked for.
        reaped = now >= self._reap_at
        if reaped:
            self._reap(tx, sink, now)
        rows = self._take(tx, sink, limit, now + lease)
        if len(rows) < limit and not reaped:
            self._reap(tx, sink, now)
            rows += self._take(tx, sink, limit - len(rows), now + lease)
        rows.sort()
        return [
            Entry(
                seq,
                sink,
                tenant or None,
                entity_id,
                bytes(body),
                feed,
                attempts,
                first,
                created,
                UpdatePolicy.from_code(code),
            )
            for seq, tenant, entity_id, feed, body, attempts, first, created, code in rows
        ]

    def _reap(self, tx: Tx, sink: str, now: float) -> None:
        tx.dialect.reap(tx, sink, now, self._owner)
        self._reap_at = now + REAP_EVERY

    def _take(self, tx: Tx, sink: str, limit: int, until: float) -> list[tuple[Any, ...]]:
        """Claim up to ``limit`` waiting entries, oldest first, skipping the keys claimed already."""
        waiting = (
            "SELECT d.seq FROM deliveries d WHERE d.sink = ? AND d.owner IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM deliveries b WHERE b.sink = d.sink AND b.tenant = d.tenant "
            "AND b.entity_id = d.entity_id AND b.owner IS NOT NULL) ORDER BY d.seq LIMIT ?"
        )
        return tx.rows(
            f"UPDATE deliveries SET owner = ?, lease_until = ? WHERE {tx.dialect.within('seq', waiting)} "
            "RETURNING seq, tenant, entity_id, feed, body, attempts, first_attempt, created, policy",
            (self._owner, until, sink, limit),
        )

    async def renew(self, sink: str, entries: Sequence[Entry], *, lease: float) -> list[Entry]:
        """Extend the lease of ``entries``; those no longer held (lease lost) are left out."""

        def work(tx: Tx) -> list[Entry]:
            held = {
                row[0]
                for row in tx.rows(
                    "UPDATE deliveries SET lease_until = ? WHERE sink = ? AND owner = ? "
                    f"AND {tx.dialect.among('seq', 'bigint')} RETURNING seq",
                    (time.time() + lease, sink, self._owner, tx.dialect.array([e.seq for e in entries])),
                )
            }
            return [entry for entry in entries if entry.seq in held]

        return await self._run(True, work, durable=False) if entries else []

    async def ack(self, sink: str, entries: Sequence[Entry], *, superseded: Sequence[Entry] = ()) -> None:
        """``entries`` reached ``sink``; ``superseded`` were older versions replaced before sending.

        Not synced to disk at commit: an ack lost to a power cut means one more delivery."""
        latest: dict[tuple[str | None, str], int] = {}
        for entry in entries:  # a head per key, the latest version acked (one row per key and statement)
            key = (entry.tenant, entry.entity_id)
            latest[key] = max(entry.seq, latest.get(key, entry.seq))
        done = [entry.seq for entry in (*entries, *superseded)]

        def work(tx: Tx) -> None:
            if latest:
                tx.run(
                    "INSERT INTO heads (sink, tenant, entity_id, digest, seq, observed) SELECT sink, tenant, "
                    f"entity_id, digest, seq, observed FROM deliveries WHERE {tx.dialect.among('seq', 'bigint')} "
                    "ON CONFLICT (sink, tenant, entity_id) DO UPDATE SET digest = excluded.digest, "
                    "seq = excluded.seq, observed = excluded.observed WHERE excluded.seq > heads.seq",
                    (tx.dialect.array(list(latest.values())),),
                )
            tx.forget(sink, done)
            tx.run(
                "INSERT INTO counters (sink, name, value) VALUES (?, 'delivered', ?), (?, 'superseded', ?) "
                "ON CONFLICT (sink, name) DO UPDATE SET value = counters.value + excluded.value",
                (sink, len(entries), sink, len(superseded)),
            )

        if done:
            await self._run(True, work, durable=False)

    async def release(self, sink: str, entries: Sequence[Entry], *, error: str | None = None) -> None:
        """Give ``entries`` back to the queue after failed attempts (``Entry.attempts`` is kept)."""
        now = time.time()
        rows = [
            (entry.attempts, entry.first_attempt or now, now, error, sink, entry.seq, self._owner)
            for entry in entries
        ]
        if rows:
            await self._run(
                True,
                lambda tx: tx.many(
                    "UPDATE deliveries SET owner = NULL, lease_until = NULL, attempts = ?, "
                    "first_attempt = COALESCE(first_attempt, ?), last_attempt = ?, last_error = ? "
                    "WHERE sink = ? AND seq = ? AND owner = ?",
                    rows,
                ),
                durable=False,
            )

    async def abandon(self, sink: str) -> int:
        """Free every claim this outbox holds on ``sink``, for its drainer to start again after a
        failure that lost track of them (else they would wait for their lease); how many."""

        def work(tx: Tx) -> int:
            ((count,),) = tx.rows(
                "SELECT COUNT(*) FROM deliveries WHERE sink = ? AND owner = ?", (sink, self._owner)
            )
            tx.run(
                "UPDATE deliveries SET owner = NULL, lease_until = NULL WHERE sink = ? AND owner = ?",
                (sink, self._owner),
            )
            return int(count)

        return await self._run(True, work)

    async def pending(self, sink: str) -> int:
        """Entries still to deliver to ``sink`` (claimed ones included)."""
        rows = await self._run(
            False,
            lambda tx: tx.rows(  # each count on its partial index: the sink's own entries only
                "SELECT (SELECT COUNT(*) FROM deliveries WHERE sink = ? AND owner IS NULL) + "
                "(SELECT COUNT(*) FROM deliveries WHERE sink = ? AND owner IS NOT NULL)",
                (sink, sink),
            ),
        )
        return int(rows[0][0])


@dataclass
class _Waiting:
    """A version waiting unclaimed, open to supersession or to a merge."""

    seq: int
    digest: bytes
    code: int
    body: Any  # the stored JSON (read for a merge only)


def _fold(
    entities: Iterable[Entity], policy: UpdatePolicy
) -> tuple[list[tuple[str, bytes, float | None]], int]:
    """The versions to queue, encoded (with their time, for history), one per id (the latest;
    partial ones merged) unless the policy keeps history; and how many were folded into a later one."""
    dumps = orjson.dumps
    if policy.history:
        return [(str(e["id"]), dumps(e, option=ENCODE), version_time(e)) for e in entities], 0
    latest: dict[str, Entity] = {}
    count = 0
    for entity in entities:
        entity_id = str(entity["id"])
        older = latest.get(entity_id)
        latest[entity_id] = entity if older is None or not policy.merge else merge_entities(older, entity)
        count += 1
    versions: list[tuple[str, bytes, float | None]] = [
        (entity_id, dumps(entity, option=ENCODE), None) for entity_id, entity in latest.items()
    ]
    return versions, count - len(latest)


def _sent(moment: float, found: bytes, seen: float | None, last: bytes | None) -> bool:
    """Whether a version observed at ``moment`` was queued or delivered already: it is older than
    the last one, or that very one."""
    return seen is not None and (moment < seen or (moment == seen and found == last))
