"""Field paths: pick a value out of a record.

    >>> get = compile_path("geometry.coordinates[0]")
    >>> get({"geometry": {"coordinates": [-3.8, 43.46]}})
    -3.8
    >>> compile_path('properties["dc:modified"]')({}) is MISSING
    True

A path is keys separated by dots, with ``[0]`` for list items and ``["any key"]`` for keys
that hold dots or brackets. Colons are ordinary characters (``ayto:temperature``). A path
that does not exist gives ``MISSING``. Paths compile to direct look-ups: one or two plain
keys (most real paths) become a closure with no loop at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from .errors import ConfigError

Getter = Callable[[Any], Any]

# The record key a live source puts its message's metadata under (topic levels, headers, file
# name, time of receipt): mappings read it as a path like any other (``_source.device``).
METADATA_FIELD: Final = "_source"


class _Missing:
    """The value of a path that is not in the record (distinct from a JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

_TOKEN = re.compile(
    r"""
      \[\s*(?P<index>-?\d+)\s*\]                 # [0]
    | \[\s*(?P<quote>["'])(?P<quoted>.*?)(?P=quote)\s*\]   # ["dc:modified"]
    | (?P<dot>\.)
    | (?P<key>[^.\[\]"']+)                       # plain key: anything but . [ ] and quotes
    """,
    re.VERBOSE,
)


def parse_path(text: str) -> tuple[str | int, ...]:
    """Split a path into its keys and indexes; raise ConfigError on a malformed path."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"empty field path {text!r}")
    steps: list[str | int] = []
    position, expect_key = 0, True
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ConfigError(f"malformed field path {text!r} at column {position + 1}")
        if match["dot"]:
            if expect_key:
                raise ConfigError(f"malformed field path {text!r}: empty key at column {position + 1}")
            expect_key = True
        elif match["key"] is not None:
            if not expect_key:
                raise ConfigError(f"malformed field path {text!r}: missing '.' at column {position + 1}")
            steps.append(match["key"].strip())
            expect_key = False
        else:
            steps.append(int(match["index"]) if match["index"] is not None else match["quoted"])
            expect_key = False
        position = match.end()
    if expect_key:
        raise ConfigError(f"malformed field path {text!r}: it ends with '.'")
    return tuple(steps)


def compile_path(text: str) -> Getter:
    """Compile a path into a function ``record -> value | MISSING``."""
    steps = parse_path(text)
    if len(steps) == 1 and isinstance(steps[0], str):
        key = steps[0]

        def get_one(record: Any) -> Any:
            try:
                return record[key]
            except (KeyError, TypeError, IndexError):
                return MISSING

        return get_one
    if len(steps) == 2 and all(isinstance(step, str) for step in steps):
        outer, inner = steps

        def get_two(record: Any) -> Any:
            try:
                return record[outer][inner]
            except (KeyError, TypeError, IndexError):
                return MISSING

        return get_two

    def get_many(record: Any) -> Any:
        value = record
        for step in steps:
            # An index applies to lists only: "abc"[0] would quietly give "a".
            if isinstance(step, int) and not isinstance(value, list):
                return MISSING
            try:
                value = value[step]
            except (KeyError, TypeError, IndexError):
                return MISSING
        return value

    return get_many
