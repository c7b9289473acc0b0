"""Compiled subtrees and record look-ups: what the expression compiler builds its closures from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...errors import TransformError
from .operators import _ABSENT, _LOOKUP_ERRORS, _NOT_CONSTANT, Run, _kind


class _Node:
    """A compiled subtree: its closure, its value if constant, its field path if a plain look-up."""

    __slots__ = ("const", "path", "run", "steps")

    def __init__(
        self, run: Run, *, const: Any = _NOT_CONSTANT, steps: tuple[str | int, ...] | None = None
    ) -> None:
        self.run = run
        self.const = const
        self.steps = steps  # a record path: () is the record itself
        self.path = _path_text(steps) if steps else None

    @property
    def constant(self) -> bool:
        return self.const is not _NOT_CONSTANT


class Scope(dict[str, Any]):
    """The names a comprehension binds, read before the record's fields (or an enclosing scope's).

    ``root`` is the record itself (what ``record`` names), ``budget`` the items the comprehensions
    of one evaluation may still go over (shared by nested ones).
    """

    __slots__ = ("budget", "parent", "root")

    parent: Any
    root: Any
    budget: list[int]

    def __missing__(self, key: Any) -> Any:
        return self.parent[key]


def _constant(value: Any) -> _Node:
    if isinstance(value, list | tuple | dict):  # a fresh copy per call: callers may mutate what they get
        return _Node(lambda record, _value: _fresh(value), const=value)
    return _Node(lambda record, _value: value, const=value)


def _fresh(value: Any) -> Any:
    if isinstance(value, list):
        return [_fresh(item) for item in value]
    if isinstance(value, dict):
        return {key: _fresh(item) for key, item in value.items()}
    return tuple(_fresh(item) for item in value) if isinstance(value, tuple) else value


def _path_text(steps: tuple[str | int, ...]) -> str:
    """Spell a path the way contextbridge.language.fieldpaths reads it: ``a.b[0]``, ``["ayto:x.y"]``."""
    text = ""
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        elif step and step == step.strip() and not any(char in step for char in ".[]\"'"):
            text += f".{step}" if text else step
        else:
            text += f"[{step!r}]" if '"' in step else f'["{step}"]'
    return text


def _walk(record: Any, steps: tuple[str | int, ...]) -> Any:
    """Follow ``steps``; ``_ABSENT`` when a key or index is not there (an index needs a list)."""
    value = record
    for step in steps:
        if isinstance(step, int) and not isinstance(value, list | tuple):
            return _ABSENT
        try:
            value = value[step]
        except _LOOKUP_ERRORS:
            return _ABSENT
    return value


def _getter(steps: tuple[str | int, ...]) -> Run:
    # One or two plain keys are nearly every real path: direct look-ups, no loop.
    if not steps:  # ``record``: inside a comprehension, the record under its scope
        return lambda record, _value: record.root if type(record) is Scope else record
    if len(steps) == 1 and isinstance(steps[0], str):
        key = steps[0]

        def get_one(record: Any, _value: Any) -> Any:
            try:
                return record[key]
            except _LOOKUP_ERRORS:
                return None

        return get_one
    if len(steps) == 2 and isinstance(steps[0], str) and isinstance(steps[1], str):
        outer, inner = steps

        def get_two(record: Any, _value: Any) -> Any:
            try:
                return record[outer][inner]
            except _LOOKUP_ERRORS:
                return None

        return get_two

    def get_many(record: Any, _value: Any) -> Any:
        found = _walk(record, steps)
        return None if found is _ABSENT else found

    return get_many


def _item(container: Any, key: Any) -> Any:
    """``container[key]`` computed at run time, with the same rules as a path."""
    if key is None or not isinstance(key, str | int) or isinstance(key, bool):
        raise TypeError(f"cannot look up a {_kind(key)} key")
    found = _walk(container, (key,))
    return None if found is _ABSENT else found


def _failure(reason: str, operands: Sequence[tuple[_Node, Any]], record: Any) -> TransformError:
    """The error for an operation that failed: blame a missing field first, else the first field read."""
    for node, value in operands:
        if value is None and node.steps:
            absent = _walk(record, node.steps) is _ABSENT
            return TransformError("missing field" if absent else "null field", field=node.path)
    field = next((node.path for node, _ in operands if node.path), None)
    return TransformError(reason, field=field)
