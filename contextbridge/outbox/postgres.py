"""The shared outbox: PostgreSQL, for several workers draining one queue.

    >>> outbox = PostgresOutbox("postgresql://cb@db.city/platform", schema="contextbridge")

All tables live in ``schema`` (created if missing). Writes take one transaction-scoped advisory
lock per schema, so entry numbers follow commit order and two workers never claim two versions
of one entity at once; the transactions are short (one batch), so this costs little. A claim
belongs to its worker's database session: when a worker dies, its connection closes and its
claims are free at the next claim of another worker, without waiting for the lease.
"""

from __future__ import annotations

import zlib
from typing import Any

import psycopg

from ..errors import ConfigError
from .queue import SqlOutbox
from .sql import Dialect

DDL = (
    "CREATE TABLE IF NOT EXISTS entries (seq BIGINT PRIMARY KEY, tenant TEXT NOT NULL, entity_id TEXT NOT NULL,"
    " feed TEXT, body TEXT NOT NULL, digest TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS deliveries (sink TEXT NOT NULL, seq BIGINT NOT NULL, tenant TEXT NOT NULL,"
    " entity_id TEXT NOT NULL, owner TEXT, lease_until DOUBLE PRECISION, attempts INTEGER NOT NULL DEFAULT 0,"
    " first_attempt DOUBLE PRECISION, last_attempt DOUBLE PRECISION, last_error TEXT, PRIMARY KEY (sink, seq))",
    "CREATE INDEX IF NOT EXISTS deliveries_key ON deliveries (sink, tenant, entity_id)",
    "CREATE INDEX IF NOT EXISTS deliveries_seq ON deliveries (seq)",
    "CREATE INDEX IF NOT EXISTS deliveries_owner ON deliveries (sink, owner) WHERE owner IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS heads (sink TEXT NOT NULL, tenant TEXT NOT NULL, entity_id TEXT NOT NULL,"
    " digest TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (sink, tenant, entity_id))",
    "CREATE TABLE IF NOT EXISTS counters (sink TEXT NOT NULL, name TEXT NOT NULL, value BIGINT NOT NULL,"
    " PRIMARY KEY (sink, name))",
    "CREATE TABLE IF NOT EXISTS dead_letters (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " sink TEXT NOT NULL, tenant TEXT NOT NULL, entity_id TEXT, seq BIGINT, feed TEXT, data TEXT NOT NULL,"
    " reason TEXT NOT NULL, digest TEXT, attempts INTEGER NOT NULL, first_attempt DOUBLE PRECISION,"
    " last_attempt DOUBLE PRECISION, created DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS dead_letters_sink ON dead_letters (sink, id)",
    "CREATE INDEX IF NOT EXISTS dead_letters_digest ON dead_letters (sink, digest)",
)


class PostgresDialect(Dialect):
    ddl = DDL

    def __init__(self, schema: str) -> None:
        self.lock = zlib.crc32(schema.encode())  # one advisory lock key per outbox schema

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")  # the outbox's SQL has no other '?' and no '%'

    def begin(self, cursor: Any, *, write: bool) -> None:
        cursor.execute("BEGIN")
        if write:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock,))

    def alive(self, cursor: Any, owners: set[str]) -> set[str]:
        pids = [int(owner) for owner in owners if owner.isdigit()]
        cursor.execute("SELECT pid::text FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,))
        return {row[0] for row in cursor.fetchall()} | {owner for owner in owners if not owner.isdigit()}


class PostgresOutbox(SqlOutbox):
    """The outbox in a PostgreSQL schema."""

    def __init__(self, url: str, *, schema: str = "contextbridge", **options: Any) -> None:
        if not schema.replace("_", "").isalnum():
            raise ConfigError(f"outbox schema: {schema!r} is not a plain SQL name (letters, digits, _)")
        self.schema = schema
        try:
            connection = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as error:
            raise ConfigError(f"outbox: cannot connect to PostgreSQL at {_redacted(url)}: {error}") from error
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        connection.execute(f'SET search_path TO "{schema}"')
        (pid,) = connection.execute("SELECT pg_backend_pid()").fetchone() or (0,)
        super().__init__(connection, PostgresDialect(schema), owner=str(pid), **options)


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    return f"{scheme}//{credentials.split(':', 1)[0]}:***@{tail}"
