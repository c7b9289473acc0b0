"""Lookup rows from a file: a CSV, JSON or NDJSON export of an inventory, read when the mapping loads.

>>> FileSource(Path("examples/santander/parking-sensors.csv"), "csv").fetch()[0]["sensor"]
'3101'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from .base import LookupSource, Row, parse_rows


class FileSource(LookupSource):
    """A file in ``fmt`` (csv, json, ndjson) with the format's options (``delimiter``, ``records``...)."""

    kind = "file"

    def __init__(self, path: Path, fmt: str, options: Mapping[str, Any] | None = None) -> None:
        self.path = path
        self.format = fmt
        self.options = dict(options or {})

    def fetch(self) -> Iterator[Row]:
        try:
            data = self.path.read_bytes()
        except OSError as error:
            raise ConfigError(f"cannot read lookup file {str(self.path)!r}: {error.strerror}") from None
        return parse_rows(data, self.format, self.options, origin=self.path.name)

    def describe(self) -> str:
        return str(self.path)
