"""Write a draft mapping as YAML, each proposed line with a comment saying why.

    >>> print(write_mapping(plan))
    # Drafted by `contextbridge draft` from parking.json: review every line, then ...
    id: parking
    source: {format: json, records: "resources[*]"}  # ...; records resources[*]: the largest list ...
    entity:
      id: "urn:ngsi-ld:ParkingSpot:{ayto:idSensor}"  # id-like name (id, sensor); 26 distinct ...

Written by hand rather than through a YAML library: the comments are the point of a draft, and
PyYAML drops them. Every scalar that is not a plain word is written quoted (single quotes when it
holds double quotes, else as a JSON string), which YAML reads back as the same string.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...language.units import converter, convertible, unit_name
from .constants import Constant
from .entries import Entries
from .fill import FillBins
from .links import Link
from .match import Match, content_words
from .profile import FieldProfile
from .rank import Ranked
from .roles import Roles
from .sample import Sample
from .structures import Structure
from .values import propose_map
from .vocabulary import PLAUSIBLE

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_YAML_WORDS = frozenset(["true", "false", "yes", "no", "on", "off", "null", "y", "n"])
_COMMENT_COLUMN = 56
_UNMATCHED_SHOWN = 20


@dataclass(frozen=True)
class Plan:
    """Everything a draft says: the sample, the type and its ranking, the roles, the matches."""

    name: str
    sample: Sample
    type: str
    ranking: list[Ranked]
    roles: Roles
    matches: list[Match]
    unmatched: list[tuple[FieldProfile, list[tuple[str, Any]]]]
    tz: str
    placeholder: str = "name"  # the text attribute a draft with nothing matched carries
    # attribute -> the values it may take for this type
    enumerations: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    # attribute -> the other type whose states its enumeration lists (a shared core term)
    foreign: Mapping[str, str] = dataclasses.field(default_factory=dict)
    entries: Entries | None = None  # one entity per reading of an object of readings
    constants: list[Constant] = dataclasses.field(default_factory=list)  # proposed for review
    links: list[Link] = dataclasses.field(default_factory=list)  # Relationships from fields
    structures: list[Structure] = dataclasses.field(default_factory=list)  # objects from fields
    required: list[str] = dataclasses.field(default_factory=list)  # by the type, not in the draft
    bins: list[FillBins] = dataclasses.field(default_factory=list)  # counts binned to fill states


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return flow(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    if '"' in text and "'" not in text and text.isprintable():
        return f"'{text}'"  # potencia["#text"] reads better than "potencia[\"#text\"]"
    return json.dumps(text, ensure_ascii=False)


def flow(spec: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{scalar(key)}: {scalar(value)}" for key, value in spec.items()) + "}"


def line(indent: int, text: str, why: str = "") -> str:
    head = " " * indent + text
    return f"{head.ljust(_COMMENT_COLUMN)}  # {why}" if why else head


def time_spec(plan: Plan, fmt: str, zoned: bool) -> tuple[dict[str, Any], str]:
    spec: dict[str, Any] = {} if fmt == "iso8601" else {"format": fmt}
    if not zoned:
        spec["tz"] = plan.tz
        return spec, f"times without offset: local time in {plan.tz} (--tz)"
    return spec, ""


def number_spec(match: Match) -> tuple[dict[str, Any], list[str]]:
    """from, cast, unit conversion (scale, unit/unitCode, round), range: the numeric attribute."""
    field, prop = match.field, match.attribute
    spec: dict[str, Any] = {"from": field.path}
    why: list[str] = []
    source, source_why = field.unit or (None, "")
    target = prop.unit
    if target and source is None:
        source, source_why = _unit_by_range(field, target)
    span = f"values {field.low:g}..{field.high:g}" if field.low is not None and field.high is not None else ""
    converting = bool(target and source and source != target and convertible(source, target))
    if field.text:
        spec["cast"] = "int" if field.integral and not converting and prop.range != "double" else "float"
        why.append("text holding numbers -> cast")
    if converting and (source, target) == ("P1", "C62"):
        spec["scale"] = 0.01
        spec["round"] = field.decimals + 2
        spec["unitCode"] = "C62"
        spec["range"] = [0, 1]
        why.append(f"{span} ({source_why}) -> % -> scale 0.01 to the fraction {prop.name} wants")
    elif converting:
        assert source is not None and target is not None
        spec["unit"], spec["unitCode"] = source, target
        spec["round"] = field.decimals + max(0, -math.floor(math.log10(abs(_slope(source, target)))))
        why.append(f"{span} in {unit_name(source)} ({source_why}); the ontology wants {unit_name(target)}")
    elif target and source and source != target:
        why.append(
            f"the field is in {unit_name(source)} ({source_why}), {prop.name} in {unit_name(target)}: not convertible, check"
        )
    elif target or source:
        spec["unitCode"] = target or source
        why.append(f"{span} in {unit_name(target or source or '')}")
    if "cast" in spec or "range" in spec:
        spec["on_error"] = "skip"
    return spec, why


def _slope(source: str, target: str) -> float:
    convert = converter(source, target)
    return convert(1.0) - convert(0.0) or 1.0


def _unit_by_range(field: FieldProfile, target: str) -> tuple[str | None, str]:
    """The unit the values say when the field names none (a median of 61 for a fraction: percent).

    The median decides, not the range: faulty readings (0, -1, -9999) sit at the ends."""
    middle = field.median
    target_range = PLAUSIBLE.get(target)
    if middle is None or target_range is None or target_range[0] <= middle <= target_range[1]:
        return None, ""
    for code, (low, high) in PLAUSIBLE.items():
        if code != target and convertible(code, target) and low <= middle <= high:
            span = f"{target_range[0]:g}..{target_range[1]:g}"
            return code, f"median {middle:g} outside {span}, within {low:g}..{high:g}"
    return None, ""


def attribute_lines(plan: Plan, match: Match) -> list[str]:
    field, prop = match.field, match.attribute
    why = [match.score.reason]
    if prop.range in ("dateTime", "date"):
        assert field.time is not None
        if plan.roles.time and plan.roles.time.field is field and plan.roles.time.clock:
            clock = plan.roles.time.clock
            spec: dict[str, Any] = {"template": f"{{{field.path}}} {{{clock.path}}}", "cast": "datetime"}
            extra, zone = time_spec(plan, plan.roles.time.fmt, False)
        else:
            spec = {"from": field.path, "cast": "datetime"}
            extra, zone = time_spec(plan, field.time.format, field.time.zoned)
        spec.update(extra)
        why += [zone] if zone else []
    elif prop.range in ("double", "integer"):
        spec, more = number_spec(match)
        why += more
    else:
        spec = {"from": field.path}
        owner = plan.foreign.get(prop.name)
        proposed = propose_map(field, frozenset() if owner else plan.enumerations.get(prop.name, frozenset()))
        if owner:
            why.append(
                f"the ontology's enumeration of {prop.name} lists {owner}'s states, not {plan.type}'s: check the type's own"
            )
        if proposed is not None:
            spec["map"] = proposed.table
            spec["on_error"] = "skip"
            why.append(proposed.reason)
        elif not owner:
            why += _values_note(field, plan.enumerations.get(prop.name, frozenset()))
    return [line(4, f"{prop.name}: {flow(spec)}", "; ".join(w for w in why if w))]


def _values_note(field: FieldProfile, allowed: frozenset[str]) -> list[str]:
    values = sorted({str(v) for v in field.values})
    if not allowed or set(values) <= allowed:
        return []
    shown = ", ".join(values[:6]) + (", ..." if len(values) > 6 else "")
    return [f"values {shown}; the ontology lists {', '.join(sorted(allowed))}: add a map"]


def id_placeholder(field: FieldProfile) -> tuple[str, str]:
    """``{path}`` in an id template, ``{path|slug}`` when the values hold spaces or punctuation."""
    if any(not re.fullmatch(r"[A-Za-z0-9._-]+", str(v)) for v in field.values):
        return f"{{{field.path}|slug}}", "; |slug: values hold spaces or punctuation"
    return f"{{{field.path}}}", ""


def entries_head(entries: Entries) -> list[str]:
    keys = [e.key for e in entries.entries if "'" not in e.key and "\\" not in e.key]
    listed = ", ".join(f"'{k}'" for k in keys)
    return [
        line(2, f"each: {scalar(entries.path)}", entries.reason),
        line(
            2,
            f"when: {scalar(f'key in [{listed}]')}",
            "the keys that name a quantity; the others are no reading of one",
        ),
    ]


def entries_attributes(entries: Entries, roles: Roles) -> list[str]:
    out = [line(4, f"{entries.value.name}: {flow({'from': 'item', 'cast': 'float'})}", "the reading's value")]
    kinds = {e.key: e.quantity for e in entries.entries}
    why = "; ".join(e.reason for e in entries.entries[:6]) + ("; ..." if len(entries.entries) > 6 else "")
    out.append(
        line(4, f"{entries.kind.name}: {flow({'from': 'key', 'map': kinds, 'on_error': 'skip'})}", why)
    )
    units = {e.key: e.unit for e in entries.entries if e.unit}
    if entries.unit is not None and units:
        shown = ", ".join(f"{k} {unit_name(u)}" for k, u in list(units.items())[:6])
        out.append(
            line(
                4,
                f"{entries.unit.name}: {flow({'from': 'key', 'map': units, 'on_error': 'skip'})}",
                f"units by the keys' names or values: {shown}",
            )
        )
    if roles.id is not None:
        template = f"{{{roles.id.field.path}}} {{key}}"
        out.append(line(4, f"name: {flow({'template': template})}", "the thing's id and the reading's key"))
    return out


def write_mapping(plan: Plan) -> str:
    sample, roles = plan.sample, plan.roles
    out = [f"# Drafted by `contextbridge draft` from {plan.name or 'a sample'}: review every line, then"]
    out.append("# translate the sample, save the entities as a golden sample and run `contextbridge test`.")
    if plan.ranking:
        if plan.ranking[0].score <= 0:
            out.append(
                "# No type of the ontology fits this sample: pass --type (or add the type to the ontology)."
            )
        out.append(f"# Entity type {plan.type}, ranked first of the ontology's types for this sample:")
        for number, ranked in enumerate(plan.ranking[:3], 1):
            out.append(
                f"#   {number}. {ranked.type} (score {ranked.score:g}): {'; '.join(ranked.reasons[:3]) or 'no evidence'}"
            )
    out.append(f"id: {scalar(_mapping_id(plan.name, plan.type))}")
    source = {"format": sample.format, **sample.options}
    out.append(line(0, f"source: {flow(source)}", "; ".join(sample.reasons)))
    out.append("entity:")
    if sample.each:
        why = f"one entity per item of {sample.each}, read as item.*; the document's own fields stay readable"
        out.append(line(2, f"each: {scalar(sample.each)}", why))
    if plan.entries:
        out += entries_head(plan.entries)
    if roles.id is not None:
        placeholder, slug_why = id_placeholder(roles.id.field)
        if plan.entries:
            placeholder += "-{key|slug}"
            slug_why += "; -{key|slug}: one entity per reading"
        out.append(
            line(2, f"id: {scalar(f'urn:ngsi-ld:{plan.type}:{placeholder}')}", roles.id.reason + slug_why)
        )
    else:
        why = "no id-like field: every record gets this id; write the template by hand"
        out.append(
            line(2, f"id: {scalar(f'urn:ngsi-ld:{plan.type}:{_mapping_id(plan.name, plan.type)}')}", why)
        )
    out.append(line(2, f"type: {plan.type}", "--type" if not plan.ranking else "ranked first"))
    if roles.time is not None and roles.time.format.date:
        spec = (
            {"template": f"{{{roles.time.field.path}}} {{{roles.time.clock.path}}}"}
            if roles.time.clock
            else {"from": roles.time.field.path}
        )
        extra, zone = time_spec(plan, roles.time.fmt, roles.time.format.zoned)
        spec.update({"format": roles.time.fmt} | extra)
        out.append(line(2, f"observedAt: {flow(spec)}", "; ".join(w for w in (roles.time.reason, zone) if w)))
    out.append("  attributes:")
    proposed = plan.matches or plan.entries or plan.structures or plan.links or plan.constants or plan.bins
    if roles.point is None and not proposed:
        # a mapping's entity needs one attribute: a constant that says what to do
        why = (
            f"nothing in the sample matched an attribute of {plan.type}: a placeholder, see the fields below"
        )
        out.append(
            line(
                4, f"{plan.placeholder}: {flow({'value': 'drafted from ' + (plan.name or 'a sample')})}", why
            )
        )
    if roles.point is not None:
        spec = {"geo": "point", "lon": roles.point.lon.path, "lat": roles.point.lat.path}
        out.append(line(4, f"location: {flow(spec)}", roles.point.reason))
    if plan.entries:
        out += entries_attributes(plan.entries, roles)
    for match in plan.matches:
        out += attribute_lines(plan, match)
    for structure in plan.structures:
        out.append(line(4, f"{structure.attribute}: {flow({'object': structure.members})}", structure.reason))
    for link in plan.links:
        placeholder, slug_why = id_placeholder(link.field)
        spec = {"relationship": f"urn:ngsi-ld:{link.target}:{placeholder}"}
        out.append(line(4, f"{link.attribute.name}: {flow(spec)}", link.reason + slug_why))
    for fill in plan.bins:
        binned: dict[str, Any] = {"from": fill.field.path, **({"cast": "int"} if fill.field.text else {})}
        binned["bins"] = fill.bins
        out.append(line(4, f"{fill.attribute.name}: {flow(binned)}", fill.reason))
    for constant in plan.constants:
        out.append(line(4, f"{constant.name}: {flow({'value': constant.value})}", constant.reason))
    if plan.required:
        out.append(f"    # required by {plan.type} (Smart Data Models) and not in the sample: add them")
        out.append(f"    #   {'; '.join(plan.required)}")
    if plan.unmatched:
        out.append("    # not matched (closest attributes of the type, score 0..1):")
        for field, near in plan.unmatched[:_UNMATCHED_SHOWN]:
            shown = ", ".join(f"{name} {score.value:.2f}" for name, score in near) or "none"
            example = scalar(field.values[0]) if field.values else "empty"
            words = "_".join(content_words(field)) or field.name
            out.append(f"    #   {field.path} ({field.kind}, e.g. {example}; '{words}'): {shown}")
        if len(plan.unmatched) > _UNMATCHED_SHOWN:
            out.append(f"    #   ... and {len(plan.unmatched) - _UNMATCHED_SHOWN} more fields")
    return "\n".join(out) + "\n"


def _mapping_id(name: str, type_name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip("-.")
    return stem if stem and stem[0].isalnum() else type_name
