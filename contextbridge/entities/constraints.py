"""Smart Data Models constraints (SHACL shapes) compiled into a fast check of NGSI-LD entities.

    >>> check = default_constraints()
    >>> for violation in check.check({"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot",
    ...                               "status": {"type": "Property", "value": "banana"}}):
    ...     print(violation)
    urn:ngsi-ld:ParkingSpot:1: status: 'banana': status is one of closed, free, occupied, unknown
     [sdm-enum; SDM dataModel.Parking/ParkingSpot/schema.json, attribute status]
    urn:ngsi-ld:ParkingSpot:1: refParkingSite: missing: ParkingSpot requires refParkingSite [sdm-required; ...]
    ...

The shapes (``data/shapes/sdm.ttl``) are the one source: ``contextbridge graph validate`` runs
them with pySHACL on the city graph, and :mod:`contextbridge.entities.shapes` compiles them, per entity
type of an ontology, into plain :class:`Constraint` values that this module's hot path walks
without RDF (a test checks both agree). Compiled plans are cached on disk, keyed by the bytes of
the ontology files, the shapes and the compiler (:mod:`contextbridge.entities.plancache`): ``load_constraints``
on an unchanged ontology imports neither rdflib nor the ontology. Beside the shapes, every
``unitCode`` is checked against the UN/CEFACT Recommendation 20 common codes (rule ``unit-code``).

Each violation names its rule and where the rule comes from (``dct:source``: the SDM schema and
attribute). The values are read as the city graph reads them: each item of an array value is
one value, a value that is no string (for ``sh:in``) or no number (for ranges) breaks the rule.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..language.unitcodes import unit_code_problem, unit_codes
from . import plancache as plans

if TYPE_CHECKING:
    from .ontology import Ontology

Mode = Literal["reject", "warn", "off"]
MODES: tuple[Mode, ...] = ("reject", "warn", "off")
UNIT_SOURCE = "UN/CEFACT Recommendation 20"


@dataclass(frozen=True)
class Violation:
    """One broken constraint of one entity."""

    entity_id: str | None
    attribute: str
    rule: str
    message: str
    source: str
    shape: str | None = None  # the SHACL property shape (None: the unit-code rule)

    def __str__(self) -> str:
        return f"{self.entity_id}: {self.attribute}: {self.message} [{self.rule}; {self.source}]"


@dataclass(frozen=True)
class Constraint:
    """A compiled property shape: on ``member`` (``None``: the attribute itself) of an attribute."""

    shape: str
    attribute: str
    iri: str
    rule: str
    message: str
    source: str
    member: str | None = None
    min_count: int = 0
    allowed: frozenset[str] | None = None
    bounds: tuple[tuple[str, float], ...] = ()

    def describe(self) -> str:
        """What the constraint asks, for ``describe``: ``required``, ``one of a, b``, ``>= 0``..."""
        if self.min_count:
            return "required"
        if self.allowed is not None:
            return ("unit " if self.member == "unitCode" else "one of ") + ", ".join(sorted(self.allowed))
        return " and ".join(f"{op} {_number(bound)}" for op, bound in self.bounds)


class Constraints:
    """The constraints of each entity type, compiled (:func:`constraints_for`, :func:`load_constraints`)."""

    def __init__(self, compiled: Mapping[str, Iterable[Constraint]]) -> None:
        """``compiled``: the constraints of each entity type, inherited ones included."""
        self._plans = {name: tuple(plan) for name, plan in compiled.items() if plan}
        # What the hot path walks: per type, the required attributes, and the value constraints by
        # attribute name (short and full IRI), so that absent attributes cost nothing.
        self._required: dict[str, tuple[Constraint, ...]] = {}
        self._by_name: dict[str, dict[str, tuple[Constraint, ...]]] = {}
        for name, plan in self._plans.items():
            self._required[name] = tuple(c for c in plan if c.min_count)
            grouped: dict[str, list[Constraint]] = {}
            for c in plan:
                if c.member is not None:
                    grouped.setdefault(c.attribute, []).append(c)
                    grouped.setdefault(c.iri, []).append(c)
            self._by_name[name] = {key: tuple(found) for key, found in grouped.items()}
        self._codes = unit_codes()

    def to_data(self) -> dict[str, Any]:
        """The plans as JSON data (each constraint once, the types listing theirs by number)."""
        numbers: dict[Constraint, int] = {}
        types = {
            name: [numbers.setdefault(c, len(numbers)) for c in plan] for name, plan in self._plans.items()
        }
        rows = [
            [c.shape, c.attribute, c.iri, c.rule, c.message, c.source, c.member, c.min_count,
             None if c.allowed is None else sorted(c.allowed), [[op, bound] for op, bound in c.bounds]]
            for c in numbers
        ]  # fmt: skip
        return {"constraints": rows, "types": types}

    @classmethod
    def from_data(cls, data: Any) -> Constraints:
        """The constraints ``to_data`` gave; ValueError if ``data`` is not such plans."""
        try:
            made = [_constraint(row) for row in data["constraints"]]
            types = data["types"]
            if not isinstance(types, dict):
                raise ValueError("types is no object")
            return cls({str(name): [made[n] for n in _numbers(found)] for name, found in types.items()})
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"not compiled constraints: {exc!r}") from exc

    def of(self, type_name: str) -> tuple[Constraint, ...]:
        """The constraints on entities of ``type_name`` (inherited ones included)."""
        return self._plans.get(type_name, ())

    def check(self, entity: Mapping[str, Any]) -> list[Violation]:
        """Every constraint ``entity`` breaks; [] when none (or when its type has none)."""
        raw_id = entity.get("id")
        entity_id = raw_id if isinstance(raw_id, str) else None
        type_name = entity.get("type")
        by_name = self._by_name.get(type_name, {}) if isinstance(type_name, str) else {}
        found: list[Violation] = []
        codes = self._codes
        for name, attribute in entity.items():
            # Entities are parsed JSON: exact type tests cost less than isinstance against the ABCs.
            kind = type(attribute)
            for instance in (attribute,) if kind is dict else attribute if kind is list else ():
                code = instance.get("unitCode") if type(instance) is dict else None
                if code is not None and code not in codes and name != "@context":
                    problem = unit_code_problem(code) or f"unit code {code!r}"
                    found.append(Violation(entity_id, name, "unit-code", problem, UNIT_SOURCE))
            for constraint in by_name.get(name, ()):
                for value in _values(attribute, constraint.member):  # type: ignore[arg-type]
                    if not _satisfies(constraint, value):
                        found.append(_violation(entity_id, constraint, repr(value)))
        for constraint in self._required.get(type_name, ()) if isinstance(type_name, str) else ():
            if constraint.attribute not in entity and constraint.iri not in entity:
                found.append(_violation(entity_id, constraint, "missing"))
        return found

    def for_rule(
        self,
        type_name: str,
        units: Mapping[str, str | None],
        *,
        proven: Callable[[Constraint, Callable[[Any], bool]], bool] | None = None,
    ) -> Callable[[Mapping[str, Any]], list[Violation]]:
        """``check`` specialised to the entities of one mapping rule, for the translator's hot path:
        ``units`` names every attribute the rule can give, with the ``unitCode`` it always sends
        (None: none). Unit codes are judged once, here; only the rule's attributes are looked at.
        ``proven(constraint, test)``: True for the constraints the mapping itself guarantees (its
        casts, maps and constants), left out of the check."""
        keep = (lambda c: not proven(c, _tester(c))) if proven is not None else (lambda c: True)
        by_name = self._by_name.get(type_name, {})
        values = tuple(
            (name, tests)
            for name in units
            if name in by_name
            and (tests := tuple((c.member, _tester(c), c) for c in by_name[name] if keep(c)))
        )
        required = tuple(c for c in self._required.get(type_name, ()) if keep(c))
        bad_units = tuple(
            (name, unit_code_problem(code) or f"unit code {code!r}")
            for name, code in units.items()
            if code is not None and code not in self._codes
        )

        def check(entity: Mapping[str, Any]) -> list[Violation]:
            entity_id = entity.get("id")
            found = [
                Violation(entity_id, name, "unit-code", problem, UNIT_SOURCE) for name, problem in bad_units
            ]
            for name, tests in values:
                attribute = entity.get(name)
                if attribute is None:
                    continue
                for member, test, constraint in tests:
                    # the translator's attributes are single dicts: their values read without a generator
                    value = attribute.get(member, _ABSENT) if type(attribute) is dict else _ABSENT
                    if value is _ABSENT:
                        items: Iterable[Any] = _values(attribute, member)  # type: ignore[arg-type]
                    elif type(value) is list:
                        items = value
                    elif test(value):
                        continue
                    else:
                        items = (value,)
                    for item in items:
                        if not test(item):
                            found.append(_violation(entity_id, constraint, repr(item)))
            for constraint in required:
                if constraint.attribute not in entity:
                    found.append(_violation(entity_id, constraint, "missing"))
            return found

        return check


def _violation(entity_id: str | None, constraint: Constraint, what: str) -> Violation:
    return Violation(
        entity_id,
        constraint.attribute,
        constraint.rule,
        f"{what}: {constraint.message}",
        constraint.source,
        constraint.shape,
    )


def _values(attribute: Any, member: str) -> Iterable[Any]:
    """The value nodes of ``(attribute member)``: one per array item, for every instance."""
    for instance in attribute if isinstance(attribute, list) else (attribute,):
        if isinstance(instance, dict) and member in instance:  # entities are parsed JSON: dicts
            value = instance[member]
            yield from value if isinstance(value, list) else (value,)


_COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_ABSENT = object()


def _tester(constraint: Constraint) -> Callable[[Any], bool]:
    """``_satisfies`` for one constraint, as one small function (the translator's hot path)."""
    allowed = constraint.allowed
    if allowed is not None:
        return lambda value: isinstance(value, str) and value in allowed
    tests = tuple((_COMPARE[op], bound) for op, bound in constraint.bounds)
    return lambda value: (
        (type(value) is int or type(value) is float)
        and math.isfinite(value)
        and all(compare(value, bound) for compare, bound in tests)
    )


def _satisfies(constraint: Constraint, value: Any) -> bool:
    if constraint.allowed is not None:
        return isinstance(value, str) and value in constraint.allowed
    if (type(value) is not int and type(value) is not float) or not math.isfinite(value):
        return False  # a literal that is no number (a boolean neither) cannot be compared: SHACL reports it
    return all(_COMPARE[op](value, bound) for op, bound in constraint.bounds)


def _constraint(row: Any) -> Constraint:
    shape, attribute, iri, rule, message, source, member, min_count, allowed, bounds = row
    texts = (shape, attribute, iri, rule, message, source)
    if not all(isinstance(text, str) for text in texts) or member not in (None, "value", "unitCode"):
        raise ValueError(f"not a compiled constraint: {row!r}")
    if type(min_count) is not int or not (allowed is None or isinstance(allowed, list)):
        raise ValueError(f"not a compiled constraint: {row!r}")
    return Constraint(
        *texts,
        member=member,
        min_count=min_count,
        allowed=None if allowed is None else frozenset(_text(item) for item in allowed),
        bounds=tuple((_op(op), _bound(bound)) for op, bound in bounds),
    )


def _numbers(found: Any) -> list[int]:
    if not isinstance(found, list) or not all(type(n) is int and n >= 0 for n in found):
        raise ValueError(f"not constraint numbers: {found!r}")
    return found


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a text: {value!r}")
    return value


def _op(value: Any) -> str:
    if value not in _COMPARE:
        raise ValueError(f"not a comparison: {value!r}")
    return str(value)


def _bound(value: Any) -> float:
    if type(value) not in (int, float):
        raise ValueError(f"not a bound: {value!r}")
    return float(value)


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


_COMPILED: dict[int, tuple[Ontology, Constraints]] = {}
_BY_KEY: dict[str, Constraints] = {}
KIND = "constraints"  # the name of the plans in the cache


def constraints_for(ontology: Ontology) -> Constraints:
    """The constraints compiled for ``ontology`` (once per ontology object; from the cache when
    the ontology was loaded from files whose plans are cached)."""
    cached = _COMPILED.get(id(ontology))
    if cached is None or cached[0] is not ontology:
        key = ontology.fingerprint
        found = _cached(key) if key is not None else None
        if found is None:
            from .shapes import compile_plans

            found = Constraints(compile_plans(ontology))
            if key is not None:
                plans.store(KIND, key, found.to_data())
                _BY_KEY[key] = found
        cached = (ontology, found)
        _COMPILED[id(ontology)] = cached
    return cached[1]


def load_constraints(extra: Iterable[Path] = ()) -> Constraints:
    """The constraints of the bundled ontology and the ``extra`` Turtle files (or directories), as
    :func:`constraints_for` of :func:`~contextbridge.entities.ontology.union_ontology` gives them; when
    their plans are cached, without loading the ontology (nor rdflib)."""
    paths = sorted({Path(path).resolve() for path in extra})
    key = plans.files_fingerprint(plans.ontology_files([plans.BUNDLED, *paths]))
    found = _cached(key) if key is not None else None
    if found is not None:
        return found
    from .ontology import union_ontology

    return constraints_for(union_ontology(paths))


def _cached(key: str) -> Constraints | None:
    """The constraints of ``key`` already in this process, else from the disk cache, else None."""
    found = _BY_KEY.get(key)
    if found is None:
        data = plans.load(KIND, key)
        if data is None:
            return None
        try:
            found = Constraints.from_data(data)
        except ValueError:
            return None  # a damaged cache file: compiled again, and written over
        _BY_KEY[key] = found
    return found


def default_constraints() -> Constraints:
    """The SDM constraints for the bundled ontology."""
    return load_constraints()
