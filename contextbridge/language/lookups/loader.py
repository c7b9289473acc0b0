"""From a mapping's ``lookups:`` block to tables and sources: the registry of source kinds.

    lookups:
      sensors:
        csv: ../examples/santander/parking-sensors.csv   # or json:, ndjson:, http:, sql:, registry:
        key: sensor                                      # a column, or a list of columns
        max_rows: 200000

Relative file paths are read from the mapping file's directory. The registry is a dict from
the key that names the source (``csv``, ``http``...) to the function building it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from .base import LookupSource
from .files import FileSource
from .table import LookupTable

DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_INTERVAL = 300.0

Build = Callable[[Any, Mapping[str, Any], Path], LookupSource]


def _file(fmt: str) -> Build:
    def build(value: Any, spec: Mapping[str, Any], base: Path) -> LookupSource:
        return FileSource(base / value, fmt, spec.get("options"))

    return build


# The remote sources import their client (httpx, psycopg) when a mapping uses them.
def _http(value: Any, spec: Mapping[str, Any], base: Path) -> LookupSource:
    from .http import HttpSource

    if isinstance(value, str):
        value = {"url": value}
    return HttpSource(
        value["url"],
        fmt=value.get("format"),
        options=spec.get("options"),
        headers=value.get("headers"),
        interval=value.get("interval", DEFAULT_INTERVAL),
        timeout=value.get("timeout", 30.0),
    )


def _sql(value: Any, spec: Mapping[str, Any], base: Path) -> LookupSource:
    from .sql import SqlSource

    return SqlSource(
        value["url"],
        value["query"],
        interval=value.get("interval", DEFAULT_INTERVAL),
        timeout=value.get("timeout", 30.0),
    )


def _registry(value: Any, spec: Mapping[str, Any], base: Path) -> LookupSource:
    from ...storage.database import is_postgres
    from .devices import RegistrySource

    text = str(value)
    location: str | Path = text if is_postgres(text) else base / text
    return RegistrySource(location, interval=spec.get("interval", DEFAULT_INTERVAL))


SOURCES: dict[str, Build] = {
    "csv": _file("csv"),
    "json": _file("json"),
    "ndjson": _file("ndjson"),
    "http": _http,
    "sql": _sql,
    "registry": _registry,
}


def compile_lookup(name: str, spec: Mapping[str, Any], base: Path) -> tuple[LookupTable, LookupSource]:
    """The (empty) table and the source of one lookup; ConfigError names the key at fault."""
    kinds = [kind for kind in SOURCES if kind in spec]
    if len(kinds) != 1:
        known = ", ".join(SOURCES)
        raise ConfigError(f"lookup {name!r} needs exactly one source of: {known} (found: {kinds or 'none'})")
    key = spec["key"] if isinstance(spec["key"], list) else [spec["key"]]
    table = LookupTable(
        name,
        key=tuple(key),
        max_rows=spec.get("max_rows", DEFAULT_MAX_ROWS),
        duplicates=spec.get("duplicates", "error"),
    )
    return table, SOURCES[kinds[0]](spec[kinds[0]], spec, base)
