"""Match a sample's fields to the attributes of one entity type, with a score and the reason.

    >>> score_field(profile("hum_pct"), ontology.attribute("WeatherObserved", "relativeHumidity"))
    Score(value=0.8, reason="'hum' ~ relativeHumidity (name 'humidity')")

The score of a field against an attribute (0 to 1) is read off the words alone:

- *name*: 1 when the field's name, without punctuation, is the attribute's (``PM2,5`` = ``pm25``;
  a one-letter name only reaches the threshold);
- else ``0.6 × field coverage + 0.4 × attribute coverage``: the share of the field's words (or
  their synonyms) found in the attribute's name or label (a word found only in its comment counts
  half), and the share of the attribute's name words found among them;
- then the values weigh in: a text field cannot feed a number; a field that is no URL gets half
  the score of an attribute that wants one; a field inside a list of objects 0.8 of it; a number feeds a text attribute
  only when it looks like a code (few distinct integers); a unit the field states that cannot be
  converted to the attribute's halves the score; text values none of which is in the attribute's
  enumeration (``Enum:'on, off'`` in its comment) take 0.6 of it, and each value found adds.

Fields are then assigned greedily, best score first, each attribute and each field once.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from ...entities.constraints import constraints_for
from ...entities.ontology import Ontology, OntologyProperty
from ...language.units import convertible
from .profile import FieldProfile
from .roles import Roles
from .values import named_state, translate
from .vocabulary import UNIT_WORDS, fold, synonyms, tokens, words

THRESHOLD = 0.7
_ENUM = re.compile(r"Enum:\s*'([^']*)'")
_TIME_OF_OBSERVATION = frozenset({"observed", "observation", "reported"})
_GENERIC_TIME = frozenset({"date", "time", "datetime", "timestamp", "last", "hour", "instant", "ts", "t"})
# Words that make an attribute another quantity than the one its other words name: a reading is
# not a forecast of itself (``airTemperatureForecast`` for "Air Temperature"), unless it says so.
QUALIFIERS = frozenset({"forecast", "predicted", "prediction", "expected"})


@dataclass(frozen=True)
class Score:
    value: float
    reason: str


@dataclass(frozen=True)
class Match:
    """A field proposed for an attribute (``field`` None: filled by the observation time)."""

    attribute: OntologyProperty
    field: FieldProfile
    score: Score


@functools.lru_cache(maxsize=4096)  # bounded: the service drafts payloads of any field names
def compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


def enumeration(prop: OntologyProperty) -> frozenset[str]:
    """The values an attribute's comment lists (``Enum:'a, b'``)."""
    found = _ENUM.search(prop.comment)
    return frozenset(v.strip() for v in found.group(1).split(",") if v.strip()) if found else frozenset()


@functools.lru_cache(maxsize=256)
def type_enumerations(ontology: Ontology, type_name: str) -> Mapping[str, frozenset[str]]:
    """The values each attribute of ``type_name`` may take: the type's own Smart Data Models
    enumeration (its ``sdm-enum`` shape: ParkingSpot's ``status`` is free, occupied, ...) where
    there is one, else the one the attribute's comment lists (which a core term such as
    ``status``, shared by every type, writes for one type only)."""
    own = {
        c.attribute: c.allowed
        for c in constraints_for(ontology).of(type_name)
        if c.allowed is not None and c.member == "value" and c.rule == "sdm-enum"
    }
    found = {}
    for name, prop in ontology.attributes(type_name).items():
        allowed = own.get(name) or enumeration(prop)
        if allowed:
            found[name] = allowed
    return found


def own_enumerations(ontology: Ontology, type_name: str) -> frozenset[str]:
    """The attributes of ``type_name`` whose enumeration is the type's own (an ``sdm-enum`` shape)."""
    return frozenset(
        c.attribute
        for c in constraints_for(ontology).of(type_name)
        if c.allowed is not None and c.member == "value" and c.rule == "sdm-enum"
    )


def content_words(field: FieldProfile) -> tuple[str, ...]:
    """The words of a field's name that say what it is (a trailing unit word says its unit)."""
    found = field.tokens
    return found[:-1] if len(found) > 1 and found[-1] in UNIT_WORDS else found


def compatible(field: FieldProfile, prop: OntologyProperty) -> float:
    """How well the field's values fit the attribute's datatype: 0 (never) to 1."""
    if prop.kind != "Property" or prop.range in ("json", ""):
        return 0.0
    if prop.range in ("dateTime", "date"):
        return 1.0 if field.kind == "time" else 0.0
    if field.kind == "time":
        return 0.0
    if prop.range in ("double", "integer"):
        return 1.0 if field.kind == "number" else 0.0
    if prop.range == "boolean":
        return 1.0 if field.kind == "bool" else 0.0
    if field.kind == "number":
        return 1.0 if field.integral and field.distinct <= 10 else 0.3
    return 1.0


@dataclass(frozen=True)
class _AttributeWords:
    name: str  # compact: letters and digits
    own: frozenset[str]  # of the name
    strong: frozenset[str]  # of the name and the label
    comment: frozenset[str]
    wants_url: bool
    allowed: frozenset[str]  # its enumeration
    head: str  # the last word of its name: what it is (a humidity), the others say which


@functools.lru_cache(maxsize=4096)
def _attribute_words(prop: OntologyProperty) -> _AttributeWords:
    # read once per attribute: drafting scores every field against every attribute of every type
    name, own, comment = compact(prop.name), frozenset(tokens(prop.name)), words(prop.comment)
    wants_url = prop.range == "anyURI" or "url" in comment
    head = tokens(prop.name)[-1] if tokens(prop.name) else name
    strong = own | words(prop.label) | {name}
    return _AttributeWords(name, own, strong, comment, wants_url, enumeration(prop), head)


@functools.lru_cache(maxsize=4096)
def _groups(own: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    return tuple(synonyms(w) for w in own)


def score_field(
    field: FieldProfile,
    prop: OntologyProperty,
    *,
    shared_heads: frozenset[str] = frozenset(),
    allowed: frozenset[str] | None = None,
) -> Score:
    """``shared_heads``: head words several attributes of the type end in (firmwareVersion,
    hardwareVersion): a field naming only the head cannot say which. ``allowed``: the attribute's
    enumeration for the type (default: the one its comment lists)."""
    fit = compatible(field, prop)
    if fit == 0.0:
        return Score(0.0, "")
    own = content_words(field)
    attr = _attribute_words(prop)
    shown = "'" + "_".join(own) + "'"
    if compact("".join(own)) == attr.name:
        if field.kind == "number" and field.text and prop.range not in ("double", "integer"):
            fit = 1.0  # numbers written as text under the attribute's own name: a version "1.1"
        # one letter alone (b, t, v) names too little to be sure, even when it is the attribute's
        value = 1.0 if len(attr.name) > 1 else THRESHOLD
        why = f"{shown} = {prop.name} (same name)"
    else:
        groups = _groups(own)
        if field.coded:
            # a "name" written as a code (SDR-01, A12) is a code
            groups = tuple(g | {"code"} if g & {"name", "nombre"} else g for g in groups)
        hits = [1.0 if g & attr.strong else 0.5 if g & attr.comment else 0.0 for g in groups]
        if not groups or not any(hits):
            return Score(0.0, "")
        every = frozenset().union(*groups)
        field_cover = sum(hits) / len(groups)
        attr_cover = 1.0 if attr.name in every else len(attr.own & every) / max(1, len(attr.own))
        if (
            attr.head in every
            and field_cover >= 0.75
            and len(attr.own) <= 2
            and attr.head not in shared_heads
        ):
            # the attribute's head word (humidity of relativeHumidity) is what the field names
            attr_cover = max(attr_cover, 0.75)
        value = 0.6 * field_cover + 0.4 * attr_cover
        found = sorted(every & attr.strong) or sorted(every & attr.comment)
        where = "name" if every & (attr.own | {attr.name}) else "label" if every & attr.strong else "comment"
        why = f"{shown} ~ {prop.name} ({where} {' '.join(found)!r})"
    value *= fit
    qualifiers = (attr.own & QUALIFIERS) - frozenset().union(*_groups(own))
    if qualifiers:
        value *= 0.75
        why += f"; the field does not say {'/'.join(sorted(qualifiers))}"
    if field.in_list:
        value *= 0.8  # a field inside a list of objects (gateways, readings) is rarely the entity's
    if attr.wants_url and not field.url:
        value *= 0.5
        why += "; it wants a URL"
    if field.unit and prop.unit and not convertible(field.unit[0], prop.unit):
        value *= 0.5
        why += f"; unit {field.unit[0]} is not {prop.unit}"
    allowed = attr.allowed if allowed is None else allowed
    texts = {v for v in field.values if isinstance(v, str)} if field.kind == "text" else set()
    if allowed and texts:
        placed = sum(translate(v, allowed)[0] is not None for v in texts)
        value = value * 0.6 + 0.4 * placed / len(texts)
        why += f"; {placed} of its {len(texts)} values name a value of the enumeration"
    elif allowed and field.kind in ("number", "bool") and field.distinct <= 10:
        state = named_state(field)
        if state is not None:
            # codes of a field named for a state feed an attribute that has that state
            inside = bool({fold(v) for v in allowed} & set(state))
            value = value * 0.6 + 0.4 * inside
            why += f"; the enumeration {'has' if inside else 'lacks'} {'/'.join(state)}"
    return Score(round(value, 3), why)


def shared_heads(ontology: Ontology, type_name: str) -> frozenset[str]:
    """The head words (last name words) two or more attributes of the type end in."""
    heads = Counter(_attribute_words(p).head for p in ontology.attributes(type_name).values())
    return frozenset(head for head, count in heads.items() if count > 1)


def match_fields(fields: list[FieldProfile], type_name: str, ontology: Ontology, roles: Roles) -> list[Match]:
    """The proposed (field, attribute) pairs of ``type_name``, best first; deterministic."""
    attributes = ontology.attributes(type_name)
    shared = shared_heads(ontology, type_name)
    values = type_enumerations(ontology, type_name)
    taken_fields = set(roles.used())
    matches: list[Match] = []
    if roles.time is not None:
        said = frozenset().union(*_groups(roles.time.field.tokens)) - _GENERIC_TIME
        for prop in attributes.values():
            if prop.range != "dateTime":
                continue
            if set(tokens(prop.name)) & _TIME_OF_OBSERVATION:
                why = f"the observation time fills {prop.name} (name says {'/'.join(sorted(set(tokens(prop.name)) & _TIME_OF_OBSERVATION))})"
                matches.append(Match(prop, roles.time.field, Score(1.0, why)))
            elif set(tokens(prop.name)) & said:
                # last_updated is the observation time and also says when the thing was modified
                word = "/".join(sorted(set(tokens(prop.name)) & said))
                why = f"the observation time {roles.time.field.path} also fills {prop.name} (its name says {word})"
                matches.append(Match(prop, roles.time.field, Score(0.9, why)))
    taken_attributes = {m.attribute.name for m in matches} | {"location"}
    candidates = sorted(
        (
            (score, index, prop.name, field, prop)
            for index, field in enumerate(fields)
            if field.path not in taken_fields
            for prop in attributes.values()
            for score in (
                score_field(field, prop, shared_heads=shared, allowed=values.get(prop.name, frozenset())),
            )
            if score.value >= THRESHOLD
        ),
        key=lambda c: (-c[0].value, c[1], c[2]),
    )
    for score, _, _, field, prop in candidates:
        if prop.name in taken_attributes or field.path in taken_fields:
            continue
        taken_attributes.add(prop.name)
        taken_fields.add(field.path)
        matches.append(Match(prop, field, score))
    return matches


def closest(
    field: FieldProfile, type_name: str, ontology: Ontology, *, count: int = 3
) -> list[tuple[str, Score]]:
    """The attributes nearest to a field that was not matched (for the draft's comments)."""
    shared = shared_heads(ontology, type_name)
    values = type_enumerations(ontology, type_name)
    attributes = ontology.attributes(type_name).values()
    scored = [
        (prop.name, score_field(field, prop, shared_heads=shared, allowed=values.get(prop.name, frozenset())))
        for prop in attributes
    ]
    scored = [item for item in scored if item[1].value > 0]
    return sorted(scored, key=lambda item: (-item[1].value, item[0]))[:count]


def name_from_id(
    matches: list[Match], roles: Roles, attributes: Mapping[str, OntologyProperty]
) -> list[Match]:
    """``name`` from the id field, when the type has a text ``name`` that no field fed and the ids
    are words (``cold-store-01``), not bare numbers: the only name the sample gives."""
    prop = attributes.get("name")
    if (
        prop is None
        or prop.range != "string"
        or roles.id is None
        or any(m.attribute.name == "name" for m in matches)
    ):
        return []
    field = roles.id.field
    if field.kind != "text" or not all(re.search(r"[A-Za-z]{2}", str(v)) for v in field.values):
        return []
    why = (
        f"no field names the thing: its id {field.path} ({field.values[0]}) is the only name the sample gives"
    )
    return [Match(prop, field, Score(THRESHOLD, why))]
