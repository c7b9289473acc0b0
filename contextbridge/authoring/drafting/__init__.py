"""Draft a mapping from a sample payload: the integrator starts from a proposal, not a blank file.

    >>> draft = draft_mapping(open("traffic.json", "rb").read(), name="traffic.json")
    >>> draft.type, [r.type for r in draft.ranking[:3]]
    ('TrafficFlowObserved', ['TrafficFlowObserved', 'OffStreetParking', 'Vehicle'])
    >>> print(draft.text)  # YAML, each proposed line with a comment saying why

Deterministic and offline: the sample's fields are profiled (:mod:`.profile`), the id, time and
position fields found (:mod:`.roles`), the ontology's types ranked (:mod:`.rank`), the fields
matched to the type's attributes by their words (:mod:`.match`, :mod:`.vocabulary`), their raw
values mapped to the enumerations (:mod:`.values`), an object of readings read one entity per key
(:mod:`.entries`), relationships (:mod:`.links`), a postal address (:mod:`.structures`), bins
from a count to fill states (:mod:`.fill`) and reviewed constants (:mod:`.constants`) proposed
on evidence, and the mapping written with its reasons (:mod:`.write`). No model, no network.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ...entities.constraints import constraints_for
from ...entities.ontology import Ontology, default_ontology
from ...errors import ConfigError
from ...language.times import compile_time_parser
from .constants import Constant, propose_constants
from .entries import Entries, find_entries, readings_of
from .fill import FillBins, propose_fill_bins
from .links import Link, propose_links
from .match import (
    Match,
    closest,
    enumeration,
    match_fields,
    name_from_id,
    own_enumerations,
    type_enumerations,
)
from .profile import FieldProfile, profile_records
from .rank import Ranked, entity_types, rank_types
from .roles import Roles, find_roles
from .sample import Sample, read_sample
from .structures import Structure, propose_address
from .values import enumeration_owner
from .vocabulary import tokens
from .write import Plan, write_mapping

__all__ = ["Draft", "draft_mapping"]


@dataclass(frozen=True)
class Draft:
    """A drafted mapping: its YAML text, the type it is for, and the evidence behind it."""

    text: str
    type: str
    ranking: list[Ranked]
    sample: Sample
    fields: list[FieldProfile]
    roles: Roles
    matches: list[Match]
    entries: Entries | None = None
    constants: list[Constant] = dataclasses.field(default_factory=list)
    links: list[Link] = dataclasses.field(default_factory=list)
    structures: list[Structure] = dataclasses.field(default_factory=list)
    bins: list[FillBins] = dataclasses.field(default_factory=list)

    @property
    def proposed(self) -> int:
        """How many attributes the draft proposes: fields matched, readings, objects, links, bins, constants."""
        readings = 0
        if self.entries is not None:
            readings = 2 + (self.entries.unit is not None) + (self.roles.id is not None)
        point = self.roles.point is not None
        return (
            len(self.matches)
            + readings
            + len(self.structures)
            + len(self.links)
            + len(self.bins)
            + len(self.constants)
            + point
        )


def draft_mapping(
    payload: bytes,
    *,
    name: str = "",
    type_name: str | None = None,
    format: str | None = None,
    tz: str = "UTC",
    ontology: Ontology | None = None,
) -> Draft:
    """Draft a mapping for the records of ``payload`` (a sample file's bytes, named ``name``).

    ``type_name`` fixes the entity type (else the best-ranked type is used), ``format`` the input
    format (else guessed), ``tz`` the zone of times written without an offset.
    """
    onto = ontology or default_ontology()
    types = entity_types(onto)
    if type_name is not None and type_name not in types:
        close = difflib.get_close_matches(type_name, types, n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else f" (known types: {', '.join(types)})"
        raise ConfigError(f"type {type_name!r} is not an entity type of the ontology{hint}", key="type")
    compile_time_parser("iso8601", tz=tz)  # a zone that does not exist is a ConfigError naming close ones
    if not types:
        raise ConfigError("the ontology has no entity type to draft a mapping for")
    sample = read_sample(payload, name=name, format=format)
    records_path = str(sample.options.get("records", sample.each))
    context = frozenset(tokens(re.split(r"[./]", records_path.removesuffix("[*]"))[-1]))
    fields = profile_records(sample.records, decimal=sample.options.get("decimal", "."), context=context)
    roles = find_roles(fields)
    ranking: list[Ranked] = []
    hints = (name.rsplit("/", 1)[-1].rsplit(".", 1)[0], records_path)
    if type_name is None:
        ranking = rank_types(fields, roles, onto, hints=hints)
        type_name = ranking[0].type
    attributes = onto.attributes(type_name)
    matches = match_fields(fields, type_name, onto, roles)
    entries = None if sample.each else find_entries(sample.records, attributes, onto)
    if entries is not None:
        # the readings fill the value, type, unit and name of each entity: no field feeds them
        inside = entries.path + "."
        matches = [
            m
            for m in matches
            if m.attribute.name not in _entry_attributes(entries) | {"name"}
            and not m.field.path.startswith(inside)
        ]
    else:
        matches += name_from_id(matches, roles, attributes)
    read = {m.field.path for m in matches}
    filled = {m.attribute.name for m in matches} | (_entry_attributes(entries) if entries else set())
    readings = [e.quantity for e in entries.entries] if entries else readings_of(fields, roles.used(), onto)
    enumerations = type_enumerations(onto, type_name)
    skip = roles.used() | ({roles.id.field.path} if roles.id else frozenset())
    fill = None if entries else propose_fill_bins(fields, attributes, enumerations, taken=filled, skip=skip)
    bins = [fill] if fill is not None else []
    filled |= {b.attribute.name for b in bins}
    constants = propose_constants(
        attributes,
        fields,
        taken=filled | {"location", "name"},
        readings=readings,
        hints=hints,
        enumerations=enumerations,
    )
    address = None if "address" in filled else propose_address(fields, attributes, taken=read)
    structures = [address] if address is not None else []
    links = propose_links(type_name, attributes, fields, roles, taken=read)
    filled |= {c.name for c in constants} | {link.attribute.name for link in links}
    filled |= {found.attribute for found in structures}
    filled |= ({"name"} if entries is not None and roles.id is not None else set()) | (
        {"location"} if roles.point is not None else set()
    )
    used = roles.used() | read | {link.field.path for link in links}
    used |= {p for found in structures for p in found.members.values()}
    used |= {roles.id.field.path} if roles.id else set()
    if entries is not None:
        used |= {f.path for f in fields if f.path.startswith(entries.path + ".")}
    unmatched = [(f, closest(f, type_name, onto)) for f in fields if f.path not in used and f.values]
    texts = [n for n, p in attributes.items() if p.kind == "Property" and p.range == "string"]
    plan = Plan(
        name,
        sample,
        type_name,
        ranking,
        roles,
        matches,
        unmatched,
        tz,
        "name" if "name" in texts else min(texts, default="name"),
        enumerations,
        _foreign(matches, type_name, types, onto),
        entries,
        constants,
        links,
        structures,
        _required(type_name, filled, enumerations, onto),
        bins,
    )
    text = write_mapping(plan)
    return Draft(
        text, type_name, ranking, sample, fields, roles, matches, entries, constants, links, structures, bins
    )


def _entry_attributes(entries: Entries) -> set[str]:
    return {entries.value.name, entries.kind.name} | ({entries.unit.name} if entries.unit else set())


def _foreign(matches: list[Match], type_name: str, types: list[str], onto: Ontology) -> dict[str, str]:
    """Attribute -> the other type whose states its comment's enumeration lists (a shared core
    term), for the matched attributes without an enumeration of the type's own."""
    labels = {t: onto.classes[t].label or t for t in types}
    own = own_enumerations(onto, type_name)
    return {
        m.attribute.name: owner
        for m in matches
        if enumeration(m.attribute) and m.attribute.name not in own
        for owner in (enumeration_owner(m.attribute, type_name, labels),)
        if owner
    }


def _required(
    type_name: str, filled: set[str], enumerations: Mapping[str, frozenset[str]], onto: Ontology
) -> list[str]:
    """The attributes Smart Data Models require of the type that the draft does not fill."""
    required = [
        f"{c.attribute} (one of {', '.join(sorted(enumerations[c.attribute]))})"
        if c.attribute in enumerations
        else c.attribute
        for c in constraints_for(onto).of(type_name)
        if c.min_count and c.attribute not in filled
    ]
    return sorted(dict.fromkeys(required))
