"""One entity per reading of an object of readings: ``each:`` over the object's keys.

    >>> found = find_entries(records, ontology.attributes("DeviceMeasurement"), ontology)
    >>> found.path, [(e.key, e.quantity, e.unit) for e in found.entries]
    ('uplink_message.decoded_payload', [('TempC1', 'temperature', 'CEL'), ('Hum_SHT', 'relativeHumidity', 'P1')])

A type made for one reading per entity (a numeric attribute whose name says *value*, a text
attribute whose name says *measurement type*, often a *unit*: DeviceMeasurement) cannot be fed
field by field: the readings are the keys of an object (a LoRaWAN decoder's
``{"TempC1": -18.25, "Hum_SHT": 48.7, "BatV": 3.59}``), each decoder naming them its own way.
The object is the one whose numeric keys name most quantities of the ontology (a numeric
attribute with a unit, of any type: ``temperature``, ``relativeHumidity``), each key read by its
words (``Temp`` → temperature; ``C`` → degrees Celsius, a digit suffix is a probe number, a
trailing word a sensor model). The draft then runs ``each:`` over that object for the keys that
name a quantity (``when: key in [...]``), with the value, the quantity and the unit per key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...entities.ontology import Ontology, OntologyProperty
from ...language.units import convertible, unit_name
from .match import THRESHOLD, score_field
from .profile import FieldProfile, profile_records
from .rank import entity_types
from .vocabulary import PLAUSIBLE, UNIT_WORDS, tokens

MAX_DEPTH = 6


@dataclass(frozen=True)
class Entry:
    """A key of the object of readings and the quantity it names."""

    key: str
    quantity: str  # the ontology's attribute name (temperature)
    unit: str | None  # the common code of its values (CEL)
    reason: str


@dataclass(frozen=True)
class Entries:
    """The object of readings of the records and the type's attributes one reading fills."""

    path: str
    entries: list[Entry]
    value: OntologyProperty  # numValue
    kind: OntologyProperty  # measurementType
    unit: OntologyProperty | None  # unit
    reason: str


def reading_attributes(
    attributes: Mapping[str, OntologyProperty],
) -> tuple[OntologyProperty, OntologyProperty, OntologyProperty | None] | None:
    """The value, measurement-type and unit attributes of a one-reading type, or None."""
    props = sorted(attributes.values(), key=lambda p: p.name)
    texts = [p for p in props if p.kind == "Property" and p.range == "string"]
    value = next(
        (
            p
            for p in props
            if p.kind == "Property" and p.range in ("double", "integer") and "value" in tokens(p.name)
        ),
        None,
    )
    kind = next((p for p in texts if {"measurement", "type"} <= set(tokens(p.name))), None)
    unit = next((p for p in texts if tokens(p.name) == ("unit",)), None)
    if value is None or kind is None:
        return None
    return value, kind, unit


@functools.lru_cache(maxsize=16)
def _quantities(ontology: Ontology) -> tuple[OntologyProperty, ...]:
    """The numeric attributes with a unit, one per name: the physical quantities readings are of."""
    found: dict[str, OntologyProperty] = {}
    for type_name in entity_types(ontology):
        for name, prop in ontology.attributes(type_name).items():
            if prop.kind == "Property" and prop.range in ("double", "integer") and prop.unit:
                found.setdefault(name, prop)
    return tuple(found[name] for name in sorted(found))


def key_words(key: str) -> tuple[tuple[str, ...], str | None]:
    """A reading's key as content words and the unit one of its words says: ``TempC1`` →
    ((temp,), CEL); a digit suffix numbers probes, it names nothing."""
    words: list[str] = []
    unit: str | None = None
    for word in tokens(key):
        word = re.sub(r"(?<=[a-z])\d+$", "", word)
        if word in UNIT_WORDS and (words or unit is None) and len(tokens(key)) > 1:
            unit = unit or UNIT_WORDS[word]
            continue
        if word and not word.isdigit():
            words.append(word)
    return tuple(words), unit


def quantity_of(key: str, values: list[Any], ontology: Ontology, *, by_word: bool = True) -> Entry | None:
    """The quantity a key names: by all its words, or (``by_word``, for the keys of an object of
    readings) by one of them, a sensor model's name being noise there."""
    words, unit = key_words(key)
    if not words:
        return None
    best: tuple[float, str, OntologyProperty, str] | None = None
    for candidate in dict.fromkeys(("_".join(words), *(words if by_word else ()))):
        (field,) = profile_records([{candidate: v} for v in values])
        for prop in _quantities(ontology):
            score = score_field(field, prop)
            if score.value >= THRESHOLD and (best is None or (-score.value, prop.name) < (-best[0], best[1])):
                best = (score.value, prop.name, prop, score.reason)
    if best is None:
        return None
    _, name, prop, why = best
    assert prop.unit is not None
    if unit is not None and not convertible(unit, prop.unit):
        return None  # BatV: a battery in volts is no battery level
    numbers = sorted(float(v) for v in values)
    middle = numbers[len(numbers) // 2]
    reason = f"{key}: {why.split(' (', 1)[0].replace(repr('_'.join(words)), repr(key))}"
    if unit is None:
        unit = prop.unit
        low, high = PLAUSIBLE.get(unit, (float("-inf"), float("inf")))
        if not low <= middle <= high:
            other = next(
                (
                    c
                    for c, (a, b) in PLAUSIBLE.items()
                    if c != unit and convertible(c, unit) and a <= middle <= b
                ),
                None,
            )
            if other is not None:
                unit = other
                reason += f", median {middle:g} in {unit_name(other)}"
    else:
        reason += f", {unit_name(unit)} by its name"
    return Entry(key, name, unit, reason)


def _objects(node: Any, path: str, depth: int) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return found
    if path:
        found.append((path, node))
    for key, value in node.items():
        if isinstance(value, dict) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            found += _objects(value, f"{path}.{key}" if path else key, depth + 1)
    return found


def find_entries(
    records: list[dict[str, Any]], attributes: Mapping[str, OntologyProperty], ontology: Ontology
) -> Entries | None:
    """The object of readings to run ``each:`` over, for a one-reading type; None otherwise."""
    wanted = reading_attributes(attributes)
    if wanted is None:
        return None
    readings: dict[str, dict[str, list[Any]]] = {}
    for record in records:
        for path, node in _objects(record, "", 0):
            for key, value in node.items():
                if isinstance(value, int | float) and not isinstance(value, bool) and isinstance(key, str):
                    readings.setdefault(path, {}).setdefault(key, []).append(value)
    best: tuple[int, str, list[Entry]] | None = None
    for path, keys in sorted(readings.items()):
        entries = [e for key, values in keys.items() for e in (quantity_of(key, values, ontology),) if e]
        if len(entries) >= 2 and (best is None or len(entries) > best[0]):
            best = (len(entries), path, entries)
    if best is None:
        return None
    count, path, entries = best
    value, kind, unit = wanted
    named = len(readings[path])
    reason = (
        f"{value.name}, {kind.name}: one reading per entity; {count} of the {named} numeric keys of "
        f"{path} name a quantity of the ontology"
    )
    return Entries(path, entries, value, kind, unit, reason)


def readings_of(fields: list[FieldProfile], skip: frozenset[str], ontology: Ontology) -> list[str]:
    """The quantities the records' numeric fields name (``temp_c`` → temperature), in order."""
    found: list[str] = []
    for field in fields:
        if field.kind != "number" or field.median is None or field.path in skip:
            continue
        entry = quantity_of(field.name, [field.median], ontology, by_word=False)
        if entry is not None and entry.quantity not in found:
            found.append(entry.quantity)
    return found
