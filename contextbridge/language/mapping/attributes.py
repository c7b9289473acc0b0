"""Compile one attribute of a mapping into a function ``(record, observedAt) -> attribute | None``.

The steps of the mapping language (missing → map → cast → scale/offset/unit → round → range → bins)
are resolved here, once: scale, offset and unit conversion fold into a single ``a * x + b``
(rounded to the precision of its inputs unless ``round`` says otherwise), and only the steps an
attribute uses end up in its chain.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...entities.validation import validate_attribute
from ...errors import ConfigError, InvalidEntityError, TransformError
from ..expressions import compile_expression
from ..fieldpaths import MISSING, compile_path
from ..templates import compile_template, to_text
from .casts import float_cast, make_cast, time_parser
from .computed import compile_uri_expression
from .steps import bins_step, first_time, linear_step, linear_terms, source_getter, time_field

Record = Mapping[str, Any]
Build = Callable[[Record, "str | None"], "dict[str, Any] | None"]
Step = Callable[[Any], Any]

VALUE_SOURCES = ("from", "value", "template", "expr", "object", "relationship", "geo", "language")


@dataclass(frozen=True)
class AttributeRule:
    """One compiled attribute: what the ontology lint needs to know, and ``build``."""

    name: str
    kind: str  # Property | Relationship | GeoProperty | LanguageProperty
    spec: Mapping[str, Any] = field(repr=False)
    value_type: str | None  # number, integer, boolean, string, dateTime, json, geo, uri; None: unknown
    unit: str | None  # the unit of the input (converted from)
    unit_code: str | None  # the unit sent
    skip_on_error: bool
    build: Build = field(repr=False)
    # Attributes shaped like the ones ``build`` makes, with every constant of the spec: validated once
    # when the mapping loads, so the translator need not re-check what cannot vary per record.
    samples: tuple[dict[str, Any], ...] = field(default=(), repr=False)


_PLAIN = (str, int, bool)
_SAMPLE_TIME = "2020-01-01T00:00:00Z"
_SAMPLE_URI = "urn:ngsi-ld:Sample:1"


def checked_value(name: str, attribute: dict[str, Any]) -> dict[str, Any]:
    """A value straight from the record or an expression: check it unless it is plainly valid JSON."""
    value = attribute["value"]
    if type(value) in _PLAIN or (type(value) is float and math.isfinite(value)):
        return attribute
    if problems := validate_attribute(name, attribute):
        raise InvalidEntityError(problems)
    return attribute


def _blame(error: TransformError, name: str, field_name: str) -> TransformError:
    """Say which attribute and record field a failing step belonged to."""
    error.field = error.field or field_name
    error.reason = f"attribute {name!r}: {error.reason}"
    return error


def is_missing(value: Any) -> bool:
    """Absent, null, or a blank string: the feed has no value for this field."""
    return value is MISSING or value is None or (type(value) is str and not value.strip())


def compile_attribute(
    name: str, spec: Mapping[str, Any], *, decimal: str, inherit_observed: bool
) -> AttributeRule:
    """Compile ``spec``; raise ConfigError (the caller adds file and line) on a contradiction.

    ``inherit_observed``: the entity declares an observedAt that this attribute takes by default.
    """
    sources = [key for key in VALUE_SOURCES if key in spec]
    if "from" in sources and ("expr" in spec or spec.get("geo") == "geojson"):
        sources.remove("from")
    if len(sources) != 1:
        found = ", ".join(sources) or "none"
        raise ConfigError(f"needs exactly one of {', '.join(VALUE_SOURCES)} (found: {found})")
    source = sources[0]
    if source == "relationship":
        return _relationship(name, spec)
    if source == "geo":
        return _geo(name, spec, decimal=decimal, observed_at=_observed(spec, inherit_observed))
    if source == "language":
        return _language(name, spec)
    return _property(name, spec, source, decimal=decimal, observed_at=_observed(spec, inherit_observed))


def _observed(spec: Mapping[str, Any], inherit: bool) -> Callable[[Record], str] | bool | None:
    """The attribute's own time getter, True to take the entity's, or None for no observedAt."""
    own = spec.get("observedAt")
    if own is False:
        return None
    if isinstance(own, Mapping | list):
        return time_getter(own)
    return True if inherit else None


def time_getter(spec: Mapping[str, Any] | list[Mapping[str, Any]]) -> Callable[[Record], str]:
    """``{from | template, format, tz}`` → ``record -> "...Z"``; a missing time is a TransformError.

    A list of them is tried in order: the first whose field is present gives the time.
    """
    if isinstance(spec, list):
        return first_time([time_getter(one) for one in spec], [time_field(one) for one in spec])
    if "template" in spec:
        template = compile_template(spec["template"])
        get, path = template.render, ",".join(template.fields)
    else:
        get, path = compile_path(spec["from"]), spec["from"]
    parse = time_parser(spec.get("format", "iso8601"), spec.get("tz"))

    def observed(record: Record) -> str:
        raw = get(record)
        if raw is MISSING or raw is None or (type(raw) is str and not raw.strip()):  # is_missing, inlined
            raise TransformError("missing time", field=path)
        try:
            return parse(raw)
        except TransformError as error:
            error.field = path
            raise

    return observed


def _raw_getter(
    spec: Mapping[str, Any], source: str, decimal: str = "."
) -> tuple[Callable[[Record], Any], str]:
    """The function giving the raw value, and the record field to name in errors."""
    if source == "template":
        template = compile_template(spec["template"])
        return template.render, ",".join(template.fields) or spec["template"]
    if source == "expr":
        expression = compile_expression(spec["expr"])
        if "from" in spec:
            get, field_name = source_getter(spec["from"])

            def from_then_expr(record: Record) -> Any:
                value = get(record)
                return MISSING if is_missing(value) else expression(record, value)

            return from_then_expr, field_name
        return (lambda record: expression(record, None)), ",".join(sorted(expression.names)) or "expr"
    if source == "object":
        return _object_getter(spec["object"], decimal), ",".join(spec["object"])
    return source_getter(spec["from"])


def _object_getter(members: Mapping[str, Any], decimal: str) -> Callable[[Record], Any]:
    """``object: {streetAddress: PATH, postalCode: {from: cp, cast: string}, addressCountry: {value: ES}}``:
    the members present; MISSING when none is."""
    getters = tuple((name, _member(name, spec, decimal)) for name, spec in members.items())

    def build_object(record: Record) -> Any:
        out = {}
        for name, get in getters:
            value = get(record)
            if value is not MISSING:
                out[name] = value
        return out or MISSING

    return build_object


def _member(name: str, spec: Any, decimal: str) -> Callable[[Record], Any]:
    """One member: a path (or a template, if it holds ``{``), a constant (a number, true, false, null)
    or ``{from | template | expr | value | object, ...value steps, default}``."""
    if isinstance(spec, str):
        spec = {"template": spec} if "{" in spec else {"from": spec}
    elif not isinstance(spec, Mapping):
        return lambda record: spec
    sources = [key for key in ("from", "template", "expr", "value", "object") if key in spec]
    if "from" in sources and "expr" in sources:
        sources.remove("from")
    if len(sources) != 1:
        raise ConfigError(f"member {name!r} needs exactly one of from, template, expr, value, object")
    if sources[0] == "value":
        constant = spec["value"]
        return lambda record: constant
    raw, field_name = _raw_getter(spec, sources[0], decimal)
    run = _chain(_steps(spec, decimal)[0])
    default = spec.get("default", MISSING)

    def member(record: Record) -> Any:
        value = raw(record)
        if value is MISSING or value is None or (type(value) is str and not value.strip()):
            return default
        if run is None:
            return value
        try:
            return run(value)
        except TransformError as error:
            raise _blame(error, name, field_name) from None

    return member


def _steps(spec: Mapping[str, Any], decimal: str) -> tuple[list[Step], str | None, bool]:
    """The value steps in order, the type of value they end with (for the lint), and whether
    they end in a known-valid value (a cast or a map: no per-record check needed)."""
    steps: list[Step] = []
    value_type: str | None = None
    if "map" in spec:
        steps.append(_enumeration(spec["map"]))
        value_type = _json_type_of(list(spec["map"].values()))
    numeric = any(key in spec for key in ("scale", "offset", "unit", "round", "range", "bins"))
    cast = spec.get("cast") or ("float" if numeric and value_type != "number" else None)
    if cast:
        steps.append(make_cast(cast, decimal=decimal, fmt=spec.get("format"), tz=spec.get("tz")))
        value_type = {"int": "integer", "float": "number", "bool": "boolean", "datetime": "dateTime"}.get(
            cast, "string"
        )
    factor, constant = linear_terms(spec)
    if (factor, constant) != (1.0, 0.0):
        if "round" in spec:
            steps.append(lambda value: value * factor + constant)
        else:
            steps.append(linear_step(factor, constant))
    if "round" in spec:
        digits = spec["round"]
        steps.append((lambda value: round(value)) if digits == 0 else (lambda value: round(value, digits)))
        if digits == 0:
            value_type = "integer"
    if "range" in spec:
        steps.append(_range(*spec["range"]))
    if "bins" in spec:
        step, labels = bins_step(spec["bins"])
        steps.append(step)
        value_type = _json_type_of(labels)
    return steps, value_type, bool(cast) or "map" in spec


def _enumeration(table: Mapping[Any, Any]) -> Step:
    lookup = {to_text(key): value for key, value in table.items()}
    fallback = lookup.pop("*", MISSING)
    known = ", ".join(repr(key) for key in lookup)

    def enumerate_value(raw: Any) -> Any:
        value = lookup.get(to_text(raw).strip(), fallback)
        if value is MISSING:
            raise TransformError(f"{raw!r} is not in the map ({known})")
        return value

    return enumerate_value


def _range(low: float | None, high: float | None) -> Step:
    low_bound = -math.inf if low is None else low
    high_bound = math.inf if high is None else high

    def in_range(value: Any) -> Any:
        if not low_bound <= value <= high_bound:
            raise TransformError(f"{value!r} is outside the valid range [{low}, {high}]")
        return value

    return in_range


def _json_type_of(values: list[Any]) -> str | None:
    """The one JSON type of ``values`` (items of lists count as values: NGSI-LD multi-values)."""
    flat = [item for value in values for item in (value if isinstance(value, list) else [value])]
    kinds = {
        "json"
        if isinstance(v, dict)
        else "boolean"
        if isinstance(v, bool)
        else "number"
        if isinstance(v, int | float)
        else "string"
        for v in flat
    }
    return kinds.pop() if len(kinds) == 1 else None


def _chain(steps: list[Step]) -> Step | None:
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]
    chain = tuple(steps)

    def run(value: Any) -> Any:
        for step in chain:
            value = step(value)
        return value

    return run


def _on_missing(name: str, spec: Mapping[str, Any], field_name: str) -> Callable[[], Any]:
    """What a missing value becomes: the default, a rejection, or MISSING (attribute left out)."""
    if "default" in spec:
        default = spec["default"]
        return lambda: default
    if spec.get("required"):

        def reject() -> Any:
            raise TransformError(f"attribute {name!r}: missing value", field=field_name)

        return reject
    return lambda: MISSING


def _extras(spec: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return (("unitCode", spec["unitCode"]),) if "unitCode" in spec else ()


def _dataset(spec: Mapping[str, Any]) -> Callable[[Record], Any] | None:
    if "datasetId" not in spec:
        return None
    template = compile_template(spec["datasetId"], uri=True)

    def dataset(record: Record) -> str:
        value = template(record)
        if value is MISSING:
            raise TransformError("datasetId: missing value", field=",".join(template.fields))
        return value

    return dataset


def _property(
    name: str, spec: Mapping[str, Any], source: str, *, decimal: str, observed_at: Any
) -> AttributeRule:
    unit_code = spec.get("unitCode")
    if source == "value":
        static = {"type": "Property", "value": spec["value"], **dict(_extras(spec))}
        static_type = _json_type_of([spec["value"]]) or "json"
        return AttributeRule(
            name, "Property", spec, static_type, None, unit_code, False, lambda r, o: dict(static), (static,)
        )
    raw, field_name = _raw_getter(spec, source, decimal)
    steps, value_type, valid = _steps(spec, decimal)
    if source == "template" and value_type is None:
        value_type = "string"
    run = _chain(steps)
    missing = _on_missing(name, spec, field_name)
    dataset = _dataset(spec)
    observe = observed_at
    # A cast or a map gives values known to be valid; a raw field or an expression may give anything.
    verify = not valid and source != "template"

    def build(record: Record, observed: str | None) -> dict[str, Any] | None:
        value = raw(record)
        if (
            value is MISSING or value is None or (type(value) is str and not value.strip())
        ):  # is_missing, inlined
            value = missing()
            if value is MISSING:
                return None
        elif run is not None:
            try:
                value = run(value)
            except TransformError as error:
                raise _blame(error, name, field_name) from None
        attribute: dict[str, Any] = {"type": "Property", "value": value}
        if unit_code is not None:
            attribute["unitCode"] = unit_code
        if observe is True:
            attribute["observedAt"] = observed
        elif observe is not None:
            attribute["observedAt"] = observe(record)
        if dataset is not None:
            attribute["datasetId"] = dataset(record)
        if verify and type(value) not in _PLAIN:
            return checked_value(name, attribute)
        return attribute

    values = list(spec["map"].values()) if "map" in spec else ["text"]
    values += [label for _, label in spec.get("bins", ())]
    samples = tuple(
        _property_sample(value, spec, observed_at)
        for value in [*values, *([spec["default"]] if "default" in spec else [])]
    )
    return AttributeRule(
        name, "Property", spec, value_type, spec.get("unit"), unit_code, _skips(spec), build, samples
    )


def _property_sample(value: Any, spec: Mapping[str, Any], observed_at: Any) -> dict[str, Any]:
    sample: dict[str, Any] = {"type": "Property", "value": value, **dict(_extras(spec))}
    if observed_at is not None:
        sample["observedAt"] = _SAMPLE_TIME
    if "datasetId" in spec:
        sample["datasetId"] = _SAMPLE_URI
    return sample


def _skips(spec: Mapping[str, Any]) -> bool:
    return spec.get("on_error") == "skip"


def _relationship(name: str, spec: Mapping[str, Any]) -> AttributeRule:
    target_spec = spec["relationship"]
    if isinstance(target_spec, Mapping):
        template = compile_uri_expression(target_spec["expr"])
    else:
        template = compile_template(target_spec, uri=True)
    missing = _on_missing(name, spec, ",".join(template.fields))
    dataset = _dataset(spec)

    render = template.render

    def build(record: Record, observed: str | None) -> dict[str, Any] | None:
        target = render(record)
        if target is MISSING:
            target = missing()
            if target is MISSING:
                return None
        attribute: dict[str, Any] = {"type": "Relationship", "object": target}
        if dataset is not None:
            attribute["datasetId"] = dataset(record)
        return attribute

    sample = {"type": "Relationship", "object": spec.get("default", _SAMPLE_URI)}
    return AttributeRule(name, "Relationship", spec, "uri", None, None, _skips(spec), build, (sample,))


def _geo(name: str, spec: Mapping[str, Any], *, decimal: str, observed_at: Any) -> AttributeRule:
    if spec["geo"] == "point":
        if "lon" not in spec or "lat" not in spec:
            raise ConfigError("geo: point needs 'lon' and 'lat' paths")
        get_lon, get_lat = compile_path(spec["lon"]), compile_path(spec["lat"])
        number = float_cast(decimal)
        field_name = f"{spec['lon']},{spec['lat']}"

        def point(record: Record) -> Any:
            lon, lat = get_lon(record), get_lat(record)
            if is_missing(lon) or is_missing(lat):
                return MISSING
            lon, lat = number(lon), number(lat)
            if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                raise TransformError(f"coordinates ({lon}, {lat}) are outside WGS84 bounds")
            return {"type": "Point", "coordinates": [lon, lat]}

        value_of = point
    else:
        if "from" not in spec:
            raise ConfigError("geo: geojson needs 'from' (the path of a GeoJSON geometry)")
        get, field_name = source_getter(spec["from"])

        def geometry(record: Record) -> Any:
            value = get(record)
            if isinstance(value, str) and value.strip():
                try:
                    value = orjson.loads(value)
                except orjson.JSONDecodeError as error:
                    raise TransformError(f"not a GeoJSON geometry: {error}") from None
            if is_missing(value):
                return MISSING
            if not isinstance(value, dict) or "type" not in value or "coordinates" not in value:
                raise TransformError("not a GeoJSON geometry (needs 'type' and 'coordinates')")
            return value

        value_of = geometry
    missing = _on_missing(name, spec, field_name)
    verify = spec["geo"] == "geojson"

    def build(record: Record, observed: str | None) -> dict[str, Any] | None:
        try:
            value = value_of(record)
        except TransformError as error:
            raise _blame(error, name, field_name) from None
        if value is MISSING:
            value = missing()
            if value is MISSING:
                return None
        attribute: dict[str, Any] = {"type": "GeoProperty", "value": value}
        if observed_at is not None:
            attribute["observedAt"] = observed if observed_at is True else observed_at(record)
        if verify and (problems := validate_attribute(name, attribute)):
            raise InvalidEntityError(problems)
        return attribute

    origin = {"type": "Point", "coordinates": [0.0, 0.0]}
    sample = {"type": "GeoProperty", "value": spec.get("default", origin)}
    return AttributeRule(name, "GeoProperty", spec, "geo", None, None, _skips(spec), build, (sample,))


def _language(name: str, spec: Mapping[str, Any]) -> AttributeRule:
    templates = tuple((language, compile_template(text)) for language, text in spec["language"].items())
    missing = _on_missing(name, spec, name)

    def build(record: Record, observed: str | None) -> dict[str, Any] | None:
        texts = {
            language: text for language, template in templates if (text := template(record)) is not MISSING
        }
        if not texts:
            value = missing()
            if value is MISSING:
                return None
            texts = value
        return {"type": "LanguageProperty", "languageMap": texts}

    sample = {
        "type": "LanguageProperty",
        "languageMap": spec.get("default") or dict.fromkeys(spec["language"], "text"),
    }
    return AttributeRule(name, "LanguageProperty", spec, "string", None, None, _skips(spec), build, (sample,))
