"""SQL plumbing shared by the outbox backends: dialects, transactions, a worker thread.

    >>> class SqliteOutbox(SqlOutbox): ...   # a backend gives a connection and a Dialect

The outbox logic is written once, in SQL both databases run; a backend supplies the connection,
its DDL, how to take the write lock, and how to tell whether the owner of a claim is alive. Both drivers are
synchronous DB-API ones: every call runs in a worker thread, one at a time per connection, so the
event loop never waits on the disk or the network.

Tables: ``entries`` (one row per entity version), ``deliveries`` (one row per entry and sink still
to do; ``owner`` set while claimed), ``heads`` (per sink and key, the last version acked: replays
of older versions are stale, equal re-puts unchanged), ``counters``, ``dead_letters``.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 400  # ids per IN (...) list: under SQLite's 999 host parameters with room for the others
SEQ = ("", "seq")  # the counter row that hands out entry numbers


class Dialect:
    """What differs between backends. ``?`` placeholders are rewritten by ``sql``."""

    ddl: Sequence[str] = ()

    def sql(self, text: str) -> str:
        return text

    def begin(self, cursor: Any, *, write: bool) -> None:
        raise NotImplementedError

    def alive(self, cursor: Any, owners: set[str]) -> set[str]:
        raise NotImplementedError


class Tx:
    """One transaction's cursor with the dialect applied."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self.connection = connection
        self.dialect = dialect
        self.cursor = connection.cursor()

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(self.dialect.sql(text), tuple(params))
        return list(self.cursor.fetchall()) if self.cursor.description else []

    def run(self, text: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(self.dialect.sql(text), tuple(params))

    def many(self, text: str, params: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(row) for row in params]
        if batch:
            self.cursor.executemany(self.dialect.sql(text), batch)

    def forget(self, sink: str, seqs: Sequence[int]) -> None:
        """Delete the deliveries of ``seqs`` to ``sink`` (done, superseded or dead-lettered)."""
        for part in chunks(seqs):
            self.run(f"DELETE FROM deliveries WHERE sink = ? AND seq IN ({marks(len(part))})", (sink, *part))

    def count(self, sink: str, name: str, delta: int) -> None:
        if delta:
            self.run(
                "INSERT INTO counters (sink, name, value) VALUES (?, ?, ?) ON CONFLICT (sink, name) "
                "DO UPDATE SET value = counters.value + excluded.value",
                (sink, name, delta),
            )


def marks(count: int) -> str:
    return ",".join("?" * count)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


class SqlStore:
    """A DB-API connection used from a worker thread, one transaction at a time."""

    def __init__(
        self,
        connection: Any,
        dialect: Dialect,
        *,
        owner: str,
        sinks: Sequence[str] = ("broker",),
        supersede: bool = True,
        skip_unchanged: bool = True,
    ) -> None:
        self._connection = connection
        self._dialect = dialect
        self._owner = owner
        self._lock = threading.Lock()
        self.sinks = tuple(sinks)
        self.supersede = supersede
        self.skip_unchanged = skip_unchanged
        self._transaction(True, self._create)

    def _create(self, tx: Tx) -> None:
        for statement in self._dialect.ddl:
            tx.run(statement)

    # --- plumbing ------------------------------------------------------------------------------

    def _transaction(self, write: bool, work: Callable[[Tx], T]) -> T:
        with self._lock:
            tx = Tx(self._connection, self._dialect)
            self._dialect.begin(tx.cursor, write=write)
            try:
                result = work(tx)
            except BaseException:
                tx.run("ROLLBACK")
                raise
            tx.run("COMMIT")
            return result

    async def _run(self, write: bool, work: Callable[[Tx], T]) -> T:
        return await asyncio.to_thread(self._transaction, write, work)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._connection.close()
