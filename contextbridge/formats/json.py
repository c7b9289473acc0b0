"""JSON input: records streamed out of one JSON document with ijson (yajl, C backend).

    >>> fmt = JsonFormat({"records": "resources[*]"})     # Santander open-data API shape
    >>> next(fmt.parse(open("sensors.json", "rb")))["ayto:temperature"]
    '16.45'

``records`` is a path to the records: keys separated by dots, ``[*]`` for "every item of
this array" (``features[*]``, ``data.items[*]``). Without it (or with ``$``), a top-level
array gives one record per item and a top-level object is one record. The document is read
in chunks and fed to the parser, so the first record comes out long before the end of a
large input; a document that fits in one chunk (a message) and has no ``records`` path is
parsed at once by orjson, with the same values. Broken JSON cannot be resumed: the records
before the fault are yielded, then one FormatError that gives the line, column and byte offset
where the fault was found.
A document nested deeper than ``MAX_JSON_DEPTH`` (512) is refused the same way, before the
parser sees the chunk that goes too deep (see :mod:`contextbridge.formats.nesting`), and so is
a record over ``MAX_RECORD_BYTES`` (16 MiB): a record is built whole, so memory stays bounded
only if records are.

A ``records`` path that matches nothing in a document that has no such path is reported as one
FormatError saying where it stopped: ``records path 'data.station[*]' matched nothing; 'data'
has keys stations, last_updated`` (a path that leads to an empty list is no error: the feed
has no records today).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

import ijson
import orjson

from ..errors import FormatError
from .base import Format, OptionReader, Record, bad_option
from .nesting import MAX_JSON_DEPTH, DepthGuard

__all__ = ["MAX_RECORD_BYTES", "JsonFormat", "iter_json_values", "records_prefix"]

CHUNK_SIZE = 64 * 1024
# One record is parsed whole: past this size it is refused rather than held in memory.
MAX_RECORD_BYTES = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
# yajl prints the text around a fault with line breaks turned into spaces, the fault at column 40.
_CARET_COLUMN = 40
_BLANK_LINE_BREAKS = bytes.maketrans(b"\r\n", b"  ")
_SEGMENT = re.compile(r"(?P<key>[^.\[\]\"']*)(?P<items>(?:\[\*\])*)")


def records_prefix(path: str | None) -> str | None:
    """The ijson prefix of a records path (``data.items[*]`` → ``data.items.item``); None: automatic."""
    if path is None or path.strip() in ("", "$"):
        return None
    text = path.strip()
    if text.startswith("$"):
        text = text[1:].removeprefix(".")
    parts: list[str] = []
    for index, segment in enumerate(text.split(".")):
        match = _SEGMENT.fullmatch(segment)
        if match is None or (not match["key"] and (index > 0 or not match["items"])):
            raise bad_option("records", path, "expected a path such as 'resources[*]' or 'data.items[*]'")
        if match["key"]:
            parts.append(match["key"])
        parts.extend(["item"] * (len(match["items"]) // 3))
    return ".".join(parts)


class JsonFormat(Format):
    """One JSON document; ``records`` says where its records are."""

    name = "json"
    options = frozenset({"records"})

    def configure(self, options: OptionReader) -> None:
        self.path = options.text("records", None) or ""
        self.prefix = options.checked("records", lambda: records_prefix(self.path or None), None)

    def parse(self, stream: BinaryIO, *, source: str | None = None) -> Iterator[Record | FormatError]:
        recorder = _Recorder(stream) if self.prefix else None
        values = iter_json_values(cast(BinaryIO, recorder or stream), prefix=self.prefix, source=source)
        number = 0
        for number, value in enumerate(values, start=1):
            if recorder is not None:  # a record came out: nothing to explain
                recorder.stop()
                recorder = None
            if isinstance(value, FormatError):
                yield value
                return
            if isinstance(value, dict):
                yield value
            else:
                hint = " (end 'records' with '[*]' for its items)" if isinstance(value, list) else ""
                reason = expected_object(value) + hint
                yield FormatError(reason, record=number, source=source, data=value)
        if number == 0 and recorder is not None and self.prefix:
            explained = unmatched(recorder.data(), self.path, self.prefix)
            if explained is not None:
                yield FormatError(explained, source=source)


class _Recorder:
    """Keeps what is read until the first record comes out, to explain a records path that
    matched nothing. Nothing came out means the input is at most MAX_RECORD_BYTES (the parser
    refuses more), so memory stays bounded."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.chunks: list[bytes] = []

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.chunks.append(chunk)
        return chunk

    def stop(self) -> None:
        self.chunks.clear()

    def data(self) -> bytes:
        return b"".join(self.chunks)


def unmatched(document: bytes, path: str, prefix: str) -> str | None:
    """Why the records path ``path`` (ijson ``prefix``) found nothing in ``document``; None when it
    leads to an empty list (or the document cannot be read: the parser said so already)."""
    try:
        value = orjson.loads(document.removeprefix(_BOM))
    except orjson.JSONDecodeError:
        return None
    where = "the top level"
    for part in prefix.split("."):
        if part == "item":
            if not isinstance(value, list):
                return f"records path {path!r} matched nothing: {where} is {_kind(value)}, not a list"
            if not value:
                return None
            value, where = value[0], f"the first item of {where}"
            continue
        if not isinstance(value, dict):
            return f"records path {path!r} matched nothing: {where} is {_kind(value)}, not an object"
        if part not in value:
            keys = ", ".join(list(value)[:12]) + (", ..." if len(value) > 12 else "")
            return f"records path {path!r} matched nothing; {where} has keys {keys or '(none)'}"
        value, where = value[part], repr(part)
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    return type(value).__name__


def expected_object(value: Any) -> str:
    """The reason given for a record that is not a JSON object."""
    kind = "null" if value is None else type(value).__name__
    return f"expected an object, got {kind}"


def iter_json_values(stream: BinaryIO, *, prefix: str | None, source: str | None) -> Iterator[Any]:
    """Yield the values at ``prefix`` in the JSON document ``stream``; a fault ends with a FormatError.

    ``prefix`` None: the items of a top-level array, or the top-level value itself.
    """
    position = _Position()
    head = _read_head(stream, position)
    if not head:
        yield FormatError("invalid JSON: the input is empty", source=source)
        return
    following = b""
    if prefix is None:
        prefix = "item" if head[0:1] == b"[" else ""
        following = stream.read(CHUNK_SIZE)
        if not following:  # the whole document is in hand: a message, mostly
            values = _small_document(head, prefix)
            if values is not None:
                yield from values
                return
    found: Any = ijson.sendable_list()
    parser = ijson.items_coro(found, prefix, use_float=True)
    guard = DepthGuard()
    surrogates = SurrogateGuard()
    pending = 0  # bytes fed since the last record came out
    chunk = head
    try:
        while chunk:
            try:
                guard.feed(chunk)
                surrogates.feed(chunk)
            except ValueError as error:
                yield FormatError(f"JSON refused near byte {position.offset}: {error}", source=source)
                return
            parser.send(chunk)
            if found:
                pending = 0
                yield from found
                del found[:]
            else:
                pending += len(chunk)
                if pending > MAX_RECORD_BYTES:
                    too_large = f"a record is over {MAX_RECORD_BYTES:,} bytes"
                    reason = f"JSON refused near byte {position.offset}: {too_large}"
                    yield FormatError(reason, source=source)
                    return
            position.advance(chunk)
            chunk, following = following or stream.read(CHUNK_SIZE), b""
        try:
            surrogates.close()
        except ValueError as error:
            yield FormatError(f"JSON refused near byte {position.offset}: {error}", source=source)
            return
        parser.close()
    except ijson.JSONError as error:
        yield from found
        yield FormatError(position.describe(str(error), chunk), source=source)
        return
    except UnicodeDecodeError as error:  # yajl lets surrogates and code points past U+10FFFF through
        yield from found
        reason = f"invalid JSON in the chunk from byte {position.offset}: not valid UTF-8 ({error.reason})"
        yield FormatError(reason, source=source)
        return
    yield from found


def _small_document(document: bytes, prefix: str) -> list[Any] | None:
    """The values of a whole document at ``prefix`` ("" or "item"), parsed by orjson in one call:
    on a message of a few hundred bytes, ijson's coroutine and the guards cost twenty times the
    parse. None when orjson or a guard refuses it: ijson then reads it again and says where.

    The same values as ijson's (``use_float``), which ``test_hostile_formats`` compares: orjson
    too keeps the last of repeated keys and refuses what yajl refuses, but it reads an integer past
    64 bits as a float where yajl refuses it: a document with 19 digits in a row goes to ijson."""
    if document.count(b"[") + document.count(b"{") > MAX_JSON_DEPTH:
        return None  # perhaps too deep: the guard's word, with its place
    if _LONG_NUMBER.search(document):
        return None
    if b"\\u" in document:
        try:
            SurrogateGuard().feed(document, last=True)
        except ValueError:
            return None
    try:
        value = orjson.loads(document)
    except orjson.JSONDecodeError:
        return None
    if not prefix:
        return [value]
    return value if isinstance(value, list) else None


_LONG_NUMBER = re.compile(rb"[0-9]{19}")

# A UTF-16 surrogate pair in \u escapes (allowed), or a surrogate escape alone (refused).
_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?|\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


class SurrogateGuard:
    """Refuses a ``\\uD800``-``\\uDFFF`` escape that is not half of a pair (RFC 8259 §8.2: such a
    string is not Unicode), which yajl would turn into ``?`` silently, making two different
    device ids one. Chunk by chunk at C speed: escaped backslashes are dropped first, so every
    ``\\u`` left is an escape; an escape cut by the chunk's end (or a high half whose low half may
    come next) is held for the next chunk."""

    __slots__ = ("carry",)

    def __init__(self) -> None:
        self.carry = b""

    def feed(self, chunk: bytes, *, last: bool = False) -> None:
        if not self.carry and b"\\u" not in chunk and not chunk.endswith(b"\\"):
            return
        text = (self.carry + chunk).replace(b"\\\\", b"")
        hold = len(text)
        if not last and (cut := text.rfind(b"\\", max(len(text) - 5, 0))) >= 0:
            hold = cut  # fewer than the six bytes of an escape: it goes on in the next chunk
        for match in _SURROGATE.finditer(text, 0, hold):
            if len(match[0]) == 6:
                if match.end() == hold and not last and match[0][3] in b"89abAB":
                    hold = match.start()  # a high half at the end: its low half may come next
                    break
                raise ValueError(f"a lone UTF-16 surrogate escape {match[0].decode()} is not a character")
        self.carry = text[hold:]

    def close(self) -> None:
        """The end of the document: what is still held is checked as it is."""
        if self.carry:
            self.feed(b"", last=True)


def _read_head(stream: BinaryIO, position: _Position) -> bytes:
    """Read up to the first significant byte, dropping a UTF-8 BOM and leading whitespace."""
    data = stream.read(CHUNK_SIZE)
    while 0 < len(data) < len(_BOM) and _BOM.startswith(data):
        more = stream.read(CHUNK_SIZE)
        if not more:
            break
        data += more
    if data.startswith(_BOM):
        position.advance(_BOM)
        data = data[len(_BOM) :]
    while data:
        stripped = data.lstrip(_WHITESPACE)
        if stripped:
            position.advance(data[: len(data) - len(stripped)])
            return stripped
        position.advance(data)  # whitespace only: counted for positions, not kept
        data = stream.read(CHUNK_SIZE)
    return b""


class _Position:
    """Bytes and lines already fed to the parser, to turn a fault in a chunk into line and column."""

    __slots__ = ("line_start", "lines", "offset")

    def __init__(self) -> None:
        self.offset = 0  # bytes before the current chunk
        self.lines = 0  # line breaks before the current chunk
        self.line_start = 0  # offset of the first byte of the current line

    def advance(self, chunk: bytes) -> None:
        breaks = chunk.count(b"\n")
        if breaks:
            self.lines += breaks
            self.line_start = self.offset + chunk.rfind(b"\n") + 1
        self.offset += len(chunk)

    def describe(self, message: str, chunk: bytes) -> str:
        """``invalid JSON near line L, column C (byte B): <yajl reason>``."""
        text = _message_bytes(message)
        reason = text.split(b"\n", 1)[0].decode("utf-8", "replace").strip() or "unexpected end"
        within = _fault_offset(text, chunk)
        if within is None:  # the fault was found at the end of the input
            within, chunk = 0, b""
        before = chunk[:within]
        breaks = before.count(b"\n")
        line = self.lines + breaks + 1
        start = self.offset + before.rfind(b"\n") + 1 if breaks else self.line_start
        byte = self.offset + within
        return f"invalid JSON near line {line}, column {byte - start + 1} (byte {byte}): {reason}"


def _message_bytes(message: str) -> bytes:
    """The parser's message as bytes; it comes as a bytes repr when it quotes invalid UTF-8."""
    if message[:2] in ("b'", 'b"') and message[-1:] == message[1]:
        return message[2:-1].encode("ascii", "backslashreplace").decode("unicode_escape").encode("latin-1")
    return message.encode("utf-8", "surrogateescape")


def _fault_offset(message: bytes, chunk: bytes) -> int | None:
    """Where in ``chunk`` the fault is, from the excerpt yajl quotes (the fault under its caret)."""
    lines = message.split(b"\n")
    if len(lines) < 3 or not chunk:
        return None
    excerpt = lines[1]
    around = excerpt[:_CARET_COLUMN].lstrip(b" ")  # left padding aligns the fault with the caret
    after = excerpt[_CARET_COLUMN:]
    if not around + after:
        return None
    found = chunk.translate(_BLANK_LINE_BREAKS).find(around + after)
    return None if found < 0 else found + len(around)
