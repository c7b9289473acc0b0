"""The translator: records in, NGSI-LD entities out, one compiled mapping at a time.

    >>> translator = Translator(load_mapping("mappings/santander-parking.yaml"))
    >>> with open("examples/santander/parking.json", "rb") as feed:
    ...     for outcome in translator.translate_stream(feed, source="parking.json"):
    ...         ...  # an entity (dict), or a RecordError naming the record and field
    >>> translator.stats.entities
    24

Pure: no network, no clock. A record that fails becomes a RecordError in the output stream
(counted in ``stats``) and the next record goes on; the entities of one record are emitted
together or not at all. (One edge touches the world: making the first Translator of a mapping
whose lookups come from HTTP or SQL fetches those tables once; see :mod:`contextbridge.language.lookups`.)

The Smart Data Models constraints (:mod:`contextbridge.entities.constraints`) are checked on each entity
unless the mapping (or the feed) says ``constraints: off``: ``warn`` (the default) counts each
broken rule in ``stats.warnings`` and lets the entity through, ``reject`` rejects the record.

Every entity that leaves is valid NGSI-LD, without a per-entity validation pass: what cannot
vary per record (names, kinds, constants, URI templates) was validated when the mapping loaded
(:mod:`contextbridge.language.mapping.checks`), and what can vary is checked as each attribute is built.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ..entities.constraints import MODES, Constraints, Mode, Violation, load_constraints
from ..errors import ConfigError, ConstraintError, FormatError, RecordError, TransformError
from .fieldpaths import MISSING
from .mapping import Mapping

Entity = dict[str, Any]
Outcome = Entity | RecordError

EXAMPLES_KEPT = 20


@dataclass
class TranslationStats:
    """What a translation did: counts, rejects by reason, the first few rejects in full."""

    records: int = 0
    filtered: int = 0
    entities: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    skipped_attributes: Counter[str] = field(default_factory=Counter)  # per attribute name
    skipped_examples: dict[str, str] = field(default_factory=dict)  # the first reason per attribute
    examples: list[RecordError] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)  # broken constraints (warn), per reason
    warning_examples: dict[str, str] = field(default_factory=dict)  # the first one per reason

    def warn(self, violation: Violation, entity_type: str) -> None:
        reason = f"{violation.rule} {entity_type}.{violation.attribute}"
        self.warnings[reason] += 1
        self.warning_examples.setdefault(reason, str(violation))

    def reject(self, error: RecordError) -> None:
        self.rejected += 1
        self.reasons[reason_key(error)] += 1
        if len(self.examples) < EXAMPLES_KEPT:
            self.examples.append(error)

    def skip(self, attribute: str, error: RecordError) -> None:
        self.skipped_attributes[attribute] += 1
        self.skipped_examples.setdefault(attribute, str(error))


def _item_views(record: MappingABC[str, Any], each: Any, lookups: Any) -> list[dict[str, Any]]:
    """The views of ``record`` an ``each:`` rule runs on, each with its own looked-up rows (a
    lookup's key may then read the item: ``{item.station_id}``)."""
    views: list[dict[str, Any]] = each(record)
    for view in views:
        for name, bind in lookups:
            view[name] = bind(view)
    return views


def reason_key(error: RecordError) -> str:
    """Rejects are counted per kind and field: ``transform ayto:temperature``."""
    return f"{error.kind} {error.field}" if error.field else error.kind


class Translator:
    """A compiled mapping ready to translate records."""

    def __init__(
        self,
        mapping: Mapping,
        *,
        constraints: Constraints | None = None,
        mode: str | None = None,
        generated: bool = True,
    ) -> None:
        """``constraints``: those of the mapping's ontology by default; ``mode``: the mapping's;
        ``generated``: run the mapping compiled to Python source (:mod:`contextbridge.language.mapping.codegen`),
        False for the closures it is generated from (same output, slower)."""
        self.mapping = mapping
        self.stats = TranslationStats()
        mode = mode or mapping.constraints
        if mode not in MODES:
            raise ConfigError(f"constraints: {mode!r} is not one of {', '.join(MODES)}", key="constraints")
        self.mode: Mode = mode
        checker = None
        if mode != "off":
            checker = constraints or load_constraints(mapping.ontologies)
        self._filter = mapping.filter
        # The rules flattened into tuples once: the per-record loop does no attribute look-ups.
        self._plans = tuple(
            (
                rule,
                rule.id.render,
                rule.observed_at,
                rule.when,
                tuple((a.name, a.build, a.skip_on_error) for a in rule.attributes),
                rule.lookups,
                rule.each,
                # the constraints of the rule's type, specialised to the attributes it gives
                checker.for_rule(rule.type, {a.name: a.unit_code for a in rule.attributes})
                if checker
                else None,
            )
            for rule in mapping.entities
        )
        # Remote lookup tables (HTTP, SQL) are fetched once, here, if nobody did it before:
        # file tables were loaded with the mapping, and refreshes run in the LookupSet's thread.
        if mapping.lookups:
            mapping.lookups.ensure_loaded()
        self._number: int | None = None  # the record being translated, to locate skipped attributes
        self._source: str | None = None
        self._generated: Callable[..., list[Entity]] | None = None
        if generated:
            from .mapping.codegen import generated as generate

            self._generated = generate(mapping, checker).entities

    def _skip(self, name: str, error: TransformError) -> None:
        """An attribute with ``on_error: skip`` failed: counted, located, left out."""
        self.stats.skip(name, error.located(record=self._number, source=self._source))

    def _report(self, violations: list[Violation], type_name: str) -> None:
        """The constraints an entity breaks: rejected (``reject``) or counted (``warn``)."""
        if self.mode == "reject":
            first = violations[0]
            more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
            raise ConstraintError(f"{first}{more}", field=first.attribute)
        for violation in violations:
            self.stats.warn(violation, type_name)

    def translate_record(self, record: MappingABC[str, Any]) -> list[Entity]:
        """The entities of one record; raises RecordError (without position: the caller adds it)."""
        if self._generated is not None:
            return self._generated(record, self._skip, self._report)
        if self._filter is not None and not self._filter(record):
            return []
        entities = []
        bound: tuple[Any, ...] | None = None
        enriched: MappingABC[str, Any] = record
        for rule, render_id, observed_at, when, attributes, lookups, each, check in self._plans:
            if each is not None:
                for item_view in _item_views(record, each, lookups):
                    if when is None or when(item_view):
                        made = self._entity(rule, item_view, render_id, observed_at, attributes, each=True)
                        if check is not None:
                            self._check(made, check, rule.type)
                        entities.append(made)
                continue
            if lookups:
                # The looked-up rows join a shallow copy of the record under the lookups' names, so
                # that every path, template and expression of the entity reads them as fields.
                # Entities with the same lookups share one tuple, so one copy serves them all.
                if lookups is not bound:
                    copy = dict(record)
                    for name, bind in lookups:
                        copy[name] = bind(record)
                    enriched, bound = copy, lookups
                view = enriched
            else:
                view = record
            if when is not None and not when(view):
                continue
            entity = self._entity(rule, view, render_id, observed_at, attributes)
            if check is not None:
                self._check(entity, check, rule.type)
            entities.append(entity)
        return entities

    def _check(self, entity: Entity, check: Any, type_name: str) -> None:
        """The constraints ``entity`` breaks: rejected (``reject``) or counted (``warn``)."""
        violations = check(entity)
        if violations:
            self._report(violations, type_name)

    def _entity(
        self, rule: Any, view: Any, render_id: Any, observed_at: Any, attributes: Any, *, each: bool = False
    ) -> Entity:
        """One entity of a rule, from the record's view (with ``each:``, one item's view of it)."""
        entity_id = render_id(view)
        if entity_id is MISSING:
            item = f" (item {view['index']})" if each else ""
            raise TransformError(f"{rule.type} id: missing value{item}", field=",".join(rule.id.fields))
        observed = observed_at(view) if observed_at is not None else None
        entity: Entity = {"id": entity_id, "type": rule.type}
        for name, build, skip_on_error in attributes:
            try:
                value = build(view, observed)
            except TransformError as error:
                if not skip_on_error:
                    raise
                self._skip(name, error)
                continue
            if value is not None:
                entity[name] = value
        return entity

    def translate(
        self, records: Iterable[MappingABC[str, Any] | FormatError], *, source: str | None = None
    ) -> Iterator[Outcome]:
        """Translate a stream of parsed records (and the parser's errors) in order."""
        stats = self.stats
        number = 0
        generated, skip, report = self._generated, self._skip, self._report
        for record in records:
            number += 1
            # parsed records are mostly dicts: the exact type test spares an isinstance per record
            if type(record) is not dict and isinstance(record, RecordError):
                number = record.record or number
                stats.records += 1
                stats.reject(record.located(record=number, source=source))
                yield record
                continue
            stats.records += 1
            self._number, self._source = number, source
            try:
                if generated is not None:  # translate_record, inlined
                    entities = generated(record, skip, report)
                else:
                    entities = self.translate_record(record)
            except RecordError as error:
                stats.reject(error.located(record=number, source=source, data=record))
                yield error
                continue
            if entities:
                stats.entities += len(entities)
                yield from entities
            else:
                stats.filtered += 1

    def translate_stream(self, stream: BinaryIO, *, source: str | None = None) -> Iterator[Outcome]:
        """Parse ``stream`` with the mapping's format, then translate it."""
        return self.translate(self.mapping.source_format.parse(stream, source=source), source=source)
