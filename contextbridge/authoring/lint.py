"""Lint a mapping against the ontology: types, attributes, kinds, targets, datatypes, units.

    >>> for problem in lint_mapping(load_mapping("mappings/santander-parking.yaml"), default_ontology()):
    ...     print(problem)   # mappings/santander-parking.yaml:14: entities[0].attributes.status: ...

Each problem names the mapping file, the line and the ontology term concerned. The lint reads
what the compiler learnt about each attribute (its kind, the type of value its steps produce,
its units), so it judges the mapping as it will run, not as it is spelled.
"""

from __future__ import annotations

import difflib
import re

from ..entities.constraints import Constraints, constraints_for
from ..entities.ontology import Ontology, OntologyProperty
from ..errors import Problem
from ..language.mapping import AttributeRule, EntityRule, Mapping
from ..language.unitcodes import unit_code_problem
from ..language.units import convertible

# Which value types (as the compiler infers them) each ontology range accepts.
_ACCEPTS = {
    "double": {"number", "integer"},
    "integer": {"integer"},
    "string": {"string"},
    "dateTime": {"dateTime"},
    "date": {"dateTime", "string"},
    "time": {"string"},
    "boolean": {"boolean"},
    "anyURI": {"string", "uri"},
}
_ADVICE = {
    "integer": "cast: int or round: 0",
    "double": "cast: float",
    "string": "cast: string",
    "dateTime": "cast: datetime",
    "boolean": "cast: bool",
}
_NGSI_URN = re.compile(r"^urn:ngsi-ld:([A-Za-z][A-Za-z0-9_]*):")
_NGSI_URN_LITERAL = re.compile(r"""["']urn:ngsi-ld:([A-Za-z][A-Za-z0-9_]*):""")


def lint_mapping(
    mapping: Mapping, ontology: Ontology, constraints: Constraints | None = None
) -> list[Problem]:
    """Every disagreement between ``mapping`` and ``ontology`` (and the Smart Data Models
    constraints of its types, where the mapping decides them: constants, ``map:`` values); [] when
    they agree."""
    constraints = constraints or constraints_for(ontology)
    problems: list[Problem] = []
    for entity in mapping.entities:
        if ontology.cls(entity.type) is None:
            problems.append(_problem(mapping, (*entity.key, "type"), _unknown_type(entity.type, ontology)))
            continue
        for rule in entity.attributes:
            problems.extend(_lint_attribute(mapping, entity, rule, ontology))
            key = (*entity.key, "attributes", rule.name)
            problems += [
                _problem(mapping, key, text) for text in _lint_constraints(entity.type, rule, constraints)
            ]
    return problems


def _lint_constraints(type_name: str, rule: AttributeRule, constraints: Constraints) -> list[str]:
    """The values a mapping fixes (a constant, the outputs of ``map:``, a default) against the
    enumerations and ranges of the attribute's constraints."""
    spec = rule.spec
    if rule.kind != "Property":
        return []
    outputs = [spec[key] for key in ("value", "default") if key in spec]
    outputs += list(spec["map"].values()) if isinstance(spec.get("map"), dict) else []
    # An array-valued Property (DATEX II's status: [closed]) is checked item by item, as SHACL does.
    fixed = [item for output in outputs for item in (output if isinstance(output, list) else [output])]
    problems = []
    for constraint in constraints.of(type_name):
        if constraint.attribute != rule.name or constraint.member != "value":
            continue
        entity = {"type": type_name, rule.name: {"type": "Property", "value": fixed}}
        for violation in constraints.check(entity):
            if violation.shape == constraint.shape:
                problems.append(f"{violation.message} [{violation.rule}; {violation.source}]")
    return problems


def _problem(mapping: Mapping, key: tuple[str | int, ...], message: str) -> Problem:
    return mapping.document.problem(key, message)


def _unknown_type(name: str, ontology: Ontology) -> str:
    close = difflib.get_close_matches(name, list(ontology.classes), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"unknown type {name!r}: not a class of the ontology{hint}"


def _lint_attribute(
    mapping: Mapping, entity: EntityRule, rule: AttributeRule, ontology: Ontology
) -> list[Problem]:
    key = (*entity.key, "attributes", rule.name)
    prop = ontology.attribute(entity.type, rule.name)
    if prop is None:
        return [_problem(mapping, key, _unknown_attribute(entity.type, rule.name, ontology))]
    where = f"{entity.type}.{rule.name} <{prop.iri}>"
    problems = []
    if rule.kind != prop.kind:
        problems.append(f"{where} is a {prop.kind} in the ontology; the mapping makes a {rule.kind}")
    elif rule.kind == "Relationship":
        problems.extend(_lint_target(entity.type, rule, prop, ontology, where))
    elif rule.kind == "Property":
        problems.extend(_lint_datatype(rule, prop, where))
        problems.extend(_lint_unit(rule, prop, where))
    return [_problem(mapping, key, message) for message in problems]


def _unknown_attribute(type_name: str, name: str, ontology: Ontology) -> str:
    owners = sorted(cls for cls in ontology.classes if name in ontology.attributes(cls))
    if owners:
        return f"attribute {name!r} is not allowed on {type_name} (the ontology defines it on {', '.join(owners)})"
    close = difflib.get_close_matches(name, list(ontology.attributes(type_name)), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"unknown attribute {name!r}: {type_name} has no such property in the ontology{hint}"


def _lint_target(
    type_name: str, rule: AttributeRule, prop: OntologyProperty, ontology: Ontology, where: str
) -> list[str]:
    spec = rule.spec["relationship"]
    # {expr: "'urn:ngsi-ld:Device:' + ..."}: the type is in the literal the expression's URI starts with
    match = _NGSI_URN.match(spec) if isinstance(spec, str) else _NGSI_URN_LITERAL.search(spec["expr"])
    if match is None:
        return []  # an object that is not a urn:ngsi-ld:<Type>: URI cannot be checked statically
    target = match.group(1)
    if ontology.cls(target) is None:
        return [f"{where} points at {target}, which is not a class of the ontology (expected {prop.range})"]
    if not ontology.is_subclass(target, prop.range):
        return [f"{where} must point at a {prop.range}; the mapping points at a {target}"]
    return []


def _lint_datatype(rule: AttributeRule, prop: OntologyProperty, where: str) -> list[str]:
    accepted = _ACCEPTS.get(prop.range)
    if accepted is None or rule.value_type is None or rule.value_type in accepted:
        return []
    advice = _ADVICE.get(prop.range)
    hint = f" (add {advice})" if advice else ""
    return [
        f"wrong datatype: {where} has range xsd:{prop.range}; the mapping gives a {rule.value_type}{hint}"
    ]


def _lint_unit(rule: AttributeRule, prop: OntologyProperty, where: str) -> list[str]:
    expected, sent = prop.unit, rule.unit_code
    if expected is None and sent is not None and (unknown := unit_code_problem(sent)) is not None:
        return [unknown]
    if expected is None or sent == expected:
        return []
    if sent is None:
        return [f"wrong unit: {where} is measured in {expected}; add unitCode: {expected}"]
    if (unknown := unit_code_problem(sent)) is not None:
        return [f"{unknown} ({where} is measured in {expected})"]
    if convertible(sent, expected):
        source = rule.unit or sent
        return [
            f"wrong unit: {where} is measured in {expected}, the mapping sends {sent}; "
            f"convert with unit: {source}, unitCode: {expected}"
        ]
    return [f"wrong unit: {where} is measured in {expected}; {sent} cannot be converted to it"]
