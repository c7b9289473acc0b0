"""Casts of raw record values: ``int``, ``float``, ``bool``, ``string``, ``datetime``.

Feeds write numbers as strings (``"16.45"``), legacy exports with a decimal comma
(``"7,5"``, ``"1.234,5"``); each cast is chosen once per attribute and raises
TransformError with the offending value quoted.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from ...errors import TransformError
from ..templates import to_text
from ..times import compile_time_parser

Cast = Callable[[Any], Any]

_TRUE = frozenset({"true", "1", "yes", "y", "on", "si", "sí", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "off", "f"})


def _number_text(decimal: str) -> Callable[[str], str]:
    if decimal == ",":
        # With a decimal comma, "." can only be a thousands separator: "1.234,5" -> "1234.5".
        return lambda text: text.replace(".", "").replace(",", ".")
    return lambda text: text


def float_cast(decimal: str = ".") -> Cast:
    normalise = _number_text(decimal) if decimal != "." else None
    isfinite = math.isfinite

    def to_float(raw: Any) -> float:
        kind = type(raw)
        if kind is str:
            try:
                number = float(raw if normalise is None else normalise(raw))
            except ValueError:
                raise TransformError(f"{raw!r} is not a number") from None
        elif kind is float or kind is int:
            number = float(raw)
        else:
            raise TransformError(f"{raw!r} is not a number")
        if isfinite(number):
            return number
        raise TransformError(f"{raw!r} is not a finite number")

    return to_float


def int_cast(decimal: str = ".") -> Cast:
    as_float = float_cast(decimal)

    def to_int(raw: Any) -> int:
        if type(raw) is int:
            return raw
        number = as_float(raw)
        if not number.is_integer():
            raise TransformError(f"{raw!r} is not an integer")
        return int(number)

    return to_int


def to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    text = to_text(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise TransformError(f"{raw!r} is not a boolean")


@functools.cache
def time_parser(fmt: str = "iso8601", tz: str | None = None) -> Callable[[Any], str]:
    """The parser of ``fmt`` in ``tz``, with a one-value memory, shared by every attribute that
    reads times the same way: the entities of one record share a timestamp (observedAt,
    dateObserved...), and so do many records of a feed."""
    parse = compile_time_parser(fmt, tz=tz)
    last: list[tuple[Any, str]] = [(None, "")]

    def parse_once(raw: Any) -> str:
        seen, result = last[0]  # one tuple, swapped atomically: safe across threads
        if raw == seen and type(raw) is str:
            return result
        result = parse(raw)
        last[0] = (raw, result)
        return result

    return parse_once


def datetime_cast(fmt: str = "iso8601", tz: str | None = None) -> Cast:
    parse = time_parser(fmt, tz)

    def to_datetime(raw: Any) -> dict[str, str]:
        return {"@type": "DateTime", "@value": parse(raw)}

    return to_datetime


def make_cast(name: str, *, decimal: str = ".", fmt: str | None = None, tz: str | None = None) -> Cast:
    """The cast called ``name``; ``fmt`` and ``tz`` apply to ``datetime`` only."""
    if name == "float":
        return float_cast(decimal)
    if name == "int":
        return int_cast(decimal)
    if name == "bool":
        return to_bool
    if name == "string":
        return to_text
    if name == "datetime":
        return datetime_cast(fmt or "iso8601", tz)
    raise ValueError(f"unknown cast {name!r}")  # the schema lets no other name through
