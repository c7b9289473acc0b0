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

from ..constraints import Constraint, Constraints, _tester, _violation
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
        self.view = "view"  # the name of the record (or item view) the code reads
        self.observed = "observed"  # the name of the entity's observedAt
        # Values already computed in straight-line code (no branch around them), by what they
        # are: the entities of one record read each field, time and point once. None: no reuse.
        self.memo: dict[tuple[Any, ...], Any] | None = None
        self.base = 0  # the depth of straight-line code
        self.data: Any = {}  # the mapping as written
        self.pending: list[str] | None = None  # the entity's members not written yet (``put``)
        self.bound: list[str] = []  # the names ``bind`` gave, in order
        self.body = 0

    def start(self, entity_id: str, type_name: str) -> None:
        """A new entity: its members are gathered into one dict display while none is conditional."""
        self.pending = [f'"id": {entity_id}', f'"type": {type_name!r}']
        self.body = self.depth

    def put(self, name: str, value: str, *, pure: bool = True) -> None:
        """``entity[name] = value``; ``pure``: ``value`` calls nothing that may fail, so it may wait
        for the dict display."""
        if self.pending is not None and pure and self.depth == self.body:
            self.pending.append(f"{name!r}: {value}")
            return
        self.flush()
        self.line(f"entity[{name!r}] = {value}")

    def flush(self) -> None:
        """Write the entity's display now (before a member that may or may not be set)."""
        if self.pending is not None:
            depth, self.depth = self.depth, self.body
            self.line(f"entity = {{{', '.join(self.pending)}}}")
            self.depth, self.pending = depth, None

    def recall(self, key: tuple[Any, ...]) -> Any:
        return None if self.memo is None else self.memo.get((self.view, *key))

    def remember(self, key: tuple[Any, ...], value: Any) -> None:
        """Keep ``value`` for reuse, if the code computing it runs whenever later code runs."""
        if self.memo is not None and self.depth == self.base:
            self.memo[(self.view, *key)] = value

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
        self.bound.append(name)
        return name


def _get(w: _Writer, path: str, stem: str = "v") -> str:
    """The local holding ``path`` of the view (MISSING if absent): direct subscripts for plain keys,
    read once per record in straight-line code. Callers must not assign to it."""
    known = w.recall(("get", path))
    if known is not None:
        return str(known)
    target = w.local(stem)
    steps = parse_path(path)
    if len(steps) <= 2 and all(isinstance(step, str) for step in steps):
        subscripts = "".join(f"[{step!r}]" for step in steps)
        w.line("try:")
        w.line(f"    {target} = {w.view}{subscripts}")
        w.line("except (KeyError, TypeError, IndexError):")
        w.line(f"    {target} = MISSING")
    else:
        w.line(f"{target} = {w.bind('path', source_getter(path)[0])}({w.view})")
    w.remember(("get", path), target)
    return target


def _template(
    w: _Writer, target: str, source: str, *, uri: bool
) -> tuple[list[tuple[tuple[Any, ...], str]], bool]:
    """``target = <template rendered>`` or MISSING, as ``templates._renderer`` gives it. Returns the
    placeholders' texts, known present once ``target`` is (see ``_known``), and whether ``target``
    is certain (never MISSING: every placeholder already known)."""
    parts = parse_template(source)
    w.line(f"{target} = MISSING")
    opened = 0
    pieces: list[str] = []
    texts: list[tuple[tuple[Any, ...], str]] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(repr(part))
            continue
        path, filter_name = part
        key = ("text", path, filter_name, uri)
        known = w.recall(key)
        if known is not None:
            pieces.append(known)
            continue
        raw, text = _get(w, path), w.local("t")
        w.line(f"if {raw} is not MISSING and {raw} is not None:")
        w.depth += 1
        w.line(f"{text} = ({raw} if type({raw}) is str else to_text({raw})).strip()")
        if filter_name:
            w.line(f"{text} = {w.bind('filter', FILTERS[filter_name])}({text})")
        w.line(f"if {text}:")
        w.depth += 1
        opened += 2
        if uri and filter_name != "slug":  # a slug is made of a-z, 0-9 and "-": nothing to escape
            # letters and digits only (most ids): no escape, known without the regular expression
            w.line(f"if not ({text}.isascii() and {text}.isalnum()) and not _URI_SAFE({text}):")
            w.line(f"    {text} = uri_escape({text}, {path!r})")
        pieces.append(text)
        texts.append((key, text))
    if opened:
        w.line(f"{target} = {' + '.join(pieces) or repr('')}")
        w.depth -= opened
    else:  # every part known: no branch
        del w.lines[-1]
        w.line(f"{target} = {' + '.join(pieces) or repr('')}")
    return texts, not opened


def _known(w: _Writer, texts: list[tuple[tuple[Any, ...], str]]) -> None:
    """A template was rendered (not MISSING) in straight-line code: its placeholders' texts are
    defined and present for the rest of the record."""
    for key, text in texts:
        w.remember(key, text)


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


def _steps(w: _Writer, value: str, spec: Mapping[str, Any], decimal: str, *, plain: bool = False) -> None:
    """The value steps of ``attributes._steps``, in the same order, on the local ``value``
    (``plain``: ``value`` holds the field ``from:`` names, as read)."""
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
            fmt, tz = spec.get("format") or "iso8601", spec.get("tz")
            # the field as read, already parsed the same way (the entity's observedAt): reused
            parsed = w.recall(("parsed", spec["from"], fmt, tz)) if plain else None
            parse = parsed or f"{w.bind('time', time_parser(fmt, tz))}({value})"
            w.line(f'{value} = {{"@type": "DateTime", "@value": {parse}}}')
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
        return [f'"observedAt": {w.observed}']
    if observe is not None:
        return [f'"observedAt": {w.bind("observe", observe)}({record})']
    return []


def _dataset_member(w: _Writer, spec: Mapping[str, Any], record: str) -> list[str]:
    if "datasetId" not in spec:
        return []
    from .attributes import _dataset

    return [f'"datasetId": {w.bind("dataset", _dataset(spec))}({record})']


def _absent(value: str) -> str:
    """The test of ``attributes.is_missing``, written out."""
    return f"{value} is MISSING or {value} is None or (type({value}) is str and not {value}.strip())"


def _present(value: str) -> str:
    return f"not ({_absent(value)})"


def _property(w: _Writer, rule: AttributeRule, decimal: str, observe: Any) -> bool:
    spec, name = rule.spec, rule.name
    if "value" in spec:  # a constant: the closure's dict(static), with the same (shared) value
        members = [f'"type": "Property", "value": {w.bind("constant", spec["value"])}']
        if "unitCode" in spec:
            members.append(f'"unitCode": {spec["unitCode"]!r}')
        w.put(name, f"{{{', '.join(members)}}}")
        return True
    sources = [key for key in VALUE_SOURCES if key in spec]
    source = "expr" if "expr" in sources else sources[0]
    always = "default" in spec or spec.get("required")
    steps = _has_steps(spec)
    if source == "from" and isinstance(spec["from"], str):
        field_name = spec["from"]
        raw = _get(w, spec["from"])
    else:
        field_name = _raw_getter(spec, source, decimal)[1]
        raw = w.local("raw")
        if source == "template":
            _template(w, raw, spec["template"], uri=False)
        else:
            w.line(f"{raw} = {w.bind('raw', _raw_getter(spec, source, decimal)[0])}({w.view})")
    if steps or "default" in spec:
        value = w.local("value")
        w.line(f"if {_present(raw)}:")
        w.depth += 1
        w.line(f"{value} = {raw}")
        if steps:
            w.line("try:")
            w.depth += 1
            plain = source == "from" and isinstance(spec["from"], str) and "map" not in spec
            _steps(w, value, spec, decimal, plain=plain)
            w.depth -= 1
            w.line("except TransformError as error:")
            w.line(f"    raise _blame(error, {name!r}, {field_name!r}) from None")
        w.depth -= 1
        w.line("else:")
        w.depth += 1
        _missing(w, value, name, spec, field_name)
        w.depth -= 1
        if not always:
            w.flush()
            w.line(f"if {value} is not MISSING:")
            w.depth += 1
    else:
        value = raw
        if always:  # required
            w.line(f"if {_absent(raw)}:")
            w.depth += 1
            _missing(w, value, name, spec, field_name)
            w.depth -= 1
        else:
            w.flush()
            w.line(f"if {_present(raw)}:")
            w.depth += 1
    members = [f'"type": "Property", "value": {value}']
    if "unitCode" in spec:
        members.append(f'"unitCode": {spec["unitCode"]!r}')
    extra = _observed_member(w, observe, w.view) + _dataset_member(w, spec, w.view)
    pure = all("(" not in member for member in extra)
    members += extra
    valid = (
        bool(spec.get("cast"))
        or "map" in spec
        or any(key in spec for key in ("scale", "offset", "unit", "round", "range", "bins"))
    )
    if not valid and source != "template":
        attribute = w.local("a")
        w.line(f"{attribute} = {{{', '.join(members)}}}")
        w.line(f"if type({value}) not in _PLAIN:")
        w.line(f"    checked_value({name!r}, {attribute})")
        w.put(name, attribute)
    else:
        w.put(name, f"{{{', '.join(members)}}}", pure=pure)
    if not always:
        w.depth -= 1
    return True


def _relationship(w: _Writer, rule: AttributeRule) -> bool:
    spec, name = rule.spec, rule.name
    if not isinstance(spec["relationship"], str):
        return False
    target = w.local("target")
    fields = [part[0] for part in parse_template(spec["relationship"]) if not isinstance(part, str)]
    texts, certain = _template(w, target, spec["relationship"], uri=True)
    always = certain or "default" in spec or spec.get("required")
    if not certain and ("default" in spec or spec.get("required")):
        w.line(f"if {target} is MISSING:")
        w.depth += 1
        _missing(w, target, name, spec, ",".join(fields))
        w.depth -= 1
        if "default" not in spec:
            _known(w, texts)
    if not always:
        w.flush()
        w.line(f"if {target} is not MISSING:")
        w.depth += 1
    extra = _dataset_member(w, spec, w.view)
    members = [f'"type": "Relationship", "object": {target}', *extra]
    w.put(name, f"{{{', '.join(members)}}}", pure=not extra)
    if not always:
        w.depth -= 1
    return True


def _geo_point(w: _Writer, rule: AttributeRule, decimal: str, observe: Any) -> bool:
    spec, name = rule.spec, rule.name
    if spec["geo"] != "point":
        return False
    field_name = f"{spec['lon']},{spec['lat']}"
    key = ("point", spec["lon"], spec["lat"], decimal)
    known = w.recall(key)
    if known is None:
        lon, lat = _get(w, spec["lon"], "lon"), _get(w, spec["lat"], "lat")
        present, x, y = w.local("present"), w.local("x"), w.local("y")
        w.line(f"{present} = {_present(lon)} and {_present(lat)}")
        w.line(f"if {present}:")
        w.line("    try:")
        w.depth += 2
        _float(w, x, lon, decimal)
        _float(w, y, lat, decimal)
        w.line(f"if not (-180.0 <= {x} <= 180.0 and -90.0 <= {y} <= 90.0):")
        w.line(f'    raise TransformError(f"coordinates ({{{x}}}, {{{y}}}) are outside WGS84 bounds")')
        w.depth -= 2
        w.line("    except TransformError as error:")
        w.line(f"        raise _blame(error, {name!r}, {field_name!r}) from None")
        w.remember(key, (present, x, y))
    else:
        present, x, y = known
    value = w.local("point")
    w.line(f"if {present}:")
    w.line(f'    {value} = {{"type": "Point", "coordinates": [{x}, {y}]}}')
    w.line("else:")
    w.depth += 1
    _missing(w, value, name, spec, field_name)
    w.depth -= 1
    always = "default" in spec or spec.get("required")
    if not always:
        w.flush()
        w.line(f"if {value} is not MISSING:")
        w.depth += 1
    extra = _observed_member(w, observe, w.view)
    members = [f'"type": "GeoProperty", "value": {value}', *extra]
    w.put(name, f"{{{', '.join(members)}}}", pure=all("(" not in member for member in extra))
    if not always:
        w.depth -= 1
    return True


def _covers(rule: AttributeRule) -> bool:
    """Whether the generator writes ``rule`` out (the others call their closure)."""
    if rule.kind == "Relationship":
        return isinstance(rule.spec["relationship"], str)
    if rule.kind == "GeoProperty":
        return bool(rule.spec["geo"] == "point")
    return rule.kind == "Property"


def _attribute(w: _Writer, rule: AttributeRule, decimal: str, inherit: bool) -> bool:
    """Write ``rule`` into the entity (one that ``_covers``)."""
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
    """``def _rule_N(view, skip)``: the entity of ``rule`` from one view of the record (the rules
    with ``each:`` or lookups: the others are written into ``entities`` itself)."""
    name = f"_rule_{number}"
    w.line(f"def {name}(view, skip):")
    w.depth += 1
    w.view, w.observed, w.memo = "view", "observed", None
    _body(w, rule, decimal, fallbacks)
    w.line("return entity")
    w.depth -= 1
    w.line("")
    return name


def _body(w: _Writer, rule: EntityRule, decimal: str, fallbacks: list[str]) -> None:
    """The statements making ``entity``, the entity of ``rule`` from ``w.view``."""
    fields = ",".join(rule.id.fields)
    entity_id = w.local("entity_id")
    certain = False
    if _is_template(rule):
        texts, certain = _template(w, entity_id, rule.id.source, uri=True)
    else:
        texts = []
        w.line(f"{entity_id} = {w.bind('id', rule.id.render)}({w.view})")
    if not certain:
        w.line(f"if {entity_id} is MISSING:")
        if rule.each is not None:
            w.line(f"    reason = {rule.type + ' id: missing value'!r} + f\" (item {{view['index']}})\"")
            w.line(f"    raise TransformError(reason, field={fields!r})")
        else:
            w.line(f"    raise TransformError({rule.type + ' id: missing value'!r}, field={fields!r})")
    _known(w, texts)
    _observed_at(w, rule)
    w.start(entity_id, rule.type)
    inherit = rule.observed_at is not None
    for attribute in rule.attributes:
        covered = _covers(attribute)
        if attribute.skip_on_error or not covered:
            w.flush()  # the entity exists before a member that may be skipped or is built apart
        if attribute.skip_on_error:
            w.line("try:")
            w.depth += 1
        if covered:
            _attribute(w, attribute, decimal, inherit)
        else:
            fallbacks.append(f"{rule.type}.{attribute.name}")
            made = w.local("made")
            w.line(f"{made} = {w.bind('build', attribute.build)}({w.view}, {w.observed})")
            w.line(f"if {made} is not None:")
            w.line(f"    entity[{attribute.name!r}] = {made}")
        if attribute.skip_on_error:
            w.depth -= 1
            w.line("except TransformError as error:")
            w.line(f"    skip({attribute.name!r}, error)")
    w.flush()


def _observed_at(w: _Writer, rule: EntityRule) -> None:
    """The entity's observedAt, once per record for every rule reading the same time the same way."""
    if rule.observed_at is None:
        w.observed = "None"
        return
    spec = _entity_spec(w.data, rule.key).get("observedAt")
    if not isinstance(spec, Mapping) or "from" not in spec or "template" in spec:
        w.observed = w.local("observed")
        w.line(f"{w.observed} = {w.bind('observed', rule.observed_at)}({w.view})")
        return
    key = ("observed", spec["from"], spec.get("format", "iso8601"), spec.get("tz"))
    known = w.recall(key)
    if known is not None:
        w.observed = known
        return
    # attributes.time_getter, written out
    raw, path = _get(w, spec["from"]), spec["from"]
    w.observed = w.local("observed")
    w.line(f"if {raw} is MISSING or {raw} is None or (type({raw}) is str and not {raw}.strip()):")
    w.line(f'    raise TransformError("missing time", field={path!r})')
    w.line("try:")
    w.line(f"    {w.observed} = {w.bind('time', time_parser(key[2], key[3]))}({raw})")
    w.line("except TransformError as error:")
    w.line(f"    error.field = {path!r}")
    w.line("    raise")
    w.remember(key, w.observed)
    w.remember(("parsed", *key[1:]), w.observed)


def _is_template(rule: EntityRule) -> bool:
    """An id written as a URI template, not computed (``{expr: ...}``)."""
    return not rule.id.render.__qualname__.startswith("compile_uri_expression")


def _entity_spec(data: Any, key: tuple[Any, ...]) -> Mapping[str, Any]:
    """The entity rule as the mapping writes it, at ``key`` (``("entities", 0)``)."""
    for part in key:
        data = data[part]
    return data if isinstance(data, Mapping) else {}


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


def _check(rule: EntityRule, checker: Constraints) -> Callable[[Any], Any] | tuple[Constraint, ...] | None:
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
    # only required attributes are left to check: written out (``_constraints``)
    return tuple(c for c in checker.of(rule.type) if c.min_count and not proven(c, _tester(c))) or None


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
        "_violation": _violation,
    }
    w = _Writer(namespace)
    w.data = mapping.document.data
    decimal = _decimal(mapping)
    fallbacks: list[str] = []
    names = {
        number: _rule(w, number, rule, decimal, fallbacks)
        for number, rule in enumerate(mapping.entities)
        if rule.each is not None or rule.lookups
    }
    w.line("def entities(record, skip, report):")
    w.depth += 1
    w.base, w.memo = w.depth, {}
    if mapping.filter is not None:
        w.line(f"if not {w.bind('filter', mapping.filter)}(record):")
        w.line("    return []")
    # No rule with ``when`` or ``each``: one entity per rule, returned as one list display.
    fixed = all(rule.when is None and rule.each is None for rule in mapping.entities)
    made: list[str] = []
    if not fixed:
        w.line("out = []")
    shared: dict[int, str] = {}
    last_lookups: Any = None
    for number, rule in enumerate(mapping.entities):
        where = ".".join(str(part) for part in rule.key)
        w.line(f"# {rule.type!r} ({where})")
        check = _check(rule, checker) if checker is not None else None
        w.view = "record"
        if rule.each is not None:
            each, lookups = w.bind("each", rule.each), w.bind("lookups", rule.lookups)
            w.line(f"for view in _item_views(record, {each}, {lookups}):")
            w.depth += 1
            view = "view"
        elif rule.lookups:
            if rule.lookups is not last_lookups:
                # one shallow copy of the record per lookup set, as the closures' translator makes
                enriched = w.local("enriched")
                w.line(f"{enriched} = dict(record)")
                for lookup_name, bind in rule.lookups:
                    w.line(f"{enriched}[{lookup_name!r}] = {w.bind('bind', bind)}(record)")
                shared[id(rule.lookups)] = enriched
                last_lookups = rule.lookups
            view = shared[id(rule.lookups)]
        else:
            view = "record"
        opened = 1 if rule.each is not None else 0
        if rule.when is not None:
            w.line(f"if {w.bind('when', rule.when)}({view}):")
            w.depth += 1
            opened += 1
        if number in names:
            w.line(f"entity = {names[number]}({view}, skip)")
        else:
            _body(w, rule, decimal, fallbacks)
        _constraints(w, rule, check)
        if fixed:
            made.append(w.local("entity"))
            w.line(f"{made[-1]} = entity")
        else:
            w.line("out.append(entity)")
        w.depth -= opened
    w.line(f"return [{', '.join(made)}]" if fixed else "return out")
    head = [f"# The mapping {mapping.id!r} compiled to Python (contextbridge.mapping.codegen)."]
    if fallbacks:
        head.append(f"# Built by their closures: {', '.join(fallbacks)}.")
    source = "\n".join([*head, "", *w.lines, *_constants(w.namespace, w.bound)]) + "\n"
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


def _constraints(w: _Writer, rule: EntityRule, check: Any) -> None:
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


def _constants(namespace: dict[str, Any], names: list[str]) -> list[str]:
    """The constants the source names, shown as comments (functions are not shown)."""
    shown = [f"# {name} = {_short(repr(namespace[name]))}" for name in names if not callable(namespace[name])]
    return ["", "# Constants of the mapping, bound beside this source:", *shown] if shown else []


def _short(text: str, limit: int = 160) -> str:
    text = text.replace("\n", "\\n").replace("\r", "\\r")  # one comment line each, whatever repr gives
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _decimal(mapping: Any) -> str:
    source = mapping.document.data.get("source", {})
    return str(source.get("decimal", "."))
