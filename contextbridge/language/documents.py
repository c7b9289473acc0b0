"""YAML documents with line numbers, checked against a JSON Schema, every problem reported.

    >>> doc = load_document(Path("mappings/santander-parking.yaml"), schema=MAPPING_SCHEMA)
    >>> doc.line(("entities", 0, "attributes", "status"))
    14

YAML is read with PyYAML's safe loader only, and refused past ``MAX_NODES`` values (aliases
expanded: no "billion laughs") or ``MAX_DEPTH`` levels. Each key's line is kept so that every later
mistake (schema, compilation, ontology lint) can point at the line of the file to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..errors import MappingError, Problem

Key = tuple[str | int, ...]


@dataclass(frozen=True)
class Document:
    """A loaded YAML file: its data and the line (1-based) of every key and list item."""

    path: str
    data: Any
    lines: dict[Key, int] = field(repr=False)

    def line(self, key: Iterable[str | int]) -> int | None:
        """The line of ``key``, or of its nearest enclosing key that has one."""
        key = tuple(key)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def problem(self, key: Iterable[str | int], message: str) -> Problem:
        key = tuple(key)
        return Problem(message, file=self.path, line=self.line(key), key=dotted(key) or None)


def dotted(key: Iterable[str | int]) -> str:
    """``("entities", 0, "id")`` -> ``entities[0].id``, as users read it."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@cache
def packaged_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in the package (``contextbridge/schemas/NAME``).

    Not checked against the meta-schema here (a tenth of a second at every start): the tests check
    each shipped schema (``tests/test_startup.py``)."""
    text = resources.files("contextbridge").joinpath("schemas", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_document(path: Path, *, schema: dict[str, Any] | None = None, text: str | None = None) -> Document:
    """Read ``path`` (or ``text`` given for it), keep key lines, validate; raise MappingError with all problems."""
    name = str(path)
    try:
        source = path.read_text(encoding="utf-8") if text is None else text
    except (OSError, UnicodeDecodeError) as error:
        raise MappingError([Problem(f"cannot read: {error}", file=name)]) from error
    try:
        loader = _Loader(source)  # the reader checks the characters at once
    except yaml.YAMLError as error:
        raise MappingError([Problem(f"invalid YAML: {error}", file=name)]) from None
    try:
        node = loader.get_single_node()
        problems: list[Problem] = []
        lines: dict[Key, int] = {}
        if node is not None:
            _Index(lines, problems, name).visit(node, ())
        data = loader.construct_document(node) if node is not None else None
    except _TooLarge as error:
        raise MappingError([Problem(str(error), file=name)]) from None
    except RecursionError:  # the composer recurses too: absurd nesting ends here, not in a crash
        raise MappingError([Problem(f"nested deeper than {MAX_DEPTH} levels", file=name)]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise MappingError([Problem(f"invalid YAML: {reason}", file=name, line=line)]) from error
    finally:
        loader.dispose()
    document = Document(name, data, lines)
    if schema is not None:
        problems.extend(schema_problems(document, schema))
    if problems:
        raise MappingError(problems)
    return document


# A mapping is a few hundred nodes, a dozen levels deep. Aliases make YAML a graph: nine
# aliases to nine aliases ... ("billion laughs") expand to millions of nodes in the loaded data
# and in every walk over it, so the walk below counts nodes with aliases expanded and stops.
MAX_NODES = 100_000
MAX_DEPTH = 64


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing to nest deeper than MAX_DEPTH while it scans.

    PyYAML's scanner keeps state per open flow collection and indentation level and walks it at
    every token: left unbounded, a 100 kB line of ``[`` takes minutes before the parser fails.
    """

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise _TooLarge(f"nested deeper than {MAX_DEPTH} levels (line {self.line + 1})")
        super().fetch_flow_collection_start(token_class)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_DEPTH:
            raise _TooLarge(f"nested deeper than {MAX_DEPTH} levels (line {self.line + 1})")
        return bool(super().add_indent(column))


class _TooLarge(Exception):
    """The document expands past MAX_NODES nodes or MAX_DEPTH levels."""


class _Index:
    """Records the line of every key and list item, and the duplicate keys, within the limits."""

    def __init__(self, lines: dict[Key, int], problems: list[Problem], name: str) -> None:
        self.lines = lines
        self.problems = problems
        self.name = name
        self.nodes = 0

    def visit(self, node: yaml.Node, key: Key) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge(f"the document expands to more than {MAX_NODES:,} values (aliases included)")
        if len(key) > MAX_DEPTH:
            raise _TooLarge(f"nested deeper than {MAX_DEPTH} levels")
        lines = self.lines
        lines[key] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):  # "? [a, b]": a list or map as a key
                    line = key_node.start_mark.line + 1
                    self.problems.append(Problem("a key must be a plain value", file=self.name, line=line))
                    continue
                child = key_node.value
                if child in seen:
                    self.problems.append(
                        Problem(f"duplicate key {child!r}", file=self.name, line=key_node.start_mark.line + 1)
                    )
                seen.add(child)
                self.visit(value_node, (*key, child))
                lines[(*key, child)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for position, item in enumerate(node.value):
                self.visit(item, (*key, position))


def schema_problems(document: Document, schema: dict[str, Any]) -> list[Problem]:
    """Every JSON Schema violation of the document, each at its line, in file order."""
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[Problem] = []
    for error in validator.iter_errors(document.data):
        key = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            extra = sorted(set(error.instance) - allowed, key=str)
            if all(isinstance(name, str) for name in extra):  # each unknown key at its own line
                problems.extend(
                    Problem(
                        schema_message(error, name),
                        file=document.path,
                        line=document.line((*key, name)),
                        key=dotted(key) or None,
                    )
                    for name in extra
                )
                continue
        problems.append(document.problem(key, schema_message(error)))
    return sorted(problems, key=lambda problem: (problem.line or 0, problem.key or ""))


def schema_message(error: jsonschema.ValidationError, extra: str | None = None) -> str:
    """The words for one schema error; ``extra``: the one unknown key to name, when split per key."""
    # A schema may say in words what it allows ("errorMessage", as ajv-errors spells it): clearer
    # than "... is not valid under any of the given schemas".
    if isinstance(error.schema, dict) and "errorMessage" in error.schema:
        return f"{error.schema['errorMessage']}; got {_shown(error.instance)}"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        names = [extra] if extra is not None else sorted(set(error.instance) - set(allowed), key=str)
        return f"unknown key {', '.join(map(repr, names))}; allowed: {', '.join(allowed)}"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(repr, error.validator_value))}"
    return error.message


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
