"""The dead-letter queue and the outbox's status, in SQL.

    >>> for letter in await outbox.dead_letters(sink="broker"):
    ...     print(letter.entity_id, letter.reason["type"])
    >>> await outbox.replay([letter.id])                   # after fixing the cause
    >>> await outbox.purge(sink="translate")
>>> await outbox.dead_letter_counts(DeadLetterFilter(feed="parking"))   # count, facets

A ``DeadLetterFilter`` narrows every operation (sink, feed, reason type, tenants); a rejected
record, which has no tenant of its own, is counted in its feed's tenant.

Stale versions (older than one stored already for their entity and sink, reason type
``ordering.STALE``) are kept here too: ``DeadLetterFilter(type=STALE)`` lists them, ``replay``
leaves them unless forced.

A dead letter keeps the sink, the entity (or the rejected record), the reason (the broker's
ProblemDetails, or the translator's reason with record number and field), the feed, and the
first and last attempt times with the number of attempts.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from ..errors import RecordError
from ..language.fieldpaths import METADATA_FIELD
from .base import TRANSLATE, DeadLetter, DeadLetterCounts, DeadLetterFilter, Entry, ReplayResult, SinkStatus
from .ordering import STALE
from .sql import SqlStore, Tx, digest, marks

FIELDS = "sink, tenant, entity_id, feed, data, reason, attempts, first_attempt, last_attempt, created"
COLUMNS = "id, " + FIELDS


def _dumps(value: Any) -> str:
    # Rejected records may hold bytes or other odd values: keep them readable rather than fail.
    return orjson.dumps(value, default=str).decode()


def _letter(row: Sequence[Any]) -> DeadLetter:
    id_, sink, tenant, entity_id, feed, data, reason, attempts, first, last, created = row
    return DeadLetter(
        int(id_),
        sink,
        tenant or None,
        entity_id,
        feed,
        orjson.loads(data),
        orjson.loads(reason),
        int(attempts),
        first,
        last,
        created,
    )


def _content(record: Any) -> str:
    """The record without its message's metadata (the time it was received differs each time the
    same file is read again): what tells a record rejected again from a new one."""
    if isinstance(record, dict) and METADATA_FIELD in record:
        record = {key: value for key, value in record.items() if key != METADATA_FIELD}
    return _dumps(record)


def rejection(error: RecordError) -> dict[str, Any]:
    """The dead-letter reason of a rejected record."""
    reason: dict[str, Any] = {"type": error.kind, "detail": error.reason}
    for key in ("record", "field", "source"):
        if (value := getattr(error, key)) is not None:
            reason[key] = value
    return reason


class DeadLetterQueue(SqlStore):
    """Dead letters and status; the queue subclass provides ``_requeue``."""

    def _requeue(
        self, tx: Tx, sink: str, tenant: str, entity_id: str, feed: str | None, body: bytes, policy: int
    ) -> None:
        raise NotImplementedError

    async def reject(
        self, errors: Iterable[RecordError], *, feed: str | None = None, tenant: str | None = None
    ) -> int:
        """Keep the translator's rejected records (sink ``translate``); how many were new.

        A record rejected again for the same reason (a feed synced twice) is kept once.
        ``tenant``: the feed's (without it, ``DeadLetterFilter.feed_tenants`` tells).
        """
        now = time.time()
        rows = {}
        for error in errors:
            data, reason = _dumps(error.data), _dumps(rejection(error))
            key = digest(f"{feed}\n{_content(error.data)}\n{reason}".encode()).hex()
            rows[key] = (TRANSLATE, tenant or "", None, feed, data, reason, 1, now, now, now, key)

        def work(tx: Tx) -> int:
            for (found,) in tx.rows(
                f"SELECT digest FROM dead_letters WHERE sink = ? AND {tx.dialect.among('digest')}",
                (TRANSLATE, tx.dialect.array(list(rows))),
            ):
                rows.pop(found, None)
            tx.many(f"INSERT INTO dead_letters ({FIELDS}, digest) VALUES ({marks(11)})", rows.values())
            return len(rows)

        return await self._run(True, work) if rows else 0

    async def dead_letter(
        self, sink: str, failures: Sequence[tuple[Entry, Mapping[str, Any]]], *, attempts: int = 1
    ) -> None:
        """Move refused entries to the dead-letter queue with their reasons (only those this worker
        still holds: one taken over by another worker is that worker's to settle). A refusal whose
        reason type is ``STALE`` (a sink that holds a newer version) is counted stale."""
        now = time.time()
        tokens = sorted({entry.token for entry, _ in failures if entry.token is not None})

        def work(tx: Tx) -> None:
            among, array = tx.dialect.among, tx.dialect.array
            gone = {
                seq
                for (seq,) in tx.rows(
                    f"DELETE FROM deliveries WHERE {among('seq', 'bigint')} AND owner = ? "
                    f"AND (token IS NULL OR {among('token')}) RETURNING seq",
                    (array([entry.seq for entry, _ in failures]), self._owner, array(tokens)),
                )
            }
            kept = [(entry, reason) for entry, reason in failures if entry.seq in gone]
            tx.many(
                f"INSERT INTO dead_letters ({FIELDS}, seq, policy) VALUES ({marks(12)})",
                (
                    (
                        sink,
                        entry.tenant or "",
                        entry.entity_id,
                        entry.feed,
                        entry.body.decode() if entry.body else _dumps(entry.entity),
                        _dumps(dict(reason)),
                        max(entry.attempts, attempts),
                        entry.first_attempt or now,
                        now,
                        now,
                        entry.seq,
                        entry.policy.code,
                    )
                    for entry, reason in kept
                ),
            )
            stale = sum(1 for _, reason in kept if reason.get("type") == STALE)
            tx.count(sink, "stale", stale)
            tx.count(sink, "dead_lettered", len(kept) - stale)

        if failures:
            await self._run(True, work)

    async def status(self) -> list[SinkStatus]:
        """Each sink's queue, the ``translate`` dead letters included."""

        def work(tx: Tx) -> list[SinkStatus]:
            waiting = {
                sink: (int(total), int(claimed), created)
                for sink, total, claimed, created in tx.rows(
                    "SELECT sink, COUNT(*), COUNT(owner), MIN(created) FROM deliveries GROUP BY sink"
                )
            }
            counters: dict[str, dict[str, int]] = {}
            for sink, name, value in tx.rows(
                "SELECT sink, name, SUM(value) FROM counters WHERE sink <> '' GROUP BY sink, name"
            ):
                counters.setdefault(sink, {})[name] = int(value)
            letters = {
                sink: int(n) for sink, n in tx.rows("SELECT sink, COUNT(*) FROM dead_letters GROUP BY sink")
            }
            return [
                SinkStatus(
                    sink,
                    waiting.get(sink, (0, 0, None))[0],
                    waiting.get(sink, (0, 0, None))[1],
                    counters.get(sink, {}).get("delivered", 0),
                    counters.get(sink, {}).get("superseded", 0),
                    letters.get(sink, 0),
                    waiting.get(sink, (0, 0, None))[2],
                    counters.get(sink, {}).get("merged", 0),
                    counters.get(sink, {}).get("stale", 0),
                    counters.get(sink, {}).get("reclaimed", 0),
                    counters.get(sink, {}).get("dead_lettered", 0),
                )
                for sink in sorted({*self.sinks, *waiting, *counters, *letters})
            ]

        return await self._run(False, work)

    async def dead_letters(
        self,
        *,
        sink: str | None = None,
        limit: int = 100,
        offset: int = 0,
        where: DeadLetterFilter | None = None,
    ) -> list[DeadLetter]:
        """Dead letters, oldest first, of one sink or all (``where``: those it selects)."""
        columns = ", ".join(f"d.{column.strip()}" for column in COLUMNS.split(","))

        def work(tx: Tx) -> list[tuple[Any, ...]]:
            clause, params = _selection(tx, _narrowed(where, None, sink))
            return tx.rows(
                f"SELECT {columns} FROM dead_letters d {clause} ORDER BY d.id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )

        return [_letter(row) for row in await self._run(False, work)]

    async def dead_letter_counts(self, where: DeadLetterFilter | None = None) -> DeadLetterCounts:
        """How many dead letters ``where`` selects, and how many of them per sink, feed and type."""

        def work(tx: Tx) -> DeadLetterCounts:
            clause, params = _selection(tx, where or DeadLetterFilter())
            kind = tx.dialect.json_text("d.reason", "type")
            # One pass, grouped by all three: every facet, and the count of any narrower filter.
            rows = tx.rows(
                f"SELECT d.sink, d.feed, {kind}, COUNT(*) FROM dead_letters d {clause} "
                f"GROUP BY d.sink, d.feed, {kind}",
                params,
            )
            return DeadLetterCounts(
                tuple(
                    (str(sink), feed, None if found is None else str(found), int(count))
                    for sink, feed, found, count in rows
                )
            )

        return await self._run(False, work)

    async def dead_letter_entry(self, dead_letter_id: int) -> DeadLetter | None:
        rows = await self._run(
            False, lambda tx: tx.rows(f"SELECT {COLUMNS} FROM dead_letters WHERE id = ?", (dead_letter_id,))
        )
        return _letter(rows[0]) if rows else None

    async def replay(
        self,
        ids: Sequence[int] | None = None,
        *,
        sink: str | None = None,
        force: bool = False,
        where: DeadLetterFilter | None = None,
    ) -> ReplayResult:
        """Queue dead letters again (after a fix). One older than a version its sink has received
        or stored since is stale: kept, unless ``force`` (it would overwrite newer data); so are
        the versions kept as stale (reason type ``STALE``). Rejected records cannot be replayed:
        they need translating again, from their feed."""

        def work(tx: Tx) -> ReplayResult:
            clause, params = _selection(tx, _narrowed(where, ids, sink))
            rows = tx.rows(
                f"SELECT d.id, d.sink, d.tenant, d.entity_id, d.feed, d.data, d.seq, h.seq, d.policy, "
                "d.ordering, t.ordering FROM dead_letters d "
                "LEFT JOIN heads h ON h.sink = d.sink AND h.tenant = d.tenant AND h.entity_id = d.entity_id "
                "LEFT JOIN tops t ON t.sink = d.sink AND t.tenant = d.tenant AND t.entity_id = d.entity_id "
                f"{clause} ORDER BY d.id",
                params,
            )
            replayed: list[int] = []
            stale = skipped = 0
            for id_, sink_, tenant, entity_id, feed, data, seq, head, policy, ordering, top in rows:
                if sink_ == TRANSLATE or entity_id is None:
                    skipped += 1
                elif not force and (
                    (head is not None and seq is not None and head > seq)
                    or (ordering is not None and top is not None and ordering < top)
                ):
                    stale += 1
                else:
                    self._requeue(tx, sink_, tenant or "", entity_id, feed, data.encode(), policy)
                    replayed.append(id_)
            if replayed:
                among = tx.dialect.among("id", "bigint")
                tx.run(f"DELETE FROM dead_letters WHERE {among}", (tx.dialect.array(replayed),))
            return ReplayResult(len(replayed), stale, skipped)

        return await self._run(True, work)

    async def purge(
        self,
        ids: Sequence[int] | None = None,
        *,
        sink: str | None = None,
        where: DeadLetterFilter | None = None,
    ) -> int:
        """Delete dead letters (the given ids, a sink's, those ``where`` selects, or all); how many went."""

        def work(tx: Tx) -> int:
            clause, params = _selection(tx, _narrowed(where, ids, sink))
            (count,) = tx.rows(f"SELECT COUNT(*) FROM dead_letters d {clause}", params)[0]
            tx.run(f"DELETE FROM dead_letters WHERE id IN (SELECT d.id FROM dead_letters d {clause})", params)
            return int(count)

        return await self._run(True, work)


def _narrowed(
    where: DeadLetterFilter | None, ids: Sequence[int] | None, sink: str | None
) -> DeadLetterFilter:
    """``where`` with the ``ids`` and ``sink`` given as arguments too (both must hold)."""
    found = where or DeadLetterFilter()
    if ids is not None:
        allowed = None if found.ids is None else set(found.ids)
        kept = tuple(ids) if allowed is None else tuple(i for i in ids if i in allowed)
        found = dataclasses.replace(found, ids=kept)
    if sink:
        # Two different sinks select nothing.
        found = (
            dataclasses.replace(found, sink=sink)
            if found.sink in (None, sink)
            else dataclasses.replace(found, ids=())
        )
    return found


def _selection(tx: Tx, where: DeadLetterFilter) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (on ``dead_letters d``) and its parameters for ``where``."""
    clauses: list[str] = []
    params: list[Any] = []
    if where.ids is not None:
        clauses.append(tx.dialect.among("d.id", "bigint"))
        params.append(tx.dialect.array([int(i) for i in where.ids]))
    for column, value in (("d.sink", where.sink), ("d.feed", where.feed)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if where.type is not None:
        clauses.append(f"{tx.dialect.json_text('d.reason', 'type')} = ?")
        params.append(where.type)
    if where.tenants is not None:
        # A letter's tenant; a rejected record stored without one has its feed's.
        cases = "".join(" WHEN d.feed = ? THEN CAST(? AS TEXT)" for _ in where.feed_tenants)
        for feed, tenant in where.feed_tenants.items():
            params.extend((feed, tenant))
        clauses.append(tx.dialect.among(f"(CASE WHEN d.tenant <> '' THEN d.tenant{cases} ELSE '' END)"))
        params.append(tx.dialect.array(sorted(where.tenants)))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params
