"""Load a mapping file and compile it, reporting every mistake with its file and line.

>>> mapping = load_mapping("mappings/santander-parking.yaml")
>>> mapping.entities[0].type
'ParkingSpot'
"""

from __future__ import annotations

import functools
from collections import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..documents import Document, Key, load_document, packaged_schema
from ..errors import ConfigError, MappingError, Problem
from ..expressions import Expression, compile_expression
from ..formats import Format, get_format
from ..templates import Template, compile_template
from .attributes import AttributeRule, compile_attribute, time_getter
from .checks import check_attribute, check_type, check_uri_template

Record = abc.Mapping[str, Any]


@dataclass(frozen=True)
class EntityRule:
    """One entity a record becomes."""

    type: str
    id: Template
    attributes: tuple[AttributeRule, ...]
    observed_at: Callable[[Record], str] | None = field(default=None, repr=False)
    when: Expression | None = None
    key: Key = ()  # where the entity is declared in the mapping file


@dataclass(frozen=True)
class Sample:
    """A golden sample: translating ``input`` gives exactly the entities in ``expected``."""

    input: Path
    expected: Path


@dataclass(frozen=True)
class Mapping:
    """A compiled mapping: how to read a feed and what each record becomes."""

    id: str
    source_format: Format
    entities: tuple[EntityRule, ...]
    document: Document = field(repr=False)
    description: str = ""
    filter: Expression | None = None
    samples: tuple[Sample, ...] = ()

    @property
    def path(self) -> str:
        return self.document.path

    def line(self, key: Key) -> int | None:
        return self.document.line(key)


def load_mapping(path: str | Path, *, text: str | None = None) -> Mapping:
    """Load and compile a mapping; raise MappingError listing every problem found."""
    path = Path(path)
    document = load_document(path, schema=packaged_schema("mapping.schema.json"), text=text)
    return compile_mapping(document)


def compile_mapping(document: Document) -> Mapping:
    data = document.data
    problems: list[Problem] = []

    def attempt(key: Key, make: Callable[[], Any]) -> Any:
        try:
            return make()
        except ConfigError as error:
            problems.append(document.problem((*key, error.key) if error.key else key, str(error)))
            return None

    source = dict(data["source"])
    source_format = attempt(("source",), lambda: get_format(source.pop("format"), source))
    decimal = source.get("decimal", ".")
    row_filter = (
        attempt(("filter",), lambda: compile_expression(data["filter"])) if "filter" in data else None
    )

    if ("entity" in data) == ("entities" in data):
        problems.append(document.problem((), "write exactly one of 'entity' (one) or 'entities' (a list)"))
        specs: list[tuple[Key, Any]] = []
    elif "entity" in data:
        specs = [(("entity",), data["entity"])]
    else:
        specs = [(("entities", index), spec) for index, spec in enumerate(data["entities"])]

    entities = []
    for key, spec in specs:
        entity = _compile_entity(key, spec, decimal, attempt)
        if entity is not None:
            entities.append(entity)

    base = Path(document.path).parent
    samples = tuple(
        Sample(base / sample["input"], base / sample["expected"]) for sample in data.get("samples", ())
    )
    if problems:
        raise MappingError(problems)
    return Mapping(
        id=data["id"],
        source_format=source_format,
        entities=tuple(entities),
        document=document,
        description=data.get("description", ""),
        filter=row_filter,
        samples=samples,
    )


def _checked_type(name: str) -> bool:
    check_type(name)
    return True


def _uri_template(source: str) -> Template:
    template = compile_template(source, uri=True)
    check_uri_template(source)
    return template


def _compile_entity(
    key: Key, spec: abc.Mapping[str, Any], decimal: str, attempt: Callable[[Key, Callable[[], Any]], Any]
) -> EntityRule | None:
    entity_id = attempt((*key, "id"), lambda: _uri_template(spec["id"]))
    type_ok = attempt((*key, "type"), lambda: _checked_type(spec["type"]))
    when = attempt((*key, "when"), lambda: compile_expression(spec["when"])) if "when" in spec else None
    observed = spec.get("observedAt")
    observed_at = attempt((*key, "observedAt"), lambda: time_getter(observed)) if observed else None
    attributes = []
    for name, attribute_spec in spec["attributes"].items():
        compile_one = functools.partial(
            compile_attribute, name, attribute_spec, decimal=decimal, inherit_observed=observed is not None
        )
        rule = attempt((*key, "attributes", name), compile_one)
        if rule is not None and type_ok:
            attempt((*key, "attributes", name), functools.partial(check_attribute, spec["type"], rule))
            attributes.append(rule)
    if entity_id is None or len(attributes) != len(spec["attributes"]):
        return None
    return EntityRule(spec["type"], entity_id, tuple(attributes), observed_at, when, key)
