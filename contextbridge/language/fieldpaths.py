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

A selection ``[?FIELD == 'literal']`` (or ``!=``) picks the first item of a list whose field
equals a string, number, ``true``, ``false`` or ``null`` (numbers equal numbers only, strings
strings only; a field the item lacks counts as ``null``):

    >>> compile_path("messages[?type == 'Air Temperature'].measurementValue")(
    ...     {"messages": [{"type": "Rain Gauge", "measurementValue": 0}, {"type": "Air Temperature", "measurementValue": 1.8}]})
    1.8

No match is ``MISSING``, like any absent path. A selection compiles to one loop over the list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConfigError

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
      \[\?\s*(?P<field>[^=!\]'"]+?)\s*(?P<op>==|!=)\s*   # [?type == 'Air Temperature']
        (?P<literal>'[^']*'|"[^"]*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)\s*\]
    | \[\s*(?P<index>-?\d+)\s*\]                 # [0]
    | \[\s*(?P<quote>["'])(?P<quoted>.*?)(?P=quote)\s*\]   # ["dc:modified"]
    | (?P<dot>\.)
    | (?P<key>[^.\[\]"']+)                       # plain key: anything but . [ ] and quotes
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Select:
    """A path step ``[?field == literal]``: the first item of a list whose field equals ``literal``."""

    field: tuple[str | int, ...]
    literal: str | int | float | bool | None
    negate: bool = False

    def matcher(self) -> Callable[[Any], bool]:
        """``item -> bool``, with the literal's type decided once."""
        get, literal, negate = _compile_steps(self.field), self.literal, self.negate
        if literal is None or type(literal) is bool:

            def same(found: Any) -> bool:
                return (found is literal or (literal is None and found is MISSING)) is not negate

            return lambda item: same(get(item))
        kinds = (str,) if type(literal) is str else (int, float)

        def equal(item: Any) -> bool:
            found = get(item)
            return (type(found) in kinds and found == literal) is not negate

        return equal


Step = str | int | Select


def _literal(text: str) -> str | int | float | bool | None:
    if text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    number = float(text)
    return int(text) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def parse_path(text: str) -> tuple[Step, ...]:
    """Split a path into its keys and indexes; raise ConfigError on a malformed path."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"empty field path {text!r}")
    steps: list[Step] = []
    position, expect_key = 0, True
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ConfigError(f"malformed field path {text!r} at column {position + 1}")
        if match["dot"]:
            if expect_key:
                raise ConfigError(f"malformed field path {text!r}: empty key at column {position + 1}")
            expect_key = True
        elif match["field"] is not None:
            field = parse_path(match["field"])
            if any(isinstance(step, Select) for step in field):
                raise ConfigError(f"malformed field path {text!r}: a selection inside a selection")
            steps.append(Select(field, _literal(match["literal"]), match["op"] == "!="))  # type: ignore[arg-type]
            expect_key = False
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
    if any(isinstance(step, Select) for step in steps):
        return _selecting(steps)
    return _compile_steps(steps)  # type: ignore[arg-type]


def _compile_steps(steps: tuple[str | int, ...]) -> Getter:
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


def _selecting(steps: tuple[Step, ...]) -> Getter:
    """A path with selections: plain runs of keys compiled as usual, each selection one loop."""
    parts: list[Getter] = []
    run: list[str | int] = []
    for step in steps:
        if isinstance(step, Select):
            if run:
                parts.append(_compile_steps(tuple(run)))
                run = []
            parts.append(_pick(step.matcher()))
        else:
            run.append(step)
    if run:
        parts.append(_compile_steps(tuple(run)))
    chain = tuple(parts)

    def get_selected(record: Any) -> Any:
        value = record
        for part in chain:
            value = part(value)
            if value is MISSING:
                return MISSING
        return value

    return get_selected


def _pick(matches: Callable[[Any], bool]) -> Getter:
    def pick(items: Any) -> Any:
        if type(items) is not list:
            return MISSING
        for item in items:
            if matches(item):
                return item
        return MISSING

    return pick
