"""A lookup table: rows of a reference data set (an asset inventory) indexed by their key.

    >>> table = LookupTable("sensors", key=("sensor_id",), max_rows=1000)
    >>> table.replace([{"sensor_id": "3101", "street": "Calle Daoíz y Velarde"}])
    >>> table.get("3101")["street"]
    'Calle Daoíz y Velarde'

The index is a plain dict built aside and swapped in with one assignment, so a reload never
blocks translation and a translating thread always sees either the whole old table or the whole
new one, never a half-built one. Keys are text (numbers as templates write them: ``3101``, not
``3101.0``), stripped of blanks; a key of several columns is a tuple of texts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ...errors import ConfigError
from ..templates import to_text

Row = Mapping[str, Any]
Key = str | tuple[str, ...]

DUPLICATES = ("error", "first", "last")


def key_text(value: Any) -> str | None:
    """How a key value is compared: its template text, stripped; None for a missing key."""
    if value is None:
        return None
    text = (value if type(value) is str else to_text(value)).strip()
    return text or None


class LookupTable:
    """Rows indexed by their key columns; bounded to ``max_rows``; swapped whole on reload."""

    def __init__(self, name: str, *, key: tuple[str, ...], max_rows: int, duplicates: str = "error") -> None:
        if duplicates not in DUPLICATES:
            raise ConfigError(f"duplicates: {duplicates!r} is not one of {', '.join(DUPLICATES)}")
        self.name = name
        self.key = key
        self.max_rows = max_rows
        self.duplicates = duplicates
        self.rows: dict[Key, Row] = {}
        self.version = 0  # how many tables were swapped in (0: never loaded)
        self.unknown: set[Key] = set()  # keys missed with on_miss: register, for the source to add

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, key: Key) -> Row | None:
        return self.rows.get(key)

    def index(self, rows: Iterable[Row]) -> dict[Key, Row]:
        """Build the index of ``rows``; ConfigError on a missing key column, too many rows or a duplicate."""
        iterator = iter(rows)
        try:
            return self._index(iterator)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a streaming source (a query, a parser) is released at once, even on error

    def _index(self, rows: Iterator[Row]) -> dict[Key, Row]:
        index: dict[Key, Row] = {}
        shared: dict[str, str] = {}
        columns = self.key
        single = columns[0] if len(columns) == 1 else None
        for number, row in enumerate(rows, start=1):
            if number > self.max_rows:
                raise ConfigError(
                    f"lookup {self.name!r} has more than max_rows={self.max_rows:,} rows", key="max_rows"
                )
            try:
                key: Key | None
                if single is not None:
                    key = key_text(row[single])
                else:
                    parts = tuple(key_text(row[column]) for column in columns)
                    key = None if None in parts else parts  # type: ignore[assignment]
            except KeyError as error:
                found = ", ".join(map(str, row)) or "none"
                raise ConfigError(
                    f"lookup {self.name!r}: row {number} has no key column {error.args[0]!r} "
                    f"(columns: {found})",
                    key="key",
                ) from None
            if key is None:
                raise ConfigError(f"lookup {self.name!r}: row {number} has an empty key", key="key")
            if key in index:
                if self.duplicates == "error":
                    raise ConfigError(
                        f"lookup {self.name!r}: duplicate key {key!r} at row {number} "
                        "(set duplicates: first or last to accept)",
                        key="key",
                    )
                if self.duplicates == "first":
                    continue
            # Inventories repeat most of their values (streets, zones, types): one string object per
            # distinct value roughly halves a table's memory, and rows read faster for it.
            index[key] = {
                column: shared.setdefault(value, value) if type(value) is str else value
                for column, value in row.items()
            }
        return index

    def replace(self, rows: Iterable[Row]) -> None:
        """Index ``rows`` aside, then swap them in whole (one assignment: atomic for readers)."""
        index = self.index(rows)
        self.rows = index
        self.version += 1

    def __repr__(self) -> str:
        return f"<LookupTable {self.name!r} key={list(self.key)} rows={len(self.rows)}>"
