"""The embedded outbox: one SQLite file in the state directory, in WAL mode.

    >>> outbox = SqliteOutbox(Path(".contextbridge"))     # .contextbridge/outbox.sqlite3

Durability: ``synchronous=FULL``. In WAL mode NORMAL already survives a killed process (the
WAL is in the OS cache), but a power cut or kernel crash may lose the last commits, and the data
of a webhook or an MQTT message already acknowledged upstream would be gone for good. FULL syncs
the WAL at each commit; the outbox commits a whole batch per transaction, so the cost is one
fsync per put or ack of up to a few hundred entities (benchmarks/delivery.py measures it).

Claims belong to a process id (and an outbox object); a claim whose process is gone is free again at the next claim, so
a run killed with SIGKILL leaves nothing stuck behind for the next one.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from .queue import SqlOutbox
from .sql import Dialect

FILE = "outbox.sqlite3"

DDL = (
    "CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, entity_id TEXT NOT NULL,"
    " feed TEXT, body TEXT NOT NULL, digest TEXT NOT NULL, created REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS deliveries (sink TEXT NOT NULL, seq INTEGER NOT NULL, tenant TEXT NOT NULL,"
    " entity_id TEXT NOT NULL, owner TEXT, lease_until REAL, attempts INTEGER NOT NULL DEFAULT 0,"
    " first_attempt REAL, last_attempt REAL, last_error TEXT, PRIMARY KEY (sink, seq)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS deliveries_key ON deliveries (sink, tenant, entity_id)",
    "CREATE INDEX IF NOT EXISTS deliveries_seq ON deliveries (seq)",
    "CREATE INDEX IF NOT EXISTS deliveries_owner ON deliveries (sink, owner) WHERE owner IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS heads (sink TEXT NOT NULL, tenant TEXT NOT NULL, entity_id TEXT NOT NULL,"
    " digest TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (sink, tenant, entity_id)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS counters (sink TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,"
    " PRIMARY KEY (sink, name)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL,"
    " tenant TEXT NOT NULL, entity_id TEXT, seq INTEGER, feed TEXT, data TEXT NOT NULL, reason TEXT NOT NULL, digest TEXT,"
    " attempts INTEGER NOT NULL, first_attempt REAL, last_attempt REAL, created REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS dead_letters_sink ON dead_letters (sink, id)",
    "CREATE INDEX IF NOT EXISTS dead_letters_digest ON dead_letters (sink, digest)",
)


class SqliteDialect(Dialect):
    ddl = DDL

    def begin(self, cursor: Any, *, write: bool) -> None:
        # IMMEDIATE takes the write lock up front: two processes never interleave a claim.
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def alive(self, cursor: Any, owners: set[str]) -> set[str]:
        return {owner for owner in owners if _alive(owner)}


def _alive(owner: str) -> bool:
    try:
        os.kill(int(owner.split(":")[0]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True  # another user's process, or not a pid: leave it to the lease
    return True


class SqliteOutbox(SqlOutbox):
    """The outbox in ``state/outbox.sqlite3``."""

    def __init__(self, state: Path, *, synchronous: str = "FULL", **options: Any) -> None:
        state.mkdir(parents=True, exist_ok=True)
        self.path = state / FILE
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        super().__init__(
            connection, SqliteDialect(), owner=f"{os.getpid()}:{uuid.uuid4().hex[:8]}", **options
        )
