"""Structured values a sample spreads over flat fields: a postal address from its parts.

    >>> propose_address(fields, attributes)
    Structure(attribute='address', members={'streetAddress': 'item.address', 'postalCode': 'item.post_code'}, ...)

Smart Data Models write an address as a schema.org PostalAddress object (``streetAddress``,
``postalCode``, ``addressLocality``, ``addressRegion``, ``addressCountry``); feeds write its
parts as fields of their own (``address``, ``post_code``; ``calle``, ``codigo_postal``,
``municipio``). Two parts or more, each named so, make an ``object:`` of paths; the parts the
sample does not hold (often the city and country of a whole feed) are the integrator's to add.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...entities.ontology import OntologyProperty
from .profile import FieldProfile

# The words that name each member of a postal address, most specific member first.
ADDRESS_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("postalCode", frozenset({"postal", "post", "postcode", "zip", "zipcode", "cp"})),
    (
        "addressLocality",
        frozenset({"city", "ciudad", "locality", "localidad", "municipio", "town", "poblacion"}),
    ),
    ("addressRegion", frozenset({"region", "provincia", "province", "county"})),
    ("addressCountry", frozenset({"country", "pais"})),
    ("streetAddress", frozenset({"address", "direccion", "calle", "street", "domicilio"})),
)


@dataclass(frozen=True)
class Structure:
    """An object attribute built member by member from fields."""

    attribute: str
    members: dict[str, str]  # member -> path
    reason: str


def propose_address(
    fields: list[FieldProfile], attributes: Mapping[str, OntologyProperty], *, taken: set[str]
) -> Structure | None:
    """``address: {object: {...}}`` when the type has an object ``address`` and two or more of the
    records' fields name parts of one; ``taken``: paths already used."""
    prop = attributes.get("address")
    if prop is None or prop.range != "json" or prop.kind != "Property":
        return None
    members: dict[str, str] = {}
    for field in fields:
        if field.path in taken or field.kind not in ("text", "number") or field.in_list:
            continue
        if field.kind == "number" and not field.text:
            continue  # a postal code is written as text; a bare number is a count or a reading
        words = set(field.tokens)
        member = next((m for m, names in ADDRESS_WORDS if words & names), None)
        if member is not None and member not in members:
            members[member] = field.path
    if len(members) < 2:
        return None
    parts = ", ".join(f"{m} <- {p}" for m, p in members.items())
    missing = [m for m, _ in ADDRESS_WORDS if m not in members]
    why = f"fields named as parts of a postal address: {parts}"
    if missing:
        why += f"; {', '.join(missing)} not in the sample: add them as {{value: ...}} if the feed has one"
    return Structure("address", members, why)
