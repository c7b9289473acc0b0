"""The Smart Data Models constraints a mapping proves by itself, left out of the generated check:
a ``map`` onto allowed values, a ``range`` within the bounds, a constant, an attribute that is
required (or has a default) is always there. What is left is checked as the closures check it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ...entities.constraints import Constraint, Constraints, _tester
from ..unitcodes import unit_codes
from .attributes import AttributeRule
from .compiler import EntityRule
from .emit import Writer


def _known_values(spec: Mapping[str, Any]) -> list[Any] | None:
    """Every value a Property can take, when the mapping decides them (constants, maps, bins)."""
    if "value" in spec:
        values = [spec["value"]]
    elif "bins" in spec:
        values = [label for _, label in spec["bins"]]
    elif "map" in spec and not any(
        key in spec for key in ("cast", "scale", "offset", "unit", "round", "range")
    ):
        values = list(spec["map"].values())
    else:
        return None
    if "default" in spec:
        values.append(spec["default"])
    return [item for value in values for item in (value if isinstance(value, list) else [value])]


def _proven(constraint: Constraint, rule: AttributeRule | None, tester: Callable[[Any], bool]) -> bool:
    """Whether every entity of the rule keeps ``constraint``, whatever the record."""
    if rule is None:
        return False
    spec = rule.spec
    if constraint.min_count:
        if rule.skip_on_error:
            return False
        if rule.kind == "Property" and "value" in spec:
            return True
        return bool(spec.get("required") or "default" in spec) and rule.kind in (
            "Property",
            "Relationship",
            "GeoProperty",
        )
    member = constraint.member
    if rule.kind == "Relationship":
        return member in ("value", "unitCode") and "datasetId" not in spec
    if rule.kind != "Property":
        return False
    if member == "unitCode":
        code = spec.get("unitCode")
        return code is None or tester(code)
    values = _known_values(spec)
    if values is not None:
        return all(tester(value) for value in values)
    if constraint.bounds and "range" in spec and "bins" not in spec:
        low, high = spec["range"]
        for op, bound in constraint.bounds:
            ok = (
                (op == ">=" and low is not None and low >= bound)
                or (op == ">" and low is not None and low > bound)
                or (op == "<=" and high is not None and high <= bound)
                or (op == "<" and high is not None and high < bound)
            )
            if not ok:
                return False
        return "default" not in spec or tester(spec["default"])
    return False


def residual_check(
    rule: EntityRule, checker: Constraints
) -> Callable[[Any], Any] | tuple[Constraint, ...] | None:
    """The constraints of ``rule`` that the mapping does not prove: a check, or only the required
    attributes to test (a tuple), or None (all proven)."""
    by_name = {a.name: a for a in rule.attributes}
    units = {a.name: a.unit_code for a in rule.attributes}

    def proven(constraint: Constraint, tester: Callable[[Any], bool]) -> bool:
        if constraint.iri != constraint.attribute and constraint.iri in units:
            return False  # the rule gives the attribute under its full IRI too: checked as is
        return _proven(constraint, by_name.get(constraint.attribute), tester)

    codes = unit_codes()
    if any(code is not None and code not in codes for code in units.values()):
        return checker.for_rule(rule.type, units, proven=proven)
    values = [
        c
        for c in checker.of(rule.type)
        if c.member is not None and (c.attribute in units or c.iri in units) and not proven(c, _tester(c))
    ]
    if values:
        return checker.for_rule(rule.type, units, proven=proven)
    # only required attributes are left to check: written out (``check_code``)
    return tuple(c for c in checker.of(rule.type) if c.min_count and not proven(c, _tester(c))) or None


def check_code(w: Writer, rule: EntityRule, check: Any) -> None:
    """The constraints of ``rule`` not proven by the mapping, on ``entity``."""
    if check is None:
        return
    if not isinstance(check, tuple):
        w.line(f"violations = {w.bind('check', check)}(entity)")
        w.line("if violations:")
        w.line(f"    report(violations, {rule.type!r})")
        return
    # Constraints.for_rule's test of required attributes, one ``in`` per attribute
    names = [w.bind("required", constraint) for constraint in check]
    tests = " or ".join(f"{c.attribute!r} not in entity" for c in check)
    w.line(f"if {tests}:")
    w.depth += 1
    w.line("violations = []")
    for constraint, name in zip(check, names, strict=True):
        w.line(f"if {constraint.attribute!r} not in entity:")
        w.line(f'    violations.append(_violation(entity["id"], {name}, "missing"))')
    w.line(f"report(violations, {rule.type!r})")
    w.depth -= 1
