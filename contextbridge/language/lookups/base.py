"""The lookup source plug-in point: one small class per place reference data comes from.

A source has one method, ``fetch``: the rows of the data set now, or None when they have not
changed since the last fetch (an HTTP 304). Files are read once, when the mapping loads;
``remote`` sources (HTTP, SQL) are fetched again every ``interval`` seconds by the refresher of
:class:`~contextbridge.language.lookups.LookupSet`, in a thread, so translation never waits on them.
"""

from __future__ import annotations

import io
from collections.abc import Generator, Iterable, Iterator, Mapping
from typing import Any, ClassVar

from ...errors import ConfigError, FormatError
from ...formats import get_format

Row = Mapping[str, Any]

# The formats a file or an HTTP answer may hold (an inventory is a table, not a feed of events).
TABLE_FORMATS = ("csv", "json", "ndjson")


class LookupSource:
    """Base of the lookup sources; subclasses set ``kind`` and override ``fetch``."""

    kind: ClassVar[str] = ""
    remote: ClassVar[bool] = False
    interval: float | None = None  # seconds between refreshes (remote sources only)

    def fetch(self) -> Iterable[Row] | None:
        """The rows now, or None when unchanged since the last fetch. Errors (raised here or while
        the rows are iterated) are ContextBridgeErrors. The rows may be a generator: the table
        stops reading past ``max_rows``, so an oversized source is refused without being held."""
        raise NotImplementedError

    def describe(self) -> str:
        """Where the rows come from, for messages."""
        raise NotImplementedError

    def use_tenant(self, tenant: str) -> None:
        """Read ``tenant``'s rows (the feed's): only the device registry has tenants."""
        return None

    def register(self, keys: Iterable[Any]) -> None:
        """Add rows for ``keys`` (missed with ``on_miss: register``); only the device registry can."""
        raise ConfigError(f"on_miss: register needs a registry lookup, not {self.describe()}", key="on_miss")


def parse_rows(data: bytes, fmt: str, options: Mapping[str, Any], *, origin: str) -> Iterator[Row]:
    """The records of ``data`` in format ``fmt`` (csv, json, ndjson); a broken row is a ConfigError."""
    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"lookup format {fmt!r} is not one of {', '.join(TABLE_FORMATS)}", key="format")
    parsed = get_format(fmt, options).parse(io.BytesIO(data), source=origin)
    return _checked(parsed, origin)  # type: ignore[arg-type]


def _checked(items: Generator[Any, None, None], origin: str) -> Iterator[Row]:
    try:
        for number, item in enumerate(items, start=1):
            if isinstance(item, FormatError):
                raise ConfigError(f"{origin}: {item}")
            if not isinstance(item, Mapping):
                raise ConfigError(f"{origin}: row {number} is not an object")
            yield item
    finally:
        items.close()  # the parser lets go of its buffer now, not whenever it is collected
