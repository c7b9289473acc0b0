"""The shared outbox: PostgreSQL, for several workers draining one queue.

    >>> outbox = PostgresOutbox("postgresql://cb@db.city/platform", schema="contextbridge")

All tables live in ``schema`` (created if missing). No lock is held that every worker waits for: a put
locks the ``tops`` rows of its keys (the entity ids it stores), a claim the rows of the keys it
takes with ``FOR UPDATE SKIP LOCKED`` (a key another transaction holds is skipped, never waited
for), acks, releases, renewals and dead letters touch only their own claimed rows, and counters are
kept per worker. Entry numbers come from a sequence: increasing per key (its puts are serialised
by its lock), not in commit order across keys. A session left idle in a transaction longer than
``liveness`` (a frozen worker) is ended by the server (``idle_in_transaction_session_timeout``),
and its locks go with it. Each transaction is sent in pipeline mode (its statements travel
together, one round trip per result read), lists travel as arrays (``= ANY(%s)``), rows as one
multi-row insert (of one JSON array), and psycopg prepares the statements it sees repeatedly.

An outbox holds a few connections so that the drainer's concurrent workers do not wait for each
other's round trips. A claim belongs to the outbox, by a random id that every one of its
sessions carries as its ``application_name`` (never a backend pid, which the server gives again):
when a worker dies, its connections close and its claims are free for the other workers' next
claims (looked for every second, and whenever fewer entries are free than asked for), without
waiting for the lease. Claims and acks commit with ``synchronous_commit = off`` (a server crash
may undo the last of them, which only means one more delivery); puts and dead letters wait for
the WAL flush.
"""

from __future__ import annotations

import contextlib
import uuid
import zlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
import psycopg

from ..errors import ConfigError, OutboxError
from ..storage.database import connect_postgres, redacted
from .queue import SqlOutbox
from .sql import LIVENESS, Dialect, Tx

T = TypeVar("T")
CONNECTIONS = 4  # as many as the drainer's default concurrency

COUNTERS = (
    "CREATE TABLE IF NOT EXISTS counters (sink TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '',"
    " value BIGINT NOT NULL, PRIMARY KEY (sink, name, owner))"
)
DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS deliveries (seq BIGINT PRIMARY KEY, sink TEXT NOT NULL, tenant TEXT NOT NULL,"
    " entity_id TEXT NOT NULL, feed TEXT, body BYTEA NOT NULL, digest BYTEA NOT NULL,"
    " created DOUBLE PRECISION NOT NULL, owner TEXT, lease_until DOUBLE PRECISION,"
    " attempts INTEGER NOT NULL DEFAULT 0, first_attempt DOUBLE PRECISION, last_attempt DOUBLE PRECISION,"
    " last_error TEXT, policy BIGINT NOT NULL DEFAULT 0, observed DOUBLE PRECISION, ordering DOUBLE PRECISION,"
    " token TEXT)",
    "CREATE INDEX IF NOT EXISTS deliveries_key ON deliveries (entity_id, tenant, sink)",
    "CREATE INDEX IF NOT EXISTS deliveries_waiting ON deliveries (sink, seq) WHERE owner IS NULL",
    "CREATE INDEX IF NOT EXISTS deliveries_claimed ON deliveries (sink, tenant, entity_id, owner, lease_until)"
    " WHERE owner IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS heads (sink TEXT NOT NULL, tenant TEXT NOT NULL, entity_id TEXT NOT NULL,"
    " digest BYTEA NOT NULL, seq BIGINT NOT NULL, observed DOUBLE PRECISION, ordering DOUBLE PRECISION,"
    " PRIMARY KEY (sink, tenant, entity_id))",
    "CREATE TABLE IF NOT EXISTS tops (sink TEXT NOT NULL, tenant TEXT NOT NULL, entity_id TEXT NOT NULL,"
    " ordering DOUBLE PRECISION NOT NULL, PRIMARY KEY (sink, tenant, entity_id))",
    COUNTERS,
    "CREATE TABLE IF NOT EXISTS workers (owner TEXT PRIMARY KEY, beat DOUBLE PRECISION NOT NULL)",
    "CREATE SEQUENCE IF NOT EXISTS entry_seq",
    "CREATE TABLE IF NOT EXISTS dead_letters (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " sink TEXT NOT NULL, tenant TEXT NOT NULL, entity_id TEXT, seq BIGINT, feed TEXT, data TEXT NOT NULL,"
    " reason TEXT NOT NULL, digest TEXT, attempts INTEGER NOT NULL, first_attempt DOUBLE PRECISION,"
    " last_attempt DOUBLE PRECISION, created DOUBLE PRECISION NOT NULL, policy BIGINT NOT NULL DEFAULT 0,"
    " ordering DOUBLE PRECISION)",
    "CREATE INDEX IF NOT EXISTS dead_letters_sink ON dead_letters (sink, id)",
    "CREATE INDEX IF NOT EXISTS dead_letters_digest ON dead_letters (sink, digest)",
)
TYPES = {  # the array type of each column a multi-row insert carries
    "seq": "bigint",
    "sink": "text",
    "tenant": "text",
    "entity_id": "text",
    "feed": "text",
    "body": "bytea",
    "policy": "bigint",
    "observed": "float8",
    "digest": "bytea",
    "created": "float8",
    "ordering": "float8",
}


class PostgresDialect(Dialect):
    ddl = DDL
    skip_locked = "FOR UPDATE SKIP LOCKED"

    def __init__(self, schema: str) -> None:
        self.lock = zlib.crc32(schema.encode())  # the schema's, taken only to create or migrate it

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")  # the outbox's SQL has no other '?' and no '%'

    def among(self, column: str, kind: str = "text") -> str:
        return f"{column} = ANY(?::{kind}[])"

    def array(self, values: Sequence[Any]) -> Any:
        return list(values)

    def json_text(self, column: str, key: str) -> str:
        return f"({column}::json ->> '{key}')"

    def listing(self, alias: str, kind: str = "text") -> str:
        return f"unnest(?::{kind}[]) AS {alias}(value)"

    def pairs(self, first: str, second: str, values: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
        return (
            f"({first}, {second}) IN (SELECT * FROM unnest(?::text[], ?::text[]))",
            [[a for a, _ in values], [b for _, b in values]],
        )

    def next_seqs(self, tx: Tx, count: int) -> list[int]:
        return [
            int(seq) for (seq,) in tx.rows("SELECT nextval('entry_seq') FROM generate_series(1, ?)", (count,))
        ]

    def migrated(self, tx: Tx) -> None:
        tx.run("ALTER TABLE counters ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        tx.run("ALTER TABLE counters DROP CONSTRAINT counters_pkey")
        tx.run("ALTER TABLE counters ADD PRIMARY KEY (sink, name, owner)")
        # The sequence goes on from the numbers the counter handed out.
        tx.run(
            "SELECT setval('entry_seq', GREATEST(1, (SELECT COALESCE(MAX(value), 0) FROM counters "
            "WHERE sink = '' AND name = 'seq'), (SELECT COALESCE(MAX(seq), 0) FROM deliveries)))"
        )

    def within(self, column: str, subquery: str) -> str:
        # As an array computed once: with IN (subquery) the planner hashes the whole table.
        return f"{column} = ANY(ARRAY({subquery}))"

    def transaction(self, connection: Any, work: Callable[[Tx], T], *, write: bool, locked: bool,
                    durable: bool) -> T:  # fmt: skip
        tx = Tx(connection, self)
        try:
            with connection.pipeline():
                tx.run("BEGIN")
                if not durable:
                    tx.run("SET LOCAL synchronous_commit = off")
                if locked:
                    tx.run("SELECT pg_advisory_xact_lock(?)", (self.lock,))
                result = work(tx)
                tx.run("COMMIT")
        except BaseException:
            status = connection.info.transaction_status
            if not connection.closed and status != psycopg.pq.TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):  # a lost connection: the first error tells
                    connection.execute("ROLLBACK")
            raise
        return result

    def insert(self, tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        # One statement for all the rows, as one JSON array (encoded by orjson, in C; psycopg would
        # adapt arrays element by element in Python); bytes travel as hex.
        kinds = [TYPES[column] for column in columns]
        hexed = [index for index, kind in enumerate(kinds) if kind == "bytea"]
        if hexed:
            rows = [[value.hex() if i in hexed else value for i, value in enumerate(row)] for row in rows]
        fields = ", ".join(
            f"decode(r->>{i}, 'hex')" if kind == "bytea" else f"(r->>{i})::{kind}"
            for i, kind in enumerate(kinds)
        )
        tx.run(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {fields} FROM json_array_elements(?::json) AS r",
            (orjson.dumps(rows).decode(),),
        )

    def end_sessions(self, tx: Tx, owners: Sequence[str]) -> dict[str, int]:
        ended: dict[str, int] = {}
        for (owner,) in tx.rows(
            "SELECT application_name FROM pg_stat_activity WHERE application_name = ANY(?::text[]) "
            "AND pg_terminate_backend(pid)",
            (list(owners),),
        ):
            ended[owner] = ended.get(owner, 0) + 1
        return ended

    def gone(self, tx: Tx, owners: Sequence[str]) -> list[str]:
        # An owner is an outbox's random id, the ``application_name`` of each of its sessions: with
        # none of them left in pg_stat_activity, the worker is gone. Not a backend pid: a dead
        # worker's pid may be given to another session at once, and its claims would look alive
        # until their lease ends.
        return [
            owner
            for (owner,) in tx.rows(
                "SELECT o FROM unnest(?::text[]) AS o WHERE o NOT IN (SELECT application_name "
                "FROM pg_stat_activity WHERE starts_with(application_name, 'contextbridge-'))",
                (list(owners),),
            )
        ]

    failures = (psycopg.OperationalError,)

    def broken(self, connection: Any) -> bool:
        return bool(connection.closed or connection.broken)

    def has_table(self, tx: Tx, name: str) -> bool:
        ((found,),) = tx.rows("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(found)


class PostgresOutbox(SqlOutbox):
    """The outbox in a PostgreSQL schema."""

    def __init__(
        self, url: str, *, schema: str = "contextbridge", connections: int = CONNECTIONS, **options: Any
    ) -> None:
        if not schema.replace("_", "").isalnum():
            raise ConfigError(
                f"outbox schema: {schema!r} is not a plain SQL name (letters, digits, _)", key="schema"
            )
        if connections < 1:
            raise ConfigError(f"outbox connections: {connections} is not ≥ 1", key="connections")
        self.schema = schema
        self.url = url
        self._liveness = float(options.get("liveness", LIVENESS))
        self.location = redacted(url)
        # Who holds this outbox's claims: never reused (see ``PostgresDialect.reap``).
        self.owner = f"contextbridge-{uuid.uuid4().hex}"
        opened: list[psycopg.Connection[Any]] = []
        try:
            for _ in range(connections):
                opened.append(self._connect(create=not opened))
        except psycopg.Error as error:
            for connection in opened:
                connection.close()
            raise ConfigError(
                f"outbox: cannot connect to PostgreSQL at {self.location}: {error}", key="outbox"
            ) from error
        super().__init__(opened, PostgresDialect(schema), owner=self.owner, **options)

    def _connect(self, *, create: bool = False) -> psycopg.Connection[Any]:
        connection = connect_postgres(
            self.url, schema=self.schema, create=create, application_name=self.owner
        )
        # A transaction this worker leaves open while frozen ends after ``liveness``, with its locks.
        connection.execute(f"SET idle_in_transaction_session_timeout = {max(1, int(self._liveness * 1000))}")
        return connection

    _beater: psycopg.Connection[Any] | None = None

    def _beat_transaction(self, work: Callable[[Tx], None]) -> None:
        # A connection of its own: the beat never waits behind the worker's busy connections.
        if self._beater is None or self._dialect.broken(self._beater):
            self._beater = self._connect()
        try:
            self._dialect.transaction(
                self._beater, self._as_owner(work), write=True, locked=False, durable=False
            )
        except self._dialect.failures as error:
            raise OutboxError(str(error).strip(), outbox=self.location) from error

    async def close(self) -> None:
        await super().close()
        if self._beater is not None:
            with contextlib.suppress(psycopg.Error):
                self._beater.close()

    def _reopen(self, connection: Any) -> Any:
        """A new session for a lost one, under the same owner id: the claims stay ours."""
        fresh = self._connect()
        with contextlib.suppress(psycopg.Error):
            connection.close()
        self._connections[self._connections.index(connection)] = fresh
        return fresh
