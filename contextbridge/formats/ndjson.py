"""NDJSON (JSON Lines) input: one JSON object per line.

    >>> list(NdjsonFormat({}).parse(io.BytesIO(b'{"id": 1}\\n\\n{"id": 2}\\n')))
    [{'id': 1}, {'id': 2}]

Blank lines are skipped and not counted. A line that is not valid JSON, or not an object,
rejects that record only (its number counts non-blank lines) and the next line is read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import orjson

from ..errors import FormatError
from .base import Format, Record
from .json import expected_object

__all__ = ["NdjsonFormat"]

_BOM = b"\xef\xbb\xbf"


class NdjsonFormat(Format):
    """Newline-delimited JSON objects."""

    name = "ndjson"
    options = frozenset()

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)

    def parse(self, stream: BinaryIO, *, source: str | None = None) -> Iterator[Record | FormatError]:
        number = 0
        for line_number, line in enumerate(stream, start=1):
            if line_number == 1 and line.startswith(_BOM):
                line = line[len(_BOM) :]
            if not line.strip():
                continue
            number += 1
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                text = line.decode("utf-8", "backslashreplace").rstrip("\r\n")
                yield FormatError(
                    f"invalid JSON on line {line_number}: {error}", record=number, source=source, data=text
                )
                continue
            if isinstance(value, dict):
                yield value
            else:
                reason = f"{expected_object(value)} on line {line_number}"
                yield FormatError(reason, record=number, source=source, data=value)
