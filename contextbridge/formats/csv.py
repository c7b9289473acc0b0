"""CSV input: one record per data row, each a dict of column name → string.

    >>> fmt = CsvFormat({"delimiter": ";", "encoding": "latin-1"})
    >>> next(fmt.parse(io.BytesIO(b"id;temp\\n7;7,5\\n")))
    {'id': '7', 'temp': '7,5'}

Options: ``delimiter`` (``,``), ``quotechar`` (``"``), ``encoding`` (``utf-8``; ``latin-1``,
``cp1252``, ``utf-8-sig`` for legacy exports), ``header`` (true: the first row names the
columns; or a list of column names, and then the first row is data). Values stay strings
(``"7,5"`` is kept for the numeric casts, which know the decimal comma). Quoted fields may
hold line breaks. Blank lines are skipped. A row with more or fewer cells than columns, or
with bytes the encoding cannot decode, rejects that row only; record numbers count data rows.
A header that is one column but holds another usual delimiter (``;`` ``,`` tab ``|``) is refused
with the hint ``did you mean delimiter: ';'?``.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import FormatError
from .base import Format, OptionReader, Record, bad_option

__all__ = ["CsvFormat"]


class CsvFormat(Format):
    """Delimited text with a header row (or given column names)."""

    name = "csv"
    options = frozenset({"delimiter", "quotechar", "encoding", "header"})

    def configure(self, options: OptionReader) -> None:
        self.delimiter = options.checked("delimiter", lambda: _one_character(options, "delimiter", ","), ",")
        self.quotechar = options.checked("quotechar", lambda: _one_character(options, "quotechar", '"'), '"')
        if self.delimiter == self.quotechar and "quotechar" not in {key for key, _ in options.problems}:
            options.bad("quotechar", self.quotechar, "must differ from the delimiter")
        self.encoding = options.checked(
            "encoding", lambda: _encoding(options.text("encoding", "utf-8")), "utf-8"
        )
        self.columns = options.checked("header", lambda: _columns(options.get("header", True)), None)

    def parse(self, stream: BinaryIO, *, source: str | None = None) -> Iterator[Record | FormatError]:
        # surrogateescape keeps undecodable bytes as lone surrogates, so one bad byte rejects
        # its row (found by the strict re-encode below) instead of stopping the whole file.
        text = io.TextIOWrapper(stream, encoding=self.encoding, errors="surrogateescape", newline="")
        try:
            yield from self._rows(text, source)
        finally:
            text.detach()  # the caller owns the stream: do not close it with the wrapper

    def _rows(self, text: io.TextIOWrapper, source: str | None) -> Iterator[Record | FormatError]:
        reader = csv.reader(text, delimiter=self.delimiter, quotechar=self.quotechar)
        columns = self.columns
        number = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                if columns is None:
                    yield FormatError(f"unreadable header row: {error}", source=source)
                    return
                number += 1
                yield FormatError(f"line {reader.line_num}: {error}", record=number, source=source)
                continue
            if not row:
                continue  # blank line
            if columns is None:
                header = self._header(row, source)
                if isinstance(header, FormatError):
                    yield header
                    return
                columns = header
                continue
            number += 1
            if len(row) != len(columns):
                expected = f"expected {len(columns)} ({_shown(columns)})"
                reason = f"line {reader.line_num}: {len(row)} cells, {expected}"
                yield FormatError(reason, record=number, source=source, data=self._readable(row))
                continue
            bad = _undecodable(row)
            if bad is not None:
                raw = row[bad].encode(self.encoding, "surrogateescape")
                reason = f"line {reader.line_num}: bytes not valid in {self.encoding}: {raw!r}"
                yield FormatError(
                    reason, record=number, field=columns[bad], source=source, data=self._readable(row)
                )
                continue
            yield dict(zip(columns, row, strict=True))

    def _header(self, row: list[str], source: str | None) -> tuple[str, ...] | FormatError:
        if _undecodable(row) is not None:
            return FormatError(
                f"header row has bytes not valid in {self.encoding}: {self._readable(row)}", source=source
            )
        if len(row) == 1 and (other := _other_delimiter(row[0], self.delimiter)):
            return FormatError(
                f"the header row {row[0][:60]!r} is one column with delimiter {self.delimiter!r}; "
                f"did you mean delimiter: {other!r}?",
                source=source,
            )
        names = [row[0].removeprefix("\ufeff"), *row[1:]]  # a BOM the encoding left in place
        names = [name.strip() for name in names]
        duplicate = _first_duplicate(names)
        if duplicate is not None:
            return FormatError(f"header row names column {duplicate!r} twice", source=source)
        return tuple(names)

    def _readable(self, row: list[str]) -> list[str]:
        """The row with undecodable bytes shown as ``\\xe9`` (kept for the dead-letter queue)."""
        return [
            cell
            if cell.isascii()
            else cell.encode(self.encoding, "surrogateescape").decode(self.encoding, "backslashreplace")
            for cell in row
        ]


_DELIMITERS = (";", ",", "\t", "|")


def _other_delimiter(header: str, delimiter: str) -> str | None:
    """The usual delimiter that would split a one-column header into columns (``id;temp;hum``
    read with ``,``): a one-column CSV whose column name holds one is not a thing feeds do."""
    return next((other for other in _DELIMITERS if other != delimiter and other in header), None)


def _undecodable(row: list[str]) -> int | None:
    """The index of the first cell holding undecodable bytes (lone surrogates), if any."""
    for index, cell in enumerate(row):
        if not cell.isascii():
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                return index
    return None


def _shown(columns: tuple[str, ...]) -> str:
    shown = ", ".join(columns[:8])
    return shown + ", ..." if len(columns) > 8 else shown


def _first_duplicate(names: list[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _encoding(encoding: str | None) -> str:
    try:
        info = codecs.lookup(encoding or "")
    except LookupError:
        raise bad_option("encoding", encoding, "unknown text encoding") from None
    if not getattr(info, "_is_text_encoding", True):
        raise bad_option("encoding", encoding, "not a text encoding")
    return info.name


def _one_character(options: OptionReader, key: str, default: str) -> str:
    value = options.get(key, default)
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
        raise bad_option(key, value, "expected one character")
    return value


def _columns(header: Any) -> tuple[str, ...] | None:
    """None: the first row names the columns; else the given column names."""
    if header is True:
        return None
    if isinstance(header, list) and header and all(isinstance(name, str) and name.strip() for name in header):
        names = [name.strip() for name in header]
        duplicate = _first_duplicate(names)
        if duplicate is not None:
            raise bad_option("header", header, f"column {duplicate!r} is named twice")
        return tuple(names)
    raise bad_option("header", header, "expected true or a list of column names")
