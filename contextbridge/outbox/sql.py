"""SQL plumbing shared by the outbox backends: dialects, transactions, worker threads.

    >>> class SqliteOutbox(SqlOutbox): ...   # a backend gives its connections and a Dialect

The outbox logic is written once, in SQL both databases run; a backend supplies the connections,
its DDL, how a transaction begins (write lock, durability), how a list travels as one parameter,
how many rows are inserted at once, and how the claims of dead workers are freed. Both drivers
are synchronous DB-API ones: every call runs in a worker thread, one transaction per connection
at a time, so the event loop never waits on the disk or the network.

Tables (schema ``VERSION``): ``deliveries`` (one row per entity version and sink still to do, the
entity's JSON as stored bytes, its ``UpdatePolicy.code``, its ordering key and, for history, its
time; ``owner``, ``token`` and ``lease_until`` set while claimed), ``tops`` (per sink and key, the
highest ordering key stored: an older version is stale; its row is also the key's lock, taken by
puts and skipped by claims), ``heads`` (per sink and key, the last version acked: replays of older
versions are stale, equal re-puts unchanged), ``counters`` (per sink, name and writer, so that no
two workers ever wait for one row), ``dead_letters`` (stale versions too), ``workers`` (each
worker's last heartbeat, see ``liveness``), ``meta`` (the schema version).

Every operation is one transaction whatever the number of entities, with a fixed number of
statements: lists of ids or numbers go as one parameter (a JSON array for SQLite, an array for
PostgreSQL), rows as one ``executemany`` or one multi-row statement.
"""

from __future__ import annotations

import asyncio
import hashlib
import queue
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from ..errors import ConfigError, OutboxError

T = TypeVar("T")


def _migrated(tx: Tx) -> None:
    tx.dialect.migrated(tx)


VERSION = 4  # the schema version kept in ``meta``; a store of another version is refused at open
# How a store of an earlier version becomes this one (its data kept): version → statements (a
# callable: statements that depend on the backend).
MIGRATIONS: dict[int, Sequence[str | Callable[[Tx], None]]] = {
    2: (  # 3: each version keeps its update policy (replace or merge, history)
        "ALTER TABLE deliveries ADD COLUMN policy BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE dead_letters ADD COLUMN policy BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE deliveries ADD COLUMN observed DOUBLE PRECISION",  # a history version's time
        "ALTER TABLE heads ADD COLUMN observed DOUBLE PRECISION",
    ),
    3: (  # 4: ordering keys (versions never go backwards), claim tokens, counters per writer
        "ALTER TABLE deliveries ADD COLUMN ordering DOUBLE PRECISION",
        "ALTER TABLE deliveries ADD COLUMN token TEXT",
        "ALTER TABLE heads ADD COLUMN ordering DOUBLE PRECISION",
        "ALTER TABLE dead_letters ADD COLUMN ordering DOUBLE PRECISION",
        # The versions stored so far had no key: their time of storage (or observation) is theirs.
        "UPDATE deliveries SET ordering = COALESCE(observed, created)",
        "UPDATE heads SET ordering = observed",
        # The key of each (sink, key) with a version waiting or delivered.
        "INSERT INTO tops (sink, tenant, entity_id, ordering) SELECT sink, tenant, entity_id, MAX(ordering) "
        "FROM (SELECT sink, tenant, entity_id, ordering FROM deliveries UNION ALL "
        "SELECT sink, tenant, entity_id, COALESCE(ordering, 0) FROM heads) AS k "
        "GROUP BY sink, tenant, entity_id",
        _migrated,  # counters per writer, and the backend's own
    ),
}
LIVENESS = 10.0  # seconds a worker's claims outlive its last heartbeat (``outbox.liveness``)


class Dialect:
    """What differs between backends. ``?`` placeholders are rewritten by ``sql``."""

    ddl: Sequence[str] = ()
    skip_locked = ""  # how a select skips the rows other transactions hold ("": one writer anyway)

    def sql(self, text: str) -> str:
        return text

    def among(self, column: str, kind: str = "text") -> str:
        """A condition "``column`` is one of the list given as the next parameter" (see ``array``)."""
        raise NotImplementedError

    def array(self, values: Sequence[Any]) -> Any:
        """``values`` as the one parameter of an ``among`` condition."""
        raise NotImplementedError

    def json_text(self, column: str, key: str) -> str:
        """The text of member ``key`` of the JSON object held (as text) in ``column``."""
        raise NotImplementedError

    def pairs(self, first: str, second: str, values: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
        """A condition "(``first``, ``second``) is one of ``values``", and its parameters."""
        raise NotImplementedError

    def listing(self, alias: str, kind: str = "text") -> str:
        """A FROM item: the list given as the next parameter, as rows of one column ``value``."""
        raise NotImplementedError

    def next_seqs(self, tx: Tx, count: int) -> list[int]:
        """``count`` new entry numbers, increasing."""
        raise NotImplementedError

    def migrated(self, tx: Tx) -> None:
        """The last step from schema 3 to 4: ``counters`` keyed by writer too (``owner``), and
        what the backend needs besides."""
        raise NotImplementedError

    def within(self, column: str, subquery: str) -> str:
        """A condition "``column`` is one of the values ``subquery`` selects"."""
        return f"{column} IN ({subquery})"

    def transaction(self, connection: Any, work: Callable[[Tx], T], *, write: bool, locked: bool,
                    durable: bool) -> T:  # fmt: skip
        """Run ``work`` in one transaction: ``write`` takes the write lock (``locked``: the
        schema's own, taken only to create or migrate it), ``durable`` waits for the disk at commit."""
        raise NotImplementedError

    def insert(self, tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (tuples in ``columns`` order) in as few statements as the backend allows."""
        tx.many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(len(columns))})", rows)

    def end_sessions(self, tx: Tx, owners: Sequence[str]) -> dict[str, int]:
        """End the database sessions of ``owners`` (workers gone silent); how many per owner."""
        return {}

    def gone(self, tx: Tx, owners: Sequence[str]) -> list[str]:
        """Which of ``owners`` (holders of claims) are gone: their process or session ended."""
        raise NotImplementedError

    # The driver's errors that mean "the database failed this time" (lost, full, locked): raised
    # as ``OutboxError``, which callers retry; any other error is a bug and stays what it is.
    failures: tuple[type[Exception], ...] = ()

    def broken(self, connection: Any) -> bool:
        """Whether ``connection`` is lost for good (to be opened again before its next use)."""
        return False

    def has_table(self, tx: Tx, name: str) -> bool:
        raise NotImplementedError


class Tx:
    """One transaction's cursor with the dialect applied."""

    owner = ""  # the writer whose counters this transaction adds to

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self.connection = connection
        self.dialect = dialect
        self.cursor = connection.cursor()

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a statement that returns rows, and fetch them (its own cursor: in pipeline mode a
        cursor's results are those of its earlier statements until they are read)."""
        cursor = self.connection.cursor()
        cursor.execute(self.dialect.sql(text), tuple(params))
        return list(cursor.fetchall())

    def run(self, text: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(self.dialect.sql(text), tuple(params))

    def many(self, text: str, params: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(row) for row in params]
        if batch:
            self.cursor.executemany(self.dialect.sql(text), batch)

    def forget(self, sink: str, seqs: Sequence[int]) -> None:
        """Delete the deliveries ``seqs`` of ``sink`` (done, superseded or dead-lettered).

        By ``seq`` alone, which is unique: with ``sink = ?`` too, SQLite would scan the sink's rows."""
        if seqs:
            self.run(
                f"DELETE FROM deliveries WHERE {self.dialect.among('seq', 'bigint')}",
                (self.dialect.array(seqs),),
            )

    def count(self, sink: str, name: str, delta: int) -> None:
        if delta:
            self.run(
                "INSERT INTO counters (sink, name, owner, value) VALUES (?, ?, ?, ?) ON CONFLICT (sink, name, owner) "
                "DO UPDATE SET value = counters.value + excluded.value",
                (sink, name, self.owner, delta),
            )


def marks(count: int) -> str:
    return ",".join("?" * count)


def digest(body: bytes) -> bytes:
    """The fingerprint of an entity version (its sorted-keys JSON), to tell equal versions apart."""
    return hashlib.blake2b(body, digest_size=16).digest()


class SqlStore:
    """DB-API connections used from worker threads, one transaction at a time on each.

    SQLite has one connection (one writer at a time anyway); PostgreSQL a few, so that the
    drainer's concurrent workers do not queue behind each other's round trips.
    """

    def __init__(
        self,
        connections: Sequence[Any],
        dialect: Dialect,
        *,
        owner: str,
        sinks: Sequence[str] = ("broker",),
        supersede: bool = True,
        skip_unchanged: bool = True,
        liveness: float = LIVENESS,
    ) -> None:
        if not liveness > 0:
            raise ConfigError(f"outbox liveness: {liveness!r} is not a number of seconds > 0", key="liveness")
        self.liveness = float(liveness)
        self._connections = list(connections)
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for connection in self._connections:
            self._free.put(connection)
        self._dialect = dialect
        self._owner = owner
        self.sinks = tuple(sinks)
        self.supersede = supersede
        self.skip_unchanged = skip_unchanged
        self._transaction(True, self._create, locked=True)

    def _create(self, tx: Tx) -> None:
        fresh = not tx.dialect.has_table(tx, "meta")
        if fresh and tx.dialect.has_table(tx, "deliveries"):
            raise ConfigError(
                f"outbox: the store holds an outbox of an earlier version (schema 1, this is {VERSION});"
                " drain it with that version, then remove it",
                key="outbox",
            )
        for statement in self._dialect.ddl:
            tx.run(statement)
        if fresh:
            tx.run("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(VERSION),))
        ((found,),) = tx.rows("SELECT value FROM meta WHERE key = 'schema'")
        while int(found) in MIGRATIONS:
            for step in MIGRATIONS[int(found)]:
                if isinstance(step, str):
                    tx.run(step)
                else:
                    step(tx)
            found = str(int(found) + 1)
            tx.run("UPDATE meta SET value = ? WHERE key = 'schema'", (found,))
        if int(found) == VERSION and not fresh:
            self._fold_counters(tx)
        if int(found) != VERSION:
            raise ConfigError(
                f"outbox: the store has schema {found}, this version of contextbridge needs {VERSION}",
                key="outbox",
            )

    def _fold_counters(self, tx: Tx) -> None:
        """Fold the counters of writers that are gone into the shared row (``owner`` ''), so that
        their rows do not pile up over restarts."""
        owners = [str(owner) for (owner,) in tx.rows("SELECT DISTINCT owner FROM counters WHERE owner <> ''")]
        gone = tx.dialect.gone(tx, owners) if owners else []
        if gone:
            among, array = tx.dialect.among, tx.dialect.array
            tx.run(
                "INSERT INTO counters (sink, name, owner, value) SELECT sink, name, '', SUM(value) FROM counters "
                f"WHERE {among('owner')} GROUP BY sink, name ON CONFLICT (sink, name, owner) "
                "DO UPDATE SET value = counters.value + excluded.value",
                (array(gone),),
            )
            tx.run(f"DELETE FROM counters WHERE {among('owner')}", (array(gone),))

    # --- plumbing ------------------------------------------------------------------------------

    def _transaction(
        self, write: bool, work: Callable[[Tx], T], *, locked: bool = False, durable: bool = True
    ) -> T:
        connection = self._free.get()
        try:
            if self._dialect.broken(connection):
                connection = self._reopen(connection)
            return self._dialect.transaction(
                connection, self._as_owner(work), write=write, locked=locked, durable=durable
            )
        except self._dialect.failures as error:
            raise OutboxError(str(error).strip(), outbox=self.location) from error
        finally:
            self._free.put(connection)

    def _as_owner(self, work: Callable[[Tx], T]) -> Callable[[Tx], T]:
        """``work`` with the transaction's counters this writer's."""
        owner = self._owner

        def owned(tx: Tx) -> T:
            tx.owner = owner
            return work(tx)

        return owned

    location = ""  # where the outbox is, for messages (no password)

    def _reopen(self, connection: Any) -> Any:
        """A new connection in place of ``connection``, which was lost (backends that can reconnect)."""
        return connection

    async def _run(
        self, write: bool, work: Callable[[Tx], T], *, locked: bool = False, durable: bool = True
    ) -> T:
        return await asyncio.to_thread(self._transaction, write, work, locked=locked, durable=durable)

    _closed = False

    async def close(self) -> None:
        if not self._closed:  # closing twice is harmless
            self._closed = True
            await asyncio.to_thread(self._close)

    def _close(self) -> None:
        for _ in self._connections:
            self._free.get().close()
