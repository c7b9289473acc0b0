"""The statements of generated mappings (:mod:`contextbridge.language.mapping.codegen`): field reads,
templates, casts and value steps, and each kind of attribute, written out as the closures of
:mod:`contextbridge.language.mapping.attributes` compute them, to the letter of their errors.

Mapping strings reach the source only through ``repr()``; other constants are bound in the
namespace the source runs in (``Writer.bind``), never spelled in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..fieldpaths import MISSING, parse_path
from ..templates import FILTERS, parse_template, to_text
from .attributes import VALUE_SOURCES, AttributeRule, _raw_getter
from .casts import float_cast, make_cast, time_parser
from .steps import bins_step, linear_step, linear_terms, source_getter


class Writer:
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

    def mark(self) -> tuple[Any, ...]:
        """Where the writer stands, to ``restore`` after a failed attempt."""
        memo = None if self.memo is None else dict(self.memo)
        pending = None if self.pending is None else list(self.pending)
        return len(self.lines), len(self.bound), self.depth, memo, pending, self.view, self.observed

    def restore(self, mark: tuple[Any, ...]) -> None:
        lines, bound, self.depth, self.memo, self.pending, self.view, self.observed = mark
        del self.lines[lines:], self.bound[bound:]

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


def read(w: Writer, path: str, stem: str = "v") -> str:
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


def template(
    w: Writer, target: str, source: str, *, uri: bool
) -> tuple[list[tuple[tuple[Any, ...], str]], bool]:
    """``target = <template rendered>`` or MISSING, as ``templates._renderer`` gives it. Returns the
    placeholders' texts, known present once ``target`` is (see ``known``), and whether ``target``
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
        raw, text = read(w, path), w.local("t")
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


def known(w: Writer, texts: list[tuple[tuple[Any, ...], str]]) -> None:
    """A template was rendered (not MISSING) in straight-line code: its placeholders' texts are
    defined and present for the rest of the record."""
    for key, text in texts:
        w.remember(key, text)


def _float(w: Writer, target: str, raw: str, decimal: str) -> None:
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


def _steps(w: Writer, value: str, spec: Mapping[str, Any], decimal: str, *, plain: bool = False) -> None:
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
    factor, constant = linear_terms(spec)
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


def _missing(w: Writer, value: str, name: str, spec: Mapping[str, Any], field_name: str) -> None:
    """What a missing value becomes (``attributes._on_missing``): default, rejection or MISSING."""
    if "default" in spec:
        w.line(f"{value} = {w.bind('default', spec['default'])}")
    elif spec.get("required"):
        reason = f"attribute {name!r}: missing value"
        w.line(f"raise TransformError({reason!r}, field={field_name!r})")
    else:
        w.line(f"{value} = MISSING")


def _observed_member(w: Writer, observe: Any, record: str) -> list[str]:
    """The attribute's ``observedAt`` member (the entity's time, or its own getter), if any."""
    if observe is True:
        return [f'"observedAt": {w.observed}']
    if observe is not None:
        return [f'"observedAt": {w.bind("observe", observe)}({record})']
    return []


def _dataset_member(w: Writer, spec: Mapping[str, Any], record: str) -> list[str]:
    if "datasetId" not in spec:
        return []
    from .attributes import _dataset

    return [f'"datasetId": {w.bind("dataset", _dataset(spec))}({record})']


def _absent(value: str) -> str:
    """The test of ``attributes.is_missing``, written out."""
    return f"{value} is MISSING or {value} is None or (type({value}) is str and not {value}.strip())"


def _present(value: str) -> str:
    return f"not ({_absent(value)})"


def _property(w: Writer, rule: AttributeRule, decimal: str, observe: Any) -> bool:
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
        raw = read(w, spec["from"])
    else:
        field_name = _raw_getter(spec, source, decimal)[1]
        raw = w.local("raw")
        if source == "template":
            template(w, raw, spec["template"], uri=False)
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


def _relationship(w: Writer, rule: AttributeRule) -> bool:
    spec, name = rule.spec, rule.name
    if not isinstance(spec["relationship"], str):
        return False
    target = w.local("target")
    fields = [part[0] for part in parse_template(spec["relationship"]) if not isinstance(part, str)]
    texts, certain = template(w, target, spec["relationship"], uri=True)
    always = certain or "default" in spec or spec.get("required")
    if not certain and ("default" in spec or spec.get("required")):
        w.line(f"if {target} is MISSING:")
        w.depth += 1
        _missing(w, target, name, spec, ",".join(fields))
        w.depth -= 1
        if "default" not in spec:
            known(w, texts)
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


def _geo_point(w: Writer, rule: AttributeRule, decimal: str, observe: Any) -> bool:
    spec, name = rule.spec, rule.name
    if spec["geo"] != "point":
        return False
    field_name = f"{spec['lon']},{spec['lat']}"
    key = ("point", spec["lon"], spec["lat"], decimal)
    known = w.recall(key)
    if known is None:
        lon, lat = read(w, spec["lon"], "lon"), read(w, spec["lat"], "lat")
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


def covers(rule: AttributeRule) -> bool:
    """Whether the generator writes ``rule`` out (the others call their closure)."""
    if rule.kind == "Relationship":
        return isinstance(rule.spec["relationship"], str)
    if rule.kind == "GeoProperty":
        return bool(rule.spec["geo"] == "point")
    return rule.kind == "Property"


def attribute_code(w: Writer, rule: AttributeRule, decimal: str, inherit: bool) -> bool:
    """Write ``rule`` into the entity (one that ``covers``)."""
    from .attributes import _observed

    spec = rule.spec
    if rule.kind == "Relationship":
        return _relationship(w, rule)
    if rule.kind == "GeoProperty":
        return _geo_point(w, rule, decimal, _observed(spec, inherit))
    if rule.kind == "Property":
        return _property(w, rule, decimal, _observed(spec, inherit))
    return False
