"""NDJSON (JSON Lines) input: one JSON object per line.

    >>> list(NdjsonFormat({}).parse(io.BytesIO(b'{"id": 1}\\n\\n{"id": 2}\\n')))
    [{'id': 1}, {'id': 2}]

Blank lines are skipped and not counted. A line that is not valid JSON, or not an object,
rejects that record only (its number counts non-blank lines) and the next line is read; so
does a line over ``MAX_RECORD_BYTES`` (16 MiB), which is read through and dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import orjson

from ..errors import FormatError
from .base import Format, Record
from .json import CHUNK_SIZE, MAX_RECORD_BYTES, expected_object

__all__ = ["NdjsonFormat"]

_BOM = b"\xef\xbb\xbf"


class NdjsonFormat(Format):
    """Newline-delimited JSON objects."""

    name = "ndjson"
    options = frozenset()

    def parse(self, stream: BinaryIO, *, source: str | None = None) -> Iterator[Record | FormatError]:
        number = 0
        line_number = 0
        while line := stream.readline(CHUNK_SIZE):
            line_number += 1
            if not line.endswith(b"\n"):
                line, size = _rest_of_line(stream, line)
                if size > MAX_RECORD_BYTES:
                    number += 1
                    reason = f"line {line_number} is over {MAX_RECORD_BYTES:,} bytes"
                    shown = line[:200].decode("utf-8", "replace")
                    yield FormatError(reason, record=number, source=source, data=shown)
                    continue
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


def _rest_of_line(stream: BinaryIO, start: bytes) -> tuple[bytes, int]:
    """The whole line begun with ``start`` and its size; past MAX_RECORD_BYTES only its start is kept."""
    parts = [start]
    size = len(start)
    while piece := stream.readline(CHUNK_SIZE):
        size += len(piece)
        if size <= MAX_RECORD_BYTES:
            parts.append(piece)
        elif len(parts) > 1:
            del parts[1:]  # too long: it will be rejected, keep only its start for the message
        if piece.endswith(b"\n"):
            break
    return b"".join(parts), size
