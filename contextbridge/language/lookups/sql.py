"""Lookup rows from a SQL query against PostgreSQL (psycopg), run again on an interval.

    >>> source = SqlSource("postgresql://postgres@127.0.0.1:5432/city", "SELECT * FROM sensors")
    >>> next(source.fetch())
    {'sensor': '3101', 'street': 'Calle Daoíz y Velarde', 'lat': 43.46297, ...}

Column names are the query's; numeric (Decimal) values become floats and dates ISO 8601 text,
so rows read like parsed JSON. A connection or query failure is a DeliveryError (the refresher
keeps the old table and tries again at the next interval).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ...errors import DeliveryError
from .base import LookupSource, Row


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value


class SqlSource(LookupSource):
    """``query`` on the database at ``url`` (a libpq connection URI or key=value string)."""

    kind = "sql"
    remote = True

    def __init__(
        self, url: str, query: str, *, interval: float | None = 300.0, timeout: float = 30.0
    ) -> None:
        self.url = url
        self.query = query
        self.interval = interval
        self.timeout = timeout

    def fetch(self) -> Iterator[Row]:
        # Connect now, so that an unreachable database fails the fetch itself.
        try:
            conn = psycopg.connect(self.url, connect_timeout=max(1, int(self.timeout)), row_factory=dict_row)
        except psycopg.Error as error:
            raise DeliveryError(f"lookup query failed: {error}".strip(), url=self.describe()) from error
        return self._rows(conn)

    def _rows(self, conn: psycopg.Connection[dict[str, Any]]) -> Iterator[Row]:
        # A server-side cursor streams the rows: a table past max_rows is refused without being held.
        try:
            with conn, conn.cursor(name="contextbridge_lookup") as cursor:
                cursor.itersize = 10_000
                cursor.execute(self.query)
                for row in cursor:
                    yield {column: _plain(value) for column, value in row.items()}
        except psycopg.Error as error:
            raise DeliveryError(f"lookup query failed: {error}".strip(), url=self.describe()) from error
        finally:
            conn.close()

    def describe(self) -> str:
        # never show a password that the URL may hold
        try:
            info = psycopg.conninfo.conninfo_to_dict(self.url)
        except psycopg.Error:
            return "sql"
        return f"postgresql://{info.get('host', '')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
