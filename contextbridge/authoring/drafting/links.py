"""Relationships a sample gives: the device that sent a reading, the thing a field names by code.

    >>> [(l.attribute.name, l.field.path) for l in propose_links(...)]
    [('refDevice', 'end_device_ids.device_id'), ('refStreetlightControlCabinet', '@cuadro')]

Two kinds, each on evidence:

- *the sending device*: a ``refDevice`` (a Relationship to Device) of a type other than Device,
  when the record's id field says it names a device (``device_id``, ``dev_eui``, ``sensor``,
  SenML's ``bn``): the object is ``urn:ngsi-ld:Device:{id}``, the id the draft of the same sample
  for Device gives its entity, so the two drafts link up;
- *a thing named by a field*: a Relationship whose name and target class share a word with a
  field's words or their translations (``cuadro`` → cabinet: ``refStreetlightControlCabinet``),
  the field's values codes or short names: the object is ``urn:ngsi-ld:{Target}:{field}``.

The object's id is the integrator's convention (a city prefix, ``parking-`` before the number):
the comment says to align it with the mapping of the target entities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...entities.ontology import OntologyProperty
from .profile import FieldProfile
from .roles import Roles
from .vocabulary import synonyms, tokens

DEVICE_WORDS = frozenset({"device", "dev", "eui", "sensor", "node", "nodo", "bn", "dispositivo"})
_GENERIC = frozenset({"ref", "id", "num", "number", "code"})
MAX_LENGTH = 40  # a value longer than this is prose, no name of a thing


@dataclass(frozen=True)
class Link:
    """A Relationship proposed from a field: ``urn:ngsi-ld:{target}:{field}``."""

    attribute: OntologyProperty
    target: str
    field: FieldProfile
    reason: str


def propose_links(
    type_name: str,
    attributes: Mapping[str, OntologyProperty],
    fields: list[FieldProfile],
    roles: Roles,
    *,
    taken: set[str],
) -> list[Link]:
    """The Relationships of the type that the sample's fields can fill, each field once."""
    links: list[Link] = []
    used = set(roles.used()) | taken
    for name in sorted(attributes):
        prop = attributes[name]
        if prop.kind != "Relationship" or not prop.range:
            continue
        if prop.range == "Device" and type_name != "Device" and roles.id is not None:
            said = sorted(set(roles.id.field.tokens) & DEVICE_WORDS)
            if said:
                why = (
                    f"the record's id {roles.id.field.path} names the device that sent it ({', '.join(said)}): "
                    "the Device drafted from this sample has this id; align with its mapping"
                )
                links.append(Link(prop, "Device", roles.id.field, why))
            continue
        wanted = (set(tokens(name)) & set(tokens(prop.range))) - _GENERIC
        best: tuple[int, int, FieldProfile, str] | None = None
        for index, field in enumerate(fields):
            if field.path in used or (roles.id and field is roles.id.field) or not _names_things(field):
                continue
            found = sorted(wanted & frozenset().union(*(synonyms(w) for w in field.tokens)))
            if found and (best is None or len(found) > best[0]):
                best = (len(found), index, field, " ".join(found))
        if best is not None:
            _, _, field, words = best
            why = f"{field.path} names a {prop.range} ('{'_'.join(field.tokens)}' ~ {words}); align the id with its mapping"
            links.append(Link(prop, prop.range, field, why))
            used.add(field.path)
    return links


def _names_things(field: FieldProfile) -> bool:
    texts = [str(v) for v in field.values]
    return (
        field.kind in ("text", "number")
        and not field.url
        and bool(texts)
        and all(len(t) <= MAX_LENGTH for t in texts)
        and (field.kind == "text" or field.integral)
    )
