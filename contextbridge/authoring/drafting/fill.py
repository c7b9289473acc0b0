"""Propose ``bins:`` from a count to the fill states of a type's status: a proposal to review.

    >>> propose_fill_bins(fields, ontology.attributes("BikeHireDockingStation"), enumerations, ...)
    FillBins(attribute=status, field=item.num_bikes_available,
             bins=[[0, ['empty']], [2, ['almostEmpty']], [None, ['working']]], reason='...')

Some types' states say how full a site is (BikeHireDockingStation: ``empty``, ``almostEmpty``,
``full``, ``almostFull`` beside ``working``; OffStreetParking: ``full``, ``almostFull`` beside
``spacesAvailable``), and feeds rarely send such a state: they send counts. When a text attribute
of the type that no field feeds has fill states in its enumeration, and a field is a count (whole
numbers, none negative) whose name says what is *left to take* (``num_bikes_available``: 0 is
``empty``) or *room left* (``free_spaces``, ``plazas_libres``, ``num_docks_available``: 0 is
``full``), the draft bins the count: 0 → the empty (or full) state, a low band → the *almost* one,
above it the type's neutral state (``working``, ``spacesAvailable``, ...).

The low band (up to 10 % of the largest count in the sample, at least 2) is a policy no sample
can show: the comment says so. A count of things left is preferred to a count of room left (the
states speak of what the site holds). The labels are one-state lists when the enumeration mixes
fill states with states of operation (``working``, ``outOfService``): several hold at once, and
Smart Data Models write these statuses as lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...entities.ontology import OntologyProperty
from .profile import FieldProfile
from .vocabulary import fold, tokens

# Words of a count of what is left (bikes available, items remaining; with a word of room, room left).
LEFT_WORDS = frozenset(
    {
        "available",
        "availability",
        "disponible",
        "disponibles",
        "remaining",
        "left",
        "quedan",
        "count",
        "stock",
    }
)
# Words that say the room is free (free spaces, plazas libres, vacant places): room left.
FREE_WORDS = frozenset(
    {
        "free",
        "libre",
        "libres",
        "vacant",
        "vacante",
        "vacantes",
        "empty",
        "vacio",
        "vacios",
        "hueco",
        "huecos",
    }
)
# Words of room (available docks, available spots): with a word of what is left, room left.
ROOM_NOUNS = frozenset(
    {
        "space",
        "spaces",
        "spot",
        "spots",
        "slot",
        "slots",
        "dock",
        "docks",
        "place",
        "places",
        "plaza",
        "plazas",
    }
)
# Words of a count that is not what is left: out of use, taken, or a bound.
NOT_LEFT = frozenset(
    {
        "disabled",
        "broken",
        "out",
        "service",
        "reserved",
        "occupied",
        "ocupadas",
        "ocupados",
        "capacity",
        "capacidad",
        "max",
        "maximum",
        "min",
        "minimum",
        "average",
        "avg",
    }
)
# The state of a site neither empty nor full, most likely first.
NEUTRAL = ("working", "ok", "spacesAvailable", "available", "open", "free", "normal", "operational")
# States of operation: an enumeration with these and fill states describes several states at once.
OPERATION = frozenset({"working", "outofservice", "withincidence", "open", "closed", "ok"})
LOW_SHARE = 0.1
LOW_AT_LEAST = 2


@dataclass(frozen=True)
class FillBins:
    """``attribute: {from: field, bins: ...}``: a count binned to fill states, and why."""

    attribute: OntologyProperty
    field: FieldProfile
    bins: list[list[Any]]
    reason: str


def _state(allowed: Mapping[str, str], *names: str) -> str | None:
    return next((allowed[fold(n)] for n in names if fold(n) in allowed), None)


def _sense(field: FieldProfile) -> str | None:
    """``left`` (0: empty) or ``room`` (0: full) for a count of what is left, else None."""
    if field.kind != "number" or field.in_list or not field.integral or field.low is None or field.low < 0:
        return None
    said = set(tokens(field.name))
    if said & NOT_LEFT:
        return None
    if said & FREE_WORDS:
        return "room"
    if said & LEFT_WORDS:
        return "room" if said & ROOM_NOUNS else "left"
    return None  # a total (totalSlotNumber) or a count of nothing said to be left


def propose_fill_bins(
    fields: list[FieldProfile],
    attributes: Mapping[str, OntologyProperty],
    enumerations: Mapping[str, frozenset[str]],
    *,
    taken: set[str],
    skip: frozenset[str],
) -> FillBins | None:
    """Bins from a count field to the fill states of a status-like attribute no field feeds.

    ``taken``: attributes already filled; ``skip``: fields with another role (id, time, position)."""
    for name in sorted(attributes, key=lambda n: ("status" not in tokens(n) and "state" not in tokens(n), n)):
        prop = attributes[name]
        allowed = {fold(v): v for v in enumerations.get(name, frozenset())}
        if name in taken or prop.kind != "Property" or prop.range != "string" or not allowed:
            continue
        neutral = _state(allowed, *NEUTRAL)
        if neutral is None:
            continue
        senses = {
            "left": (_state(allowed, "empty"), _state(allowed, "almostEmpty")),
            "room": (_state(allowed, "full"), _state(allowed, "almostFull")),
        }
        counts = [(s, f) for f in fields if f.path not in skip for s in (_sense(f),) if s and senses[s][0]]
        if not counts:
            continue
        counts.sort(key=lambda c: c[0] != "left")  # what is left before room left; stable: field order
        sense, field = counts[0]
        zero, almost = senses[sense]
        assert zero is not None and field.high is not None
        listed = bool(set(allowed) & OPERATION)
        label = (lambda v: [v]) if listed else (lambda v: v)
        low = max(LOW_AT_LEAST, round(LOW_SHARE * field.high))
        bins: list[list[Any]] = [[0, label(zero)]]
        bins += [[low, label(almost)]] if almost else []
        bins.append([None, label(neutral)])
        what = "things left" if sense == "left" else "room left"
        said = "/".join(sorted(set(tokens(field.name)) & (LEFT_WORDS | FREE_WORDS | ROOM_NOUNS)))
        reason = (
            f"{field.path} counts {what} ('{said}', whole numbers {field.low:g}..{field.high:g}) and "
            f"{name} lists {zero}{'/' + almost if almost else ''}: 0 -> {zero}"
            + (
                f", up to {low} -> {almost} (10 % of the largest count, at least {LOW_AT_LEAST})"
                if almost
                else ""
            )
            + f", else {neutral}; the thresholds are a proposal (a policy no sample shows): review them"
            + ("; one-state lists: the enumeration mixes fill and operation states" if listed else "")
        )
        others = [f.path for s, f in counts[1:]]
        if others:
            reason += f"; other counts: {', '.join(others[:3])}"
        return FillBins(prop, field, bins, reason)
    return None
