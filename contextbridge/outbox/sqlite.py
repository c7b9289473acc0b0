"""The embedded outbox: one SQLite file in the state directory, in WAL mode.

    >>> outbox = SqliteOutbox(Path(".contextbridge"))     # .contextbridge/outbox.sqlite3

Durability: what holds data is synced to disk at commit (``synchronous=FULL``, the default):
``put``, ``reject``, ``dead_letter``, ``replay``, ``purge``. In WAL mode NORMAL already survives a
killed process (the WAL is in the OS cache), but a power cut or kernel crash may lose the last
commits, and the data of a webhook or an MQTT message already acknowledged upstream would be
gone for good. Claims, renewals, releases and acks only move entries along the queue: they commit
without waiting for the disk. A power cut may undo the last of them (never a put: the WAL is
written in order, and each synced commit syncs all before it), which only sends those entities
once more, as at-least-once delivery allows.

Claims belong to a process id (and an outbox object); a claim whose process is gone is free again
for the next claims (looked for every second, and whenever fewer entries are free than asked for),
so a run killed with SIGKILL leaves nothing stuck behind for the next one.

Reads and writes of a queue keep touching the same pages (its head, the indexes): the connection
keeps 64 MB of them in memory, and lets the WAL grow to 16 MB between checkpoints.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ..storage.database import open_sqlite
from .queue import SqlOutbox
from .sql import Dialect, Tx

T = TypeVar("T")
FILE = "outbox.sqlite3"
PRAGMAS = (
    # A checkpoint writes a page once however many times it changed since the last one.
    "PRAGMA cache_size=-65536",
    "PRAGMA mmap_size=268435456",
    "PRAGMA wal_autocheckpoint=4000",
    "PRAGMA journal_size_limit=33554432",
)

COUNTERS = (
    "CREATE TABLE IF NOT EXISTS counters (sink TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '',"
    " value INTEGER NOT NULL, PRIMARY KEY (sink, name, owner)) WITHOUT ROWID"
)
DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    # seq is the rowid: rows are appended at the end of the table, in put order.
    "CREATE TABLE IF NOT EXISTS deliveries (seq INTEGER PRIMARY KEY, sink TEXT NOT NULL, tenant TEXT NOT NULL,"
    " entity_id TEXT NOT NULL, feed TEXT, body BLOB NOT NULL, digest BLOB NOT NULL, created REAL NOT NULL,"
    " owner TEXT, lease_until REAL, attempts INTEGER NOT NULL DEFAULT 0, first_attempt REAL,"
    " last_attempt REAL, last_error TEXT, policy INTEGER NOT NULL DEFAULT 0, observed REAL, ordering REAL,"
    " token TEXT)",
    "CREATE INDEX IF NOT EXISTS deliveries_key ON deliveries (entity_id, tenant, sink)",
    # What a claim reads: the waiting entries in order, and the (few) claimed keys with their owners.
    "CREATE INDEX IF NOT EXISTS deliveries_waiting ON deliveries (sink, seq) WHERE owner IS NULL",
    "CREATE INDEX IF NOT EXISTS deliveries_claimed ON deliveries (sink, tenant, entity_id, owner, lease_until)"
    " WHERE owner IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS heads (sink TEXT NOT NULL, tenant TEXT NOT NULL, entity_id TEXT NOT NULL,"
    " digest BLOB NOT NULL, seq INTEGER NOT NULL, observed REAL, ordering REAL,"
    " PRIMARY KEY (sink, tenant, entity_id)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS tops (sink TEXT NOT NULL, tenant TEXT NOT NULL, entity_id TEXT NOT NULL,"
    " ordering REAL NOT NULL, PRIMARY KEY (sink, tenant, entity_id)) WITHOUT ROWID",
    COUNTERS,
    "CREATE TABLE IF NOT EXISTS workers (owner TEXT PRIMARY KEY, beat REAL NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL,"
    " tenant TEXT NOT NULL, entity_id TEXT, seq INTEGER, feed TEXT, data TEXT NOT NULL, reason TEXT NOT NULL,"
    " digest TEXT, attempts INTEGER NOT NULL, first_attempt REAL, last_attempt REAL, created REAL NOT NULL,"
    " policy INTEGER NOT NULL DEFAULT 0, ordering REAL)",
    "CREATE INDEX IF NOT EXISTS dead_letters_sink ON dead_letters (sink, id)",
    "CREATE INDEX IF NOT EXISTS dead_letters_digest ON dead_letters (sink, digest)",
)


class SqliteDialect(Dialect):
    ddl = DDL
    failures = (sqlite3.OperationalError,)  # disk full, database locked too long, I/O error

    def __init__(self, synchronous: str) -> None:
        self.synchronous = synchronous
        self._current = synchronous  # the connection's setting now

    def among(self, column: str, kind: str = "text") -> str:
        return f"{column} IN (SELECT value FROM json_each(?))"

    def array(self, values: Sequence[Any]) -> Any:
        return orjson.dumps(list(values)).decode()

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    def listing(self, alias: str, kind: str = "text") -> str:
        return f"json_each(?) AS {alias}"

    def pairs(self, first: str, second: str, values: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
        return (
            f"({first}, {second}) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') "
            "FROM json_each(?))",
            [orjson.dumps([list(pair) for pair in values]).decode()],
        )

    def next_seqs(self, tx: Tx, count: int) -> list[int]:
        # One writer at a time (BEGIN IMMEDIATE): the counter's numbers follow commit order.
        ((top,),) = tx.rows(
            "INSERT INTO counters (sink, name, owner, value) VALUES ('', 'seq', '', ?) "
            "ON CONFLICT (sink, name, owner) DO UPDATE SET value = counters.value + excluded.value RETURNING value",
            (count,),
        )
        return list(range(int(top) - count + 1, int(top) + 1))

    def transaction(self, connection: Any, work: Callable[[Tx], T], *, write: bool, locked: bool,
                    durable: bool) -> T:  # fmt: skip
        wanted = self.synchronous if durable else "NORMAL"
        if wanted != self._current:  # per transaction: only the commits that hold data wait for the disk
            connection.execute(f"PRAGMA synchronous={wanted}")
            self._current = wanted
        tx = Tx(connection, self)
        # IMMEDIATE takes the write lock up front: two processes never interleave a claim.
        tx.run("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = work(tx)
        except BaseException:
            tx.run("ROLLBACK")
            raise
        tx.run("COMMIT")
        return result

    def migrated(self, tx: Tx) -> None:
        tx.run("ALTER TABLE counters RENAME TO counters_3")
        tx.run(COUNTERS)
        tx.run("INSERT INTO counters (sink, name, owner, value) SELECT sink, name, '', value FROM counters_3")
        tx.run("DROP TABLE counters_3")

    def gone(self, tx: Tx, owners: Sequence[str]) -> list[str]:
        return [owner for owner in owners if not _alive(owner)]

    def has_table(self, tx: Tx, name: str) -> bool:
        return bool(tx.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


def _alive(owner: str) -> bool:
    try:
        os.kill(int(owner.split(":")[0]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True  # another user's process, or not a pid: leave it to the lease
    return True


class SqliteOutbox(SqlOutbox):
    """The outbox in ``state/outbox.sqlite3``."""

    def __init__(self, state: Path, *, synchronous: str = "FULL", **options: Any) -> None:
        self.path = state / FILE
        self.location = str(self.path)
        connection = open_sqlite(state, FILE, autocommit=True)
        connection.execute(f"PRAGMA synchronous={synchronous}")
        for pragma in PRAGMAS:
            connection.execute(pragma)
        super().__init__(
            [connection],
            SqliteDialect(synchronous),
            owner=f"{os.getpid()}:{uuid.uuid4().hex[:8]}",
            **options,
        )
