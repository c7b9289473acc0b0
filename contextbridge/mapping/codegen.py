"""A compiled mapping as Python source: one function per entity rule and a combined ``entities``.

    >>> generated = generate(load_mapping("mappings/santander-parking.yaml"))
    >>> print(generated.source)          # what ``contextbridge check --show-code`` prints
    >>> generated.entities(record, skip, report)

The closures of :mod:`contextbridge.mapping.attributes` call one another per step (getter, cast,
scale, round, range, attribute); here the steps of each attribute are written out as straight
code: direct subscripts, inlined casts and templates, constants bound once. What the generator
does not know how to write (language maps, GeoJSON, computed ids...) calls the attribute's own
closure: the fall-back is per attribute, never a failure. The output is the closures' output,
byte for byte, errors included (``tests/test_codegen.py`` compares both on hostile records).

Safety: the source is generated from a validated mapping, never from records. Every string of
the mapping that reaches the source (attribute and type names, template texts, field names) is
written with ``repr()``; other constants (lists, maps, defaults) are bound in the namespace the
source runs in, never spelled in it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..constraints import Constraint, Constraints, _tester
from ..errors import TransformError
from ..paths import MISSING, parse_path
from ..templates import _URI_SAFE, FILTERS, parse_template, to_text, uri_escape
from ..unitcodes import unit_codes
from .attributes import VALUE_SOURCES, AttributeRule, _blame, _raw_getter, checked_value, is_missing
from .casts import float_cast, make_cast, time_parser
from .compiler import EntityRule
from .steps import bins_step, linear_step, source_getter

Entities = Callable[..., list[dict[str, Any]]]
_PLAIN = (str, int, bool)


@dataclass(frozen=True)
class Generated:
    """The generated source of a mapping and its compiled ``entities(record, skip, report)``."""

    source: str
    entities: Entities
    fallbacks: tuple[str, ...]  # the attributes (``Type.name``) left to their closures


class _Writer:
    """Lines of source at an indentation, fresh local names, and the namespace of constants."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.depth = 0
        self.namespace = namespace
        self.count = 0

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def local(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def bind(self, stem: str, value: Any) -> str:
        """A namespace name for ``value`` (a constant or a helper), spelled ``_stemN``."""
        self.count += 1
        name = f"_{stem}{self.count}"
        self.namespace[name] = value
        return name


def _get(w: _Writer, target: str, record: str, path: str) -> None:
    """``target = <path of record>`` (MISSING if absent), direct subscripts for plain keys."""
    steps = parse_path(path)
    if len(steps) <= 2 and all(isinstance(step, str) for step in steps):
        subscripts = "".join(f"[{step!r}]" for step in steps)
        w.line("try:")
        w.line(f"    {target} = {record}{subscripts}")
        w.line("except (KeyError, TypeError, IndexError):")
        w.line(f"    {target} = MISSING")
    else:
        w.line(f"{target} = {w.bind('path', source_getter(path)[0])}({record})")


def _template(w: _Writer, target: str, record: str, source: str, *, uri: bool) -> None:
    """``target = <template rendered>`` or MISSING, as ``templates._renderer`` gives it."""
    parts = parse_template(source)
    w.line(f"{target} = MISSING")
    opened = 0
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(repr(part))
            continue
        path, filter_name = part
        raw, text = w.local("v"), w.local("t")
        _get(w, raw, record, path)
        w.line(f"if {raw} is not MISSING and {raw} is not None:")
        w.depth += 1
        w.line(f"{text} = ({raw} if type({raw}) is str else to_text({raw})).strip()")
        if filter_name:
            w.line(f"{text} = {w.bind('filter', FILTERS[filter_name])}({text})")
        w.line(f"if {text}:")
        w.depth += 1
        opened += 2
        if uri:
            w.line(f"if not _URI_SAFE({text}):")
            w.line(f"    {text} = uri_escape({text}, {path!r})")
        pieces.append(text)
    w.line(f"{target} = {' + '.join(pieces) or repr('')}")
    w.depth -= opened


def _float(w: _Writer, target: str, raw: str, decimal: str) -> None:
    """``target = float cast of raw``, ``casts.float_cast`` written out for a decimal point."""
    if decimal != ".":
        w.line(f"{target} = {w.bind('float', float_cast(decimal))}({raw})")
        return
    kind = w.local("k")
    w.line(f"{kind} = type({raw})")
    w.line(f"if {kind} is str:")
    w.line("    try:")
    w.line(f"        {target} = float({raw})")
    w.line("    except ValueError:")
    w.line(f'        raise TransformError(f"{{{raw}!r}} is not a number") from None')
    w.line(f"elif {kind} is float or {kind} is int:")
    w.line(f"    {target} = float({raw})")
    w.line("else:")
    w.line(f'    raise TransformError(f"{{{raw}!r}} is not a number")')
    w.line(f"if not isfinite({target}):")
    w.line(f'    raise TransformError(f"{{{raw}!r}} is not a finite number")')


def _steps(w: _Writer, value: str, spec: Mapping[str, Any], decimal: str) -> None:
    """The value steps of ``attributes._steps``, in the same order, on the local ``value``."""
    value_type = None
    if "map" in spec:
        # attributes._enumeration, written out: the table keyed by text, "*" the fallback
        table = {to_text(key): found for key, found in spec["map"].items()}
        fallback = table.pop("*", MISSING)
        known = ", ".join(repr(key) for key in table)
        mapped = w.local("m")
        w.line(
            f"{mapped} = {w.bind('map', table)}.get(({value} if type({value}) is str"
            f" else to_text({value})).strip(), {w.bind('fallback', fallback)})"
        )
        w.line(f"if {mapped} is MISSING:")
        w.line(f'    raise TransformError(f"{{{value}!r}} is not in the map " + {"(" + known + ")"!r})')
        w.line(f"{value} = {mapped}")
        from .attributes import _json_type_of

        value_type = _json_type_of(list(spec["map"].values()))
    scale, offset = spec.get("scale", 1), spec.get("offset", 0)
    numeric = any(key in spec for key in ("scale", "offset", "unit", "round", "range", "bins"))
    cast = spec.get("cast") or ("float" if numeric and value_type != "number" else None)
    if cast == "float":
        number = w.local("n")
        _float(w, number, value, decimal)
        w.line(f"{value} = {number}")
    elif cast:
        made = make_cast(cast, decimal=decimal, fmt=spec.get("format"), tz=spec.get("tz"))
        if cast == "datetime":
            parse = time_parser(spec.get("format") or "iso8601", spec.get("tz"))
            w.line(f'{value} = {{"@type": "DateTime", "@value": {w.bind("time", parse)}({value})}}')
        else:
            w.line(f"{value} = {w.bind('cast', made)}({value})")
    if "unit" in spec:
        from ..units import converter

        convert = converter(spec["unit"], spec["unitCode"])
        b = convert(0.0)
        a = convert(1.0) - b
    else:
        a, b = 1.0, 0.0
    factor, constant = a * scale, a * offset + b
    if (factor, constant) != (1.0, 0.0):
        if "round" in spec:
            w.line(f"{value} = {value} * {w.bind('factor', factor)} + {w.bind('constant', constant)}")
        else:
            w.line(f"{value} = {w.bind('linear', linear_step(factor, constant))}({value})")
    if "round" in spec:
        digits = spec["round"]
        w.line(
            f"{value} = round({value})"
            if digits == 0
            else f"{value} = round({value}, {w.bind('digits', digits)})"
        )
    if "range" in spec:
        low, high = spec["range"]
        low_bound = w.bind("low", -math.inf if low is None else low)
        high_bound = w.bind("high", math.inf if high is None else high)
        shown = f"[{low}, {high}]"
        w.line(f"if not {low_bound} <= {value} <= {high_bound}:")
        w.line(f'    raise TransformError(f"{{{value}!r}} is outside the valid range " + {shown!r})')
    if "bins" in spec:
        w.line(f"{value} = {w.bind('bins', bins_step(spec['bins'])[0])}({value})")


def _has_steps(spec: Mapping[str, Any]) -> bool:
    keys = ("map", "cast", "scale", "offset", "unit", "round", "range", "bins")
    return any(key in spec for key in keys)


def _missing(w: _Writer, value: str, name: str, spec: Mapping[str, Any], field_name: str) -> None:
    """What a missing value becomes (``attributes._on_missing``): default, rejection or MISSING."""
    if "default" in spec:
        w.line(f"{value} = {w.bind('default', spec['default'])}")
    elif spec.get("required"):
        reason = f"attribute {name!r}: missing value"
        w.line(f"raise TransformError({reason!r}, field={field_name!r})")
    else:
        w.line(f"{value} = MISSING")


def _observed_member(w: _Writer, observe: Any, record: str) -> list[str]:
    """The attribute's ``observedAt`` member (the entity's time, or its own getter), if any."""
    if observe is True:
        return ['"observedAt": observed']
    if observe is not None:
        return [f'"observedAt": {w.bind("observe", observe)}({record})']
    return []


def _dataset_member(w: _Writer, spec: Mapping[str, Any], record: str) -> list[str]:
    if "datasetId" not in spec:
        return []
    from .attributes import _dataset

    return [f'"datasetId": {w.bind("dataset", _dataset(spec))}({record})']


def _property(w: _Writer, rule: AttributeRule, decimal: str, observe: Any) -> bool:
    spec, name = rule.spec, rule.name
    if "value" in spec:  # a constant: the closure's dict(static), with the same (shared) value
        members = [f'"type": "Property", "value": {w.bind("constant", spec["value"])}']
        if "unitCode" in spec:
            members.append(f'"unitCode": {spec["unitCode"]!r}')
        w.line(f"entity[{name!r}] = {{{', '.join(members)}}}")
        return True
    sources = [key for key in VALUE_SOURCES if key in spec]
    source = "expr" if "expr" in sources else sources[0]
    value, attribute = w.local("value"), w.local("a")
    if source == "from" and isinstance(spec["from"], str):
        field_name = spec["from"]
        _get(w, value, "view", spec["from"])
    elif source == "template" and "expr" not in spec:
        raw, field_name = _raw_getter(spec, source, decimal)
        _template(w, value, "view", spec["template"], uri=False)
    else:
        raw, field_name = _raw_getter(spec, source, decimal)
        w.line(f"{value} = {w.bind('raw', raw)}(view)")
    w.line(f"if {value} is MISSING or {value} is None or (type({value}) is str and not {value}.strip()):")
    w.depth += 1
    _missing(w, value, name, spec, field_name)
    w.depth -= 1
    if _has_steps(spec):
        w.line("else:")
        w.line("    try:")
        w.depth += 2
        _steps(w, value, spec, decimal)
        w.depth -= 2
        w.line("    except TransformError as error:")
        w.line(f"        raise _blame(error, {name!r}, {field_name!r}) from None")
    always = "default" in spec or spec.get("required")
    if not always:
        w.line(f"if {value} is not MISSING:")
        w.depth += 1
    members = [f'"type": "Property", "value": {value}']
    if "unitCode" in spec:
        members.append(f'"unitCode": {spec["unitCode"]!r}')
    members += _observed_member(w, observe, "view") + _dataset_member(w, spec, "view")
    w.line(f"{attribute} = {{{', '.join(members)}}}")
    valid = (
        bool(spec.get("cast"))
        or "map" in spec
        or any(key in spec for key in ("scale", "offset", "unit", "round", "range", "bins"))
    )
    if not valid and source != "template":
        w.line(f"if type({value}) not in _PLAIN:")
        w.line(f"    checked_value({name!r}, {attribute})")
    w.line(f"entity[{name!r}] = {attribute}")
    if not always:
        w.depth -= 1
    return True


def _relationship(w: _Writer, rule: AttributeRule) -> bool:
    spec, name = rule.spec, rule.name
    if not isinstance(spec["relationship"], str):
        return False
    target = w.local("target")
    fields = [part[0] for part in parse_template(spec["relationship"]) if not isinstance(part, str)]
    _template(w, target, "view", spec["relationship"], uri=True)
    if "default" in spec or spec.get("required"):
        w.line(f"if {target} is MISSING:")
        w.depth += 1
        _missing(w, target, name, spec, ",".join(fields))
        w.depth -= 1
    always = "default" in spec or spec.get("required")
    if not always:
        w.line(f"if {target} is not MISSING:")
        w.depth += 1
    members = [f'"type": "Relationship", "object": {target}', *_dataset_member(w, spec, "view")]
    w.line(f"entity[{name!r}] = {{{', '.join(members)}}}")
    if not always:
        w.depth -= 1
    return True


def _geo_point(w: _Writer, rule: AttributeRule, decimal: str, observe: Any) -> bool:
    spec, name = rule.spec, rule.name
    if spec["geo"] != "point":
        return False
    lon, lat, value = w.local("lon"), w.local("lat"), w.local("point")
    field_name = f"{spec['lon']},{spec['lat']}"
    _get(w, lon, "view", spec["lon"])
    _get(w, lat, "view", spec["lat"])
    w.line(f"if is_missing({lon}) or is_missing({lat}):")
    w.depth += 1
    _missing(w, value, name, spec, field_name)
    w.depth -= 1
    w.line("else:")
    w.line("    try:")
    w.depth += 2
    x, y = w.local("x"), w.local("y")
    _float(w, x, lon, decimal)
    _float(w, y, lat, decimal)
    w.line(f"if not (-180.0 <= {x} <= 180.0 and -90.0 <= {y} <= 90.0):")
    w.line(f'    raise TransformError(f"coordinates ({{{x}}}, {{{y}}}) are outside WGS84 bounds")')
    w.depth -= 2
    w.line("    except TransformError as error:")
    w.line(f"        raise _blame(error, {name!r}, {field_name!r}) from None")
    w.line(f'    {value} = {{"type": "Point", "coordinates": [{x}, {y}]}}')
    always = "default" in spec or spec.get("required")
    if not always:
        w.line(f"if {value} is not MISSING:")
        w.depth += 1
    members = [f'"type": "GeoProperty", "value": {value}', *_observed_member(w, observe, "view")]
    w.line(f"entity[{name!r}] = {{{', '.join(members)}}}")
    if not always:
        w.depth -= 1
    return True


def _attribute(w: _Writer, rule: AttributeRule, decimal: str, inherit: bool) -> bool:
    """Write ``rule`` into the entity; False (nothing written) when the generator does not cover it."""
    from .attributes import _observed

    spec = rule.spec
    if rule.kind == "Relationship":
        return _relationship(w, rule)
    if rule.kind == "GeoProperty":
        return _geo_point(w, rule, decimal, _observed(spec, inherit))
    if rule.kind == "Property":
        return _property(w, rule, decimal, _observed(spec, inherit))
    return False


def _rule(w: _Writer, number: int, rule: EntityRule, decimal: str, fallbacks: list[str]) -> str:
    """``def _rule_N(view, skip)``: the entity of ``rule`` from one view of the record."""
    name = f"_rule_{number}"
    w.line(f"def {name}(view, skip):")
    w.depth += 1
    fields = ",".join(rule.id.fields)
    if _is_template(rule):
        _template(w, "entity_id", "view", rule.id.source, uri=True)
    else:
        w.line(f"entity_id = {w.bind('id', rule.id.render)}(view)")
    w.line("if entity_id is MISSING:")
    if rule.each is not None:
        w.line(f"    reason = {rule.type + ' id: missing value'!r} + f\" (item {{view['index']}})\"")
        w.line(f"    raise TransformError(reason, field={fields!r})")
    else:
        w.line(f"    raise TransformError({rule.type + ' id: missing value'!r}, field={fields!r})")
    if rule.observed_at is not None:
        w.line(f"observed = {w.bind('observed', rule.observed_at)}(view)")
    else:
        w.line("observed = None")
    w.line(f'entity = {{"id": entity_id, "type": {rule.type!r}}}')
    inherit = rule.observed_at is not None
    for attribute in rule.attributes:
        start = len(w.lines)
        if attribute.skip_on_error:
            w.line("try:")
            w.depth += 1
        covered = _attribute(w, attribute, decimal, inherit)
        if not covered:
            del w.lines[start + (1 if attribute.skip_on_error else 0) :]
            fallbacks.append(f"{rule.type}.{attribute.name}")
            made = w.local("made")
            w.line(f"{made} = {w.bind('build', attribute.build)}(view, observed)")
            w.line(f"if {made} is not None:")
            w.line(f"    entity[{attribute.name!r}] = {made}")
        if attribute.skip_on_error:
            w.depth -= 1
            w.line("except TransformError as error:")
            w.line(f"    skip({attribute.name!r}, error)")
    w.line("return entity")
    w.depth -= 1
    w.line("")
    return name


def _is_template(rule: EntityRule) -> bool:
    """An id written as a URI template, not computed (``{expr: ...}``)."""
    return not rule.id.render.__qualname__.startswith("compile_uri_expression")


# -- constraints ------------------------------------------------------------------------------


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


def _check(rule: EntityRule, checker: Constraints) -> Callable[[Any], Any] | None:
    """The constraints of ``rule`` that the mapping does not prove, as a check (None: all proven)."""
    by_name = {a.name: a for a in rule.attributes}
    units = {a.name: a.unit_code for a in rule.attributes}

    def proven(constraint: Constraint, tester: Callable[[Any], bool]) -> bool:
        if constraint.iri != constraint.attribute and constraint.iri in units:
            return False  # the rule gives the attribute under its full IRI too: checked as is
        return _proven(constraint, by_name.get(constraint.attribute), tester)

    codes = unit_codes()
    left = [
        c
        for c in checker.of(rule.type)
        if (c.min_count or (c.member is not None and (c.attribute in units or c.iri in units)))
        and not proven(c, _tester(c))
    ]
    if not left and all(code is None or code in codes for code in units.values()):
        return None
    return checker.for_rule(rule.type, units, proven=proven)


# -- the mapping ------------------------------------------------------------------------------


def generate(mapping: Any, checker: Constraints | None = None) -> Generated:
    """The source of ``mapping`` (its entities checked against ``checker``, if given), compiled."""
    from ..translator import _item_views

    namespace: dict[str, Any] = {
        "MISSING": MISSING,
        "TransformError": TransformError,
        "to_text": to_text,
        "uri_escape": uri_escape,
        "_URI_SAFE": _URI_SAFE,
        "isfinite": math.isfinite,
        "is_missing": is_missing,
        "_blame": _blame,
        "_PLAIN": _PLAIN,
        "checked_value": checked_value,
        "_item_views": _item_views,
    }
    w = _Writer(namespace)
    decimal = _decimal(mapping)
    fallbacks: list[str] = []
    names = [_rule(w, number, rule, decimal, fallbacks) for number, rule in enumerate(mapping.entities)]
    w.line("def entities(record, skip, report):")
    w.depth += 1
    if mapping.filter is not None:
        w.line(f"if not {w.bind('filter', mapping.filter)}(record):")
        w.line("    return []")
    w.line("out = []")
    shared: dict[int, str] = {}
    last_lookups: Any = None
    for name, rule in zip(names, mapping.entities, strict=True):
        check = _check(rule, checker) if checker is not None else None
        if rule.each is not None:
            w.line(
                f"for view in _item_views(record, {w.bind('each', rule.each)}, {w.bind('lookups', rule.lookups)}):"
            )
            w.depth += 1
        elif rule.lookups:
            if rule.lookups is not last_lookups:
                # one shallow copy of the record per lookup set, as the closures' translator makes
                view = w.local("enriched")
                w.line(f"{view} = dict(record)")
                for lookup_name, bind in rule.lookups:
                    w.line(f"{view}[{lookup_name!r}] = {w.bind('bind', bind)}(record)")
                shared[id(rule.lookups)] = view
                last_lookups = rule.lookups
            w.line(f"view = {shared[id(rule.lookups)]}")
        else:
            w.line("view = record")
        opened = 0
        if rule.when is not None:
            w.line(f"if {w.bind('when', rule.when)}(view):")
            w.depth += 1
            opened = 1
        w.line(f"entity = {name}(view, skip)")
        if check is not None:
            w.line(f"violations = {w.bind('check', check)}(entity)")
            w.line("if violations:")
            w.line(f"    report(violations, {rule.type!r})")
        w.line("out.append(entity)")
        w.depth -= opened + (1 if rule.each is not None else 0)
    w.line("return out")
    source = "\n".join(w.lines) + "\n"
    # Generated from the validated mapping (strings as repr() literals, other constants bound in
    # the namespace): no record value is ever part of the source.
    code = compile(source, f"<mapping {mapping.id}>", "exec")
    exec(code, namespace)
    return Generated(source, namespace["entities"], tuple(fallbacks))


_CACHE: dict[tuple[int, int], tuple[Any, Any, Generated]] = {}
_CACHE_SIZE = 64


def generated(mapping: Any, checker: Constraints | None = None) -> Generated:
    """:func:`generate`, once per mapping and constraints (the last few kept)."""
    key = (id(mapping), id(checker))
    found = _CACHE.get(key)
    if found is not None and found[0] is mapping and found[1] is checker:
        return found[2]
    made = generate(mapping, checker)
    if len(_CACHE) >= _CACHE_SIZE:
        del _CACHE[next(iter(_CACHE))]
    _CACHE[key] = (mapping, checker, made)  # both kept alive: their ids stay theirs
    return made


def _decimal(mapping: Any) -> str:
    source = mapping.document.data.get("source", {})
    return str(source.get("decimal", "."))
