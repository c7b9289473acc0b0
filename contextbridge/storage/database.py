"""The SQL layer under everything contextbridge stores: the outbox and its dead letters, the device
registry, the API keys. One router from a location to a database, one way to open each, and what
differs between SQLite and PostgreSQL.

    >>> dialect_of(".contextbridge"), dialect_of("postgresql://cb@db.city/platform")
    (SQLITE, POSTGRES)
    >>> connection = open_sqlite(Path(".contextbridge"), "registry.sqlite3")     # WAL mode
    >>> connection = connect_postgres(url, schema="contextbridge", create=True)  # search_path set

A location is a state directory (each store is one SQLite file in it, in WAL mode) or a
``postgresql://`` URL (each store is tables in one schema of that database). Both drivers are
synchronous DB-API ones; callers run them in worker threads. psycopg loads only when a
PostgreSQL database is opened.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "POSTGRES",
    "SQLITE",
    "Dialect",
    "connect_postgres",
    "dialect_of",
    "is_postgres",
    "open_sqlite",
    "redacted",
]

SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str | Path) -> bool:
    """Whether ``location`` is a PostgreSQL URL (else: a state directory)."""
    return str(location).startswith(SCHEMES)


class Dialect:
    """What differs between the databases, for SQL written once with ``?`` placeholders."""

    name = ""
    placeholder = "?"
    exists_query = ""  # one row when the table named by the parameter exists

    def sql(self, text: str) -> str:
        """``text`` with its ``?`` placeholders in the driver's style (the SQL has no other ``?``)."""
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def exists(self, connection: Any, table: str) -> bool:
        return connection.execute(self.sql(self.exists_query), (table,)).fetchone() is not None

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """Every error of the driver."""
        raise NotImplementedError

    @property
    def failures(self) -> tuple[type[Exception], ...]:
        """The driver's errors that mean "the database failed this time" (lost, full, locked)."""
        raise NotImplementedError

    def broken(self, connection: Any) -> bool:
        """Whether ``connection`` is lost for good (to be opened again before its next use)."""
        return False

    def transaction(self, connection: Any) -> contextlib.AbstractContextManager[Any]:
        """One transaction on a connection opened by this module (committed on success)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name.upper()


class _Sqlite(Dialect):
    name = "sqlite"
    exists_query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    @property
    def failures(self) -> tuple[type[Exception], ...]:
        return (sqlite3.OperationalError,)  # disk full, database locked too long, I/O error

    def transaction(self, connection: Any) -> contextlib.AbstractContextManager[Any]:
        manager: contextlib.AbstractContextManager[Any] = connection  # sqlite3: commits on exit
        return manager


class _Postgres(Dialect):
    name = "postgres"
    placeholder = "%s"
    exists_query = "SELECT 1 WHERE to_regclass(?) IS NOT NULL"

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        import psycopg

        return (psycopg.Error,)

    @property
    def failures(self) -> tuple[type[Exception], ...]:
        import psycopg

        return (psycopg.OperationalError,)

    def broken(self, connection: Any) -> bool:
        return bool(connection.closed or connection.broken)

    def transaction(self, connection: Any) -> contextlib.AbstractContextManager[Any]:
        manager: contextlib.AbstractContextManager[Any] = connection.transaction()
        return manager


SQLITE: Dialect = _Sqlite()
POSTGRES: Dialect = _Postgres()


def dialect_of(location: str | Path) -> Dialect:
    """The database a location names: ``postgresql://`` URLs PostgreSQL, anything else SQLite."""
    return POSTGRES if is_postgres(location) else SQLITE


def open_sqlite(
    state: Path | None, file: str, *, autocommit: bool = False, timeout: float = 30.0
) -> sqlite3.Connection:
    """The SQLite database ``file`` of the state directory (created with it), in WAL mode, usable
    from any thread (one at a time); ``state=None``: in memory. Transactions: ``with connection:``,
    or (``autocommit``) statements of its own."""
    if state is not None:
        state.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        ":memory:" if state is None else state / file,
        timeout=timeout,
        check_same_thread=False,
        isolation_level=None if autocommit else "DEFERRED",
    )
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def connect_postgres(
    url: str, *, schema: str | None = None, create: bool = False, application_name: str | None = None
) -> psycopg.Connection[Any]:
    """A session (autocommit: transactions are explicit) of the database at ``url``, in
    ``schema`` (``create``: made first if missing) when one is given."""
    import psycopg

    options: dict[str, Any] = {"autocommit": True}
    if application_name is not None:
        options["application_name"] = application_name
    connection = psycopg.connect(url, **options)
    if schema is not None:
        if create:
            # Two workers starting at once may both try: the loser's duplicate is harmless.
            with contextlib.suppress(psycopg.errors.UniqueViolation):
                connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        connection.execute(f'SET search_path TO "{schema}"')
    return connection


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    return f"{scheme}//{credentials.split(':', 1)[0]}:***@{tail}"
