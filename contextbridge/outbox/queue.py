"""The outbox queue in SQL: put, claim, renew, fence, ack, release — the same statements on every backend.

    >>> entries = await outbox.claim("broker", limit=200, lease=60)
    >>> entries = await outbox.fence("broker", entries)     # still ours? (before sending)
    >>> await outbox.ack("broker", entries)

Order per entity id: a put or a claim of a key first locks the key's row in ``tops`` (a claim
skips the keys another transaction holds, never waits for them), and a claim never takes an entry
whose (tenant, id) has another entry claimed, so versions of one entity reach a sink one claim
after the other, in the order they were put (entry numbers increase per key: its puts are
serialised by that row). And never backwards: ``tops`` keeps the highest ordering key stored per
sink and key (``ordering``), and a version below it is stale.

Cost: each call is one transaction of a fixed number of statements whatever the number of
entities (put: the keys' rows, two look-ups, one delete, one insert, a few counters; claim: four
statements, three on SQLite, where no other transaction can hold a key; ack: one upsert of the
heads, one delete, one counter upsert). An entity is encoded once, at put; the stored bytes come
back with the claim (``Entry.body``), and go out as they are to a sink that sends JSON
(``EncodedSink``: Orion-LD), decoded only for one that reads ``Entry.entity``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..entities.updates import REPLACE, UpdatePolicy, merge_entities, version_time
from .base import Entity, Entry, PutResult
from .deadletters import FIELDS as LETTER_FIELDS
from .liveness import Leases
from .ordering import PAST_SINKS, ordering_key, stale_reason
from .sql import Tx, digest, marks

COLUMNS = (
    "seq",
    "sink",
    "tenant",
    "entity_id",
    "feed",
    "body",
    "digest",
    "created",
    "policy",
    "observed",
    "ordering",
)
NEVER = -1.0e300  # the ordering key of a key with nothing stored yet
Version = tuple[str, bytes, float | None, float]  # (entity id, JSON, history time, ordering key)
HISTORY = UpdatePolicy(history=True)
ENCODE = orjson.OPT_SORT_KEYS  # equal entities encode equally: ``skip_unchanged`` compares the bytes


class SqlOutbox(Leases):
    """The Outbox protocol over SQL; a backend subclass opens the connections."""

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
        (``merge``) are merged into them; with ``history`` each version is kept. A version older
        (by its ordering key) than one stored already for its key and sink is ``stale``: kept
        beside the dead letters, never delivered."""
        policy = policy or REPLACE
        targets = tuple(sinks or self.sinks)
        now = time.time()
        versions, folded, late = _fold(entities, policy if self.supersede else HISTORY, now)
        if not versions:
            return PutResult()
        self._start_heartbeat()
        return await self._run(
            True,
            lambda tx: self._put(
                tx, versions, tenant or "", feed, targets, policy, folded=folded, late=late, now=now
            ),
        )

    def _put(
        self,
        tx: Tx,
        versions: Sequence[Version],
        tenant: str,
        feed: str | None,
        sinks: Sequence[str],
        policy: UpdatePolicy,
        *,
        force: bool = False,
        folded: int = 0,
        late: Sequence[tuple[Version, float]] = (),
        now: float | None = None,
    ) -> PutResult:
        now = time.time() if now is None else now
        among, array = tx.dialect.among, tx.dialect.array
        digests = [digest(body) for _, body, _, _ in versions]
        ids = list({entity_id: None for entity_id, _, _, _ in versions})
        keys = (array(sinks), tenant, array(ids))
        # The keys' rows of ``tops``, taken first and in one order (no two puts deadlock): the
        # highest ordering key stored for each. Holding them, no other put or claim of these keys
        # runs (claims skip them); any other key is free for the other workers.
        top: dict[tuple[str, str], float] = {}
        listing = tx.dialect.listing
        for sink, entity_id, found in tx.rows(
            f"INSERT INTO tops (sink, tenant, entity_id, ordering) SELECT s.value, ?, e.value, ? "
            f"FROM {listing('s')} CROSS JOIN {listing('e')} WHERE true ORDER BY 1, 3 "
            "ON CONFLICT (sink, tenant, entity_id) DO UPDATE SET ordering = tops.ordering "
            "RETURNING sink, entity_id, ordering",
            (tenant, NEVER, array(sinks), array(ids)),
        ):
            top[(sink, entity_id)] = float(found)
        stored = dict(top)
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
        for sink, entity_id, found, seq, owner, code, moment, stored_body in tx.rows(
            f"SELECT sink, entity_id, digest, seq, owner, policy, observed, {body} FROM deliveries "
            f"WHERE {among('sink')} AND tenant = ? AND {among('entity_id')} ORDER BY seq",
            keys,
        ):
            key = (sink, entity_id)
            if moment is not None:
                seen[key] = max(moment, seen.get(key, moment))
            if owner is None and not UpdatePolicy.from_code(code).history:
                free.setdefault(key, []).append(_Waiting(seq, bytes(found), code, stored_body))
            else:  # claimed or history: what comes next cannot reach back before it
                free.pop(key, None)
            if owner is not None or not self.supersede or key not in free:
                last[key] = bytes(found)
        skip = self.skip_unchanged and not force
        fold = self.supersede and not policy.history
        ordered = not force and not policy.history  # history keeps its own rule (``_sent``)
        rows: list[tuple[int, str]] = []  # (entity index, sink)
        drop: dict[str, list[int]] = {}
        into: list[
            tuple[bytes, bytes, float, int]
        ] = []  # (merged body, digest, key, seq): merged into a waiting one
        merges: dict[str, int] = {}
        stale: list[tuple[Version, str, float]] = [
            (version, sink, newer) for version, newer in late for sink in sinks
        ]
        unchanged = 0
        # The keys with anything stored (a version waiting or delivered, a higher ordering key):
        # only theirs need the checks below. A key new to a sink is queued as it comes.
        known = {key for key, found in top.items() if found != NEVER}
        known.update(last, seen, free)
        for index, (entity_id, _, moment, ordering) in enumerate(versions):
            for sink in sinks:
                key = (sink, entity_id)
                if key not in known:
                    known.add(key)  # a second version of it in this put (history) is checked
                    top[key] = max(ordering, NEVER)
                    last[key] = digests[index]
                    if moment is not None:
                        seen[key] = moment
                    rows.append((index, sink))
                    continue
                if ordered and ordering < top.get(key, NEVER):
                    stale.append((versions[index], sink, top[key]))
                    continue
                top[key] = max(ordering, top.get(key, NEVER))
                if (
                    skip
                    and moment is not None
                    and _sent(moment, digests[index], seen.get(key), last.get(key), past=sink in PAST_SINKS)
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
                    into.append((combined, found, ordering, tail.seq))
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
            tx.many("UPDATE deliveries SET body = ?, digest = ?, ordering = ? WHERE seq = ?", into)
            for sink, count in merges.items():
                tx.count(sink, "merged", count)
        if folded:  # versions of one put folded into a later one of the same put: counted too
            for sink in sinks:
                tx.count(sink, "merged" if policy.merge else "superseded", folded)
        kept = self._stale(tx, stale, tenant, feed, policy, now) if stale else 0
        unchanged += len(stale) - kept  # kept as stale already: a duplicate
        raised = [
            (found, sink, tenant, entity_id, found)
            for (sink, entity_id), found in top.items()
            if found > stored.get((sink, entity_id), NEVER)
        ]
        tx.many(
            "UPDATE tops SET ordering = ? WHERE sink = ? AND tenant = ? AND entity_id = ? AND ordering < ?",
            raised,
        )
        gone = folded * len(sinks)
        result = PutResult(
            len(rows),
            superseded + (0 if policy.merge else gone),
            unchanged,
            sum(merges.values()) + (gone if policy.merge else 0),
            kept,
        )
        if not rows:
            return result
        seqs = tx.dialect.next_seqs(tx, len(rows))
        code = policy.code
        tx.dialect.insert(
            tx,
            "deliveries",
            COLUMNS,
            [
                (
                    seqs[n],
                    sink,
                    tenant,
                    versions[index][0],
                    feed,
                    versions[index][1],
                    digests[index],
                    now,
                    code,
                    versions[index][2],
                    versions[index][3],
                )
                for n, (index, sink) in enumerate(rows)
            ],
        )
        return result

    def _stale(
        self,
        tx: Tx,
        found: Sequence[tuple[Version, str, float]],
        tenant: str,
        feed: str | None,
        policy: UpdatePolicy,
        now: float,
    ) -> int:
        """Keep versions older than one stored already beside the dead letters (reason ``STALE``);
        how many. One kept so already (a feed read again, a message redelivered) is not kept twice."""
        marked = [
            (digest(f"{tenant}\n".encode() + version[1]).hex(), version, sink, newer)
            for version, sink, newer in found
        ]
        among, array = tx.dialect.among, tx.dialect.array
        known = {
            (sink, mark)
            for sink, mark in tx.rows(
                f"SELECT sink, digest FROM dead_letters WHERE {among('sink')} AND {among('digest')}",
                (
                    array(sorted({sink for _, _, sink, _ in marked})),
                    array(sorted({m for m, _, _, _ in marked})),
                ),
            )
        }
        rows: dict[tuple[str, str], tuple[Any, ...]] = {}
        for mark, (entity_id, body, _, ordering), sink, newer in marked:
            if (sink, mark) not in known:
                rows[(sink, mark)] = (sink, tenant, entity_id, feed, body.decode(),
                                      orjson.dumps(stale_reason(ordering, newer)).decode(), 0, None, None, now,
                                      policy.code, ordering, mark)  # fmt: skip
        tx.many(
            f"INSERT INTO dead_letters ({LETTER_FIELDS}, policy, ordering, digest) VALUES ({marks(13)})",
            rows.values(),
        )
        counts: dict[str, int] = {}
        for sink, _ in rows:
            counts[sink] = counts.get(sink, 0) + 1
        for sink, count in counts.items():
            tx.count(sink, "stale", count)
        return len(rows)

    def _requeue(
        self, tx: Tx, sink: str, tenant: str, entity_id: str, feed: str | None, body: bytes, policy: int
    ) -> None:
        found = UpdatePolicy.from_code(policy)
        entity = orjson.loads(body)
        moment = version_time(entity) if found.history else None
        now = time.time()
        version = (entity_id, body, moment, ordering_key(entity, now=now))
        self._put(tx, [version], tenant, feed, (sink,), found, force=True, now=now)

    async def claim(self, sink: str, *, limit: int, lease: float) -> list[Entry]:
        """Up to ``limit`` waiting entries of ``sink``, oldest first, none of a key claimed elsewhere.

        The claim holds them for ``min(lease, liveness)`` seconds, kept alive by the heartbeat;
        its token tells later whether another worker took them over since (``fence``)."""
        self._start_heartbeat(sink)
        token = uuid.uuid4().hex
        started = time.time()
        entries = await self._run(True, lambda tx: self._claim(tx, sink, limit, lease, token), durable=False)
        if entries:
            self._hold(token, started + min(lease, self.liveness))
        return entries

    def _claim(self, tx: Tx, sink: str, limit: int, lease: float, token: str) -> list[Entry]:
        now = time.time()
        # A crashed worker's claims are free at once (its process or connection is gone), a frozen
        # or partitioned one's when their lease runs out: looked for now and then, and whenever
        # the entries free to take are fewer than asked for.
        reaped = now >= self._reap_at
        if reaped:
            self._reap(tx, sink, now)
        until = now + min(lease, self.liveness)
        rows = self._take(tx, sink, limit, until, token)
        if len(rows) < limit and not reaped:
            self._reap(tx, sink, now)
            rows += self._take(tx, sink, limit - len(rows), until, token)
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
                token,
            )
            for seq, tenant, entity_id, feed, body, attempts, first, created, code in rows
        ]

    def _take(self, tx: Tx, sink: str, limit: int, until: float, token: str) -> list[tuple[Any, ...]]:
        """Claim the waiting entries of the keys of the ``limit`` oldest ones, skipping the keys
        claimed already and those another transaction holds (a put, or a claim: row locks on
        ``tops``, skipped, never waited for)."""
        candidates = tx.rows(
            "SELECT tenant, entity_id FROM deliveries WHERE sink = ? AND owner IS NULL ORDER BY seq LIMIT ?",
            (sink, limit),
        )
        wanted = list({(str(tenant), str(entity_id)): None for tenant, entity_id in candidates})
        if not wanted:
            return []
        pairs = tx.dialect.pairs
        if tx.dialect.skip_locked:
            condition, params = pairs("tenant", "entity_id", wanted)
            locked = tx.rows(
                f"SELECT tenant, entity_id FROM tops WHERE sink = ? AND {condition} {tx.dialect.skip_locked}",
                (sink, *params),
            )
            mine = {(str(tenant), str(entity_id)) for tenant, entity_id in locked}
        else:  # one writer at a time (SQLite): no other transaction holds a key, nothing to skip
            mine = set(wanted)
        if not mine:
            return []
        # Read after the locks are held: a claim committed meanwhile by another worker is seen.
        condition, params = pairs("tenant", "entity_id", sorted(mine))
        busy = tx.rows(
            f"SELECT DISTINCT tenant, entity_id FROM deliveries WHERE sink = ? AND owner IS NOT NULL AND {condition}",
            (sink, *params),
        )
        free = sorted(mine - {(str(tenant), str(entity_id)) for tenant, entity_id in busy})
        if not free:
            return []
        condition, params = pairs("tenant", "entity_id", free)
        return tx.rows(
            f"UPDATE deliveries SET owner = ?, lease_until = ?, token = ? WHERE sink = ? AND owner IS NULL "
            f"AND {condition} RETURNING seq, tenant, entity_id, feed, body, attempts, first_attempt, created, policy",
            (self._owner, until, token, sink, *params),
        )

    async def renew(self, sink: str, entries: Sequence[Entry], *, lease: float) -> list[Entry]:
        """Extend the lease of ``entries``; those no longer held (taken over by another claim) are
        left out."""
        if not entries:
            return []
        started = time.time()
        until = started + min(lease, self.liveness)

        def work(tx: Tx) -> list[Entry]:
            among, array = tx.dialect.among, tx.dialect.array
            held = {
                row[0]
                for row in tx.rows(
                    f"UPDATE deliveries SET lease_until = ? WHERE sink = ? AND owner = ? AND {among('seq', 'bigint')} "
                    f"AND {among('token')} RETURNING seq",
                    (until, sink, self._owner, array([e.seq for e in entries]), array(_tokens(entries))),
                )
            }
            return [entry for entry in entries if entry.seq in held and entry.token is not None]

        kept = await self._run(True, work, durable=False)
        for token in {entry.token for entry in kept}:
            self._hold(token, until)
        return kept

    async def fence(self, sink: str, entries: Sequence[Entry]) -> list[Entry]:
        """Those of ``entries`` this worker still holds: checked in the outbox unless their lease,
        as the heartbeat last renewed it, is certainly still good. Called before sending and
        before acknowledging: a worker frozen past its lease (SIGSTOP, a VM pause) and thawed must
        not deliver what another worker has taken over since."""
        if self._surely_held(entries):
            return list(entries)
        return await self.renew(sink, entries, lease=self.liveness)

    async def ack(self, sink: str, entries: Sequence[Entry], *, superseded: Sequence[Entry] = ()) -> None:
        """``entries`` reached ``sink``; ``superseded`` were older versions replaced before sending.

        Only entries still held by this claim (owner and token) are acked: one taken over by
        another worker is that worker's to settle. Not synced to disk at commit: an ack lost to a
        power cut means one more delivery."""
        latest: dict[tuple[str | None, str], int] = {}
        for entry in entries:  # a head per key, the latest version acked (one row per key and statement)
            key = (entry.tenant, entry.entity_id)
            latest[key] = max(entry.seq, latest.get(key, entry.seq))
        done = [entry.seq for entry in (*entries, *superseded)]
        tokens = _tokens((*entries, *superseded))
        sent = {entry.seq for entry in entries}

        def work(tx: Tx) -> None:
            among, array = tx.dialect.among, tx.dialect.array
            mine = f"owner = ? AND {among('token')}"
            if latest:
                tx.run(
                    "INSERT INTO heads (sink, tenant, entity_id, digest, seq, observed, ordering) SELECT sink, "
                    f"tenant, entity_id, digest, seq, observed, ordering FROM deliveries WHERE {among('seq', 'bigint')} "
                    f"AND {mine} ON CONFLICT (sink, tenant, entity_id) DO UPDATE SET digest = excluded.digest, "
                    "seq = excluded.seq, observed = excluded.observed, ordering = excluded.ordering "
                    "WHERE excluded.seq > heads.seq",
                    (array(list(latest.values())), self._owner, array(tokens)),
                )
            gone = tx.rows(
                f"DELETE FROM deliveries WHERE {among('seq', 'bigint')} AND {mine} RETURNING seq",
                (array(done), self._owner, array(tokens)),
            )
            delivered = sum(1 for (seq,) in gone if seq in sent)
            tx.run(
                "INSERT INTO counters (sink, name, owner, value) VALUES (?, 'delivered', ?, ?), "
                "(?, 'superseded', ?, ?) ON CONFLICT (sink, name, owner) "
                "DO UPDATE SET value = counters.value + excluded.value",
                (sink, self._owner, delivered, sink, self._owner, len(gone) - delivered),
            )

        if done:
            await self._run(True, work, durable=False)

    async def release(self, sink: str, entries: Sequence[Entry], *, error: str | None = None) -> None:
        """Give ``entries`` back to the queue after failed attempts (``Entry.attempts`` is kept)."""
        now = time.time()
        rows = [
            (
                entry.attempts,
                entry.first_attempt or now,
                now,
                error,
                sink,
                entry.seq,
                self._owner,
                entry.token,
            )
            for entry in entries
        ]
        if rows:
            await self._run(
                True,
                lambda tx: tx.many(
                    "UPDATE deliveries SET owner = NULL, lease_until = NULL, token = NULL, attempts = ?, "
                    "first_attempt = COALESCE(first_attempt, ?), last_attempt = ?, last_error = ? "
                    "WHERE sink = ? AND seq = ? AND owner = ? AND token = ?",
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
                "UPDATE deliveries SET owner = NULL, lease_until = NULL, token = NULL WHERE sink = ? AND owner = ?",
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
    entities: Iterable[Entity], policy: UpdatePolicy, now: float
) -> tuple[list[Version], int, list[tuple[Version, float]]]:
    """The versions to queue, encoded, with their time (for history) and ordering key: one per id
    (the latest; partial ones merged) unless the policy keeps history; how many were folded into a
    later one; and those that came after a newer version of their id in the same put (stale)."""
    dumps = orjson.dumps
    if policy.history:
        found = [(e, dumps(e, option=ENCODE)) for e in entities]
        return [(str(e["id"]), body, version_time(e), ordering_key(e, now=now)) for e, body in found], 0, []
    latest: dict[str, tuple[Entity, float]] = {}
    late: list[tuple[Version, float]] = []
    count = 0
    for entity in entities:
        entity_id = str(entity["id"])
        key = ordering_key(entity, now=now)
        older = latest.get(entity_id)
        if older is not None and key < older[1]:  # after a newer one: never folded over it
            late.append(((entity_id, dumps(entity, option=ENCODE), None, key), older[1]))
            continue
        if older is not None:
            count += 1
        folded = entity if older is None or not policy.merge else merge_entities(older[0], entity)
        latest[entity_id] = (folded, key)
    versions: list[Version] = [
        (entity_id, dumps(entity, option=ENCODE), None, key) for entity_id, (entity, key) in latest.items()
    ]
    return versions, count, late


def _sent(moment: float, found: bytes, seen: float | None, last: bytes | None, *, past: bool = False) -> bool:
    """Whether a history version observed at ``moment`` was queued or delivered already: it is
    older than the last one (a feed read again), or that very one. For a sink that records an
    older version as history without touching the state (``past``: the graph), only that very
    one: an older version may have come late, and its values still belong in the history (a
    version recorded already is recorded again as the same triples)."""
    if seen is None:
        return False
    return (moment == seen and found == last) or (moment < seen and not past)


def _tokens(entries: Iterable[Entry]) -> list[str]:
    return sorted({entry.token for entry in entries if entry.token is not None})
