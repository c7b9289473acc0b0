"""Load a mapping file and compile it, reporting every mistake with its file and line.

>>> mapping = load_mapping("mappings/santander-parking.yaml")
>>> mapping.entities[0].type
'ParkingSpot'
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...entities.updates import Update, UpdatePolicy, default_update
from ...errors import ConfigError, MappingError, OptionsError, Problem
from ...formats import Format, get_format
from ..documents import Document, Key, load_document, packaged_schema
from ..expressions import Expression, compile_expression
from ..lookups import LookupSet, compile_binding, compile_lookup
from ..lookups.binding import Bind
from ..templates import Template, compile_template
from .attributes import AttributeRule, compile_attribute, time_getter
from .checks import check_attribute, check_type, check_uri_template
from .computed import compile_each, compile_uri_expression

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
    # (lookup name, record -> row): rows the entity's rules read under the lookup's name
    lookups: tuple[tuple[str, Bind], ...] = field(default=(), repr=False)
    # ``each: PATH``: record -> one view of it per item (``item``, ``index``, ``key``); None: the record
    each: Callable[[Record], list[dict[str, Any]]] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Sample:
    """A golden sample: translating ``input`` gives exactly the entities in ``expected``."""

    input: Path
    expected: Path
    key: Key = field(default=(), compare=False)  # where the mapping declares it (``samples[0]``)


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
    lookups: LookupSet = field(default_factory=LookupSet, repr=False)
    ontologies: tuple[Path, ...] = ()  # the vendor's Turtle files (``ontology:``), beside the bundled one
    constraints: str = "warn"  # Smart Data Models constraints: reject, warn or off
    update: Update | None = None  # as declared (None: the default of the feed's source kind)
    history: UpdatePolicy = field(default_factory=UpdatePolicy)  # its ``history`` and ``keep``

    def policy(self, source_kind: str | None = None) -> UpdatePolicy:
        """How this mapping's entities update the sinks, for a feed of ``source_kind`` (file, http, mqtt...)."""
        merge = (self.update or default_update(source_kind)) == "merge"
        return UpdatePolicy(merge, self.history.history, self.history.keep)

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
        except OptionsError as error:  # every wrong option of a section, each at its own line
            problems.extend(document.problem((*key, at), message) for at, message in error.problems)
            return None
        except ConfigError as error:
            problems.append(document.problem((*key, error.key) if error.key else key, str(error)))
            return None

    source = dict(data["source"])
    source_format = attempt(("source",), lambda: get_format(source.pop("format"), source))
    decimal = source.get("decimal", ".")
    row_filter = (
        attempt(("filter",), lambda: compile_expression(data["filter"])) if "filter" in data else None
    )

    declared = attempt((), lambda: UpdatePolicy.parse(data))
    base = Path(document.path).parent
    lookups = _lookups(data.get("lookups", {}), base, attempt, problems, document)

    if ("entity" in data) == ("entities" in data):
        problems.append(document.problem((), "write exactly one of 'entity' (one) or 'entities' (a list)"))
        specs: list[tuple[Key, Any]] = []
    elif "entity" in data:
        specs = [(("entity",), data["entity"])]
    else:
        specs = [(("entities", index), spec) for index, spec in enumerate(data["entities"])]

    entities = []
    shared: dict[str, tuple[tuple[str, Bind], ...]] = {}
    for key, spec in specs:
        entity = _compile_entity(key, spec, decimal, attempt, lookups, problems, document)
        if entity is not None:
            if entity.lookups:
                # Entities binding the same lookups share one tuple: the translator then looks the
                # rows up once per record, not once per entity.
                same = json.dumps(spec["lookup"], sort_keys=True, default=str)
                entity = dataclasses.replace(entity, lookups=shared.setdefault(same, entity.lookups))
            entities.append(entity)

    samples = tuple(
        Sample(base / sample["input"], base / sample["expected"], ("samples", number))
        for number, sample in enumerate(data.get("samples", ()))
    )
    samples += tuple(found for found in discover_samples(document.path) if found not in samples)
    named = data.get("ontology", [])
    ontologies = tuple(base / name for name in ([named] if isinstance(named, str) else named))
    problems += [
        document.problem(("ontology",), f"no such ontology file: {path}")
        for path in ontologies
        if not path.exists()
    ]
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
        lookups=lookups,
        ontologies=ontologies,
        constraints=constraints_mode(data.get("constraints", "warn")),
        update=data.get("update"),
        history=declared or UpdatePolicy(),
    )


def constraints_mode(value: object) -> str:
    """``constraints:`` as written: YAML 1.1 reads a bare ``off`` as false, which means off too."""
    return "off" if value is False else str(value)


SAMPLES_DIR = "samples"  # next to a mapping: samples/<mapping file stem>/<name>.<ext> + .expected.ndjson
EXPECTED_SUFFIX = ".expected.ndjson"


def samples_folder(mapping_path: str | Path) -> Path:
    """Where a mapping's golden samples are kept by convention: ``samples/<file stem>/`` beside it."""
    path = Path(mapping_path)
    return path.parent / SAMPLES_DIR / path.stem


def discover_samples(mapping_path: str | Path) -> list[Sample]:
    """The golden samples kept by convention next to a mapping (``samples:`` need not list them).

        mappings/santander-parking.yaml
        mappings/samples/santander-parking/busy-hour.json                 # the input
        mappings/samples/santander-parking/busy-hour.expected.ndjson      # what it translates to

    Each ``NAME.expected.ndjson`` pairs with the one other file ``NAME.EXT`` beside it.
    """
    folder = samples_folder(mapping_path)
    try:
        names = sorted(entry.name for entry in folder.iterdir() if entry.is_file())
    except OSError:  # no such directory (or not readable): no samples by convention
        return []
    found = []
    for name in names:
        if not name.endswith(EXPECTED_SUFFIX) or name.startswith("."):
            continue
        stem = name[: -len(EXPECTED_SUFFIX)]
        inputs = [
            other
            for other in names
            if other != name and other.startswith(stem + ".") and "." not in other[len(stem) + 1 :]
        ]
        if len(inputs) == 1:
            found.append(Sample(folder / inputs[0], folder / name))
    return found


def _lookups(
    specs: abc.Mapping[str, Any],
    base: Path,
    attempt: Callable[[Key, Callable[[], Any]], Any],
    problems: list[Problem],
    document: Document,
) -> LookupSet:
    """Declare every lookup and load the file ones now, so that a bad inventory is a mapping error."""
    lookups = LookupSet()
    for name, spec in specs.items():
        made = attempt(("lookups", name), functools.partial(compile_lookup, name, spec, base))
        if made is not None:
            lookups.add(*made)
    for name, error in lookups.load_files().items():
        key: Key = ("lookups", name, error.key) if error.key else ("lookups", name)
        problems.append(document.problem(key, str(error)))
    return lookups


def _checked_type(name: str) -> bool:
    check_type(name)
    return True


def _uri_template(source: str | abc.Mapping[str, Any]) -> Template:
    if isinstance(source, abc.Mapping):  # {expr: "..."}: checked per record, as it is computed
        return compile_uri_expression(source["expr"])
    template = compile_template(source, uri=True)
    check_uri_template(source)
    return template


def _compile_entity(
    key: Key,
    spec: abc.Mapping[str, Any],
    decimal: str,
    attempt: Callable[[Key, Callable[[], Any]], Any],
    lookups: LookupSet,
    problems: list[Problem],
    document: Document,
) -> EntityRule | None:
    bindings = []
    for name, binding in spec.get("lookup", {}).items():
        if name not in lookups:
            declared = ", ".join(lookups) or "none"
            problems.append(
                document.problem((*key, "lookup", name), f"unknown lookup {name!r} (declared: {declared})")
            )
            continue
        bind = attempt(
            (*key, "lookup", name), functools.partial(compile_binding, name, binding, lookups.table(name))
        )
        if bind is not None:
            bindings.append((name, bind))
    entity_id = attempt((*key, "id"), lambda: _uri_template(spec["id"]))
    type_ok = attempt((*key, "type"), lambda: _checked_type(spec["type"]))
    when = attempt((*key, "when"), lambda: compile_expression(spec["when"])) if "when" in spec else None
    each = attempt((*key, "each"), lambda: compile_each(spec["each"])) if "each" in spec else None
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
    if (
        entity_id is None
        or len(attributes) != len(spec["attributes"])
        or len(bindings) != len(spec.get("lookup", {}))
    ):
        return None
    return EntityRule(
        spec["type"], entity_id, tuple(attributes), observed_at, when, key, tuple(bindings), each
    )
