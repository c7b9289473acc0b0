"""Entities in keyValues or concise form made normalized again, with the ontology's help.

    normalized({"id": "urn:ngsi-ld:WeatherObserved:1", "type": "WeatherObserved",
                "temperature": 12.5, "refDevice": "urn:ngsi-ld:Device:1",
                "location": {"type": "Point", "coordinates": [-3.8, 43.46]}}, ontology)
    # temperature → Property, refDevice → Relationship, location → GeoProperty

A subscription's ``notification.format`` decides how Orion-LD sends entities; the city graph
stores the normalized form. Each attribute is read on its own, so one entity may mix forms:

- normalized: an object (or an array of objects, one per ``datasetId``) whose ``type`` is an
  NGSI-LD attribute type — kept as it is;
- concise: an object without such a ``type`` but with one of ``value``, ``object``,
  ``languageMap``, ``vocab``, ``json`` — that member gives the type (``value`` holding a GeoJSON
  geometry: GeoProperty); its other members stay (``observedAt``, ``unitCode``...), and its
  sub-attributes are read by the same rules;
- keyValues: anything else is the bare value:
    * a GeoJSON geometry object (``type`` Point, Polygon... with ``coordinates`` or
      ``geometries``) → GeoProperty;
    * a string that is a URI, for an attribute the ontology declares a Relationship of the
      entity's type → Relationship (``object``); a URI for any other attribute stays a value;
    * an object of strings for an attribute the ontology declares a LanguageProperty →
      LanguageProperty (``languageMap``);
    * otherwise → Property (``value``); a null is dropped (NGSI-LD has no null values).

A structured keyValues value that happens to have a ``value`` member reads as concise: the two
forms cannot be told apart there, and Orion-LD sends concise only when asked for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contextbridge.entities.ontology import Ontology
from contextbridge.entities.validation import is_uri

ATTRIBUTE_TYPES = frozenset(
    {"Property", "Relationship", "GeoProperty", "LanguageProperty", "VocabProperty", "JsonProperty",
     "ListProperty", "ListRelationship"}
)  # fmt: skip
GEOMETRIES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"}
)
CONTENT = {
    "value": "Property",
    "object": "Relationship",
    "languageMap": "LanguageProperty",
    "vocab": "VocabProperty",
    "json": "JsonProperty",
}
ENTITY_MEMBERS = frozenset({"id", "type", "scope", "@context"})
SYSTEM = frozenset({"createdAt", "modifiedAt", "deletedAt"})
# Members of an attribute that are not sub-attributes.
ATTRIBUTE_MEMBERS = frozenset(
    {"type", "value", "object", "languageMap", "vocab", "json", "observedAt", "unitCode", "datasetId",
     "objectType", "valueType", "lang", "instanceId", "@context", *SYSTEM}
)  # fmt: skip


def is_geometry(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") in GEOMETRIES
        and ("coordinates" in value or "geometries" in value)
    )


def _is_normalized(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in ATTRIBUTE_TYPES


def normalized(entity: Mapping[str, Any], ontology: Ontology) -> dict[str, Any]:
    """``entity`` in normalized form (system attributes and ``@context`` dropped)."""
    entity_type = entity.get("type")
    type_name = entity_type if isinstance(entity_type, str) else None
    out: dict[str, Any] = {}
    for name, value in entity.items():
        if name in SYSTEM or name == "@context":
            continue
        if name in ENTITY_MEMBERS:
            out[name] = value
            continue
        found = attribute(type_name, name, value, ontology)
        if found is not None:
            out[name] = found
    return out


def attribute(type_name: str | None, name: str, value: Any, ontology: Ontology | None) -> Any:
    """One attribute in normalized form (None: nothing to keep)."""
    if _is_normalized(value):
        return value
    if isinstance(value, list) and value and all(_is_normalized(item) for item in value):
        return value
    if isinstance(value, dict) and not is_geometry(value):
        members = [key for key in CONTENT if key in value]
        if len(members) == 1:
            return _concise(value, members[0])
    if value is None:
        return None
    if is_geometry(value):
        return {"type": "GeoProperty", "value": value}
    declared = ontology.attribute(type_name, name) if ontology is not None and type_name else None
    kind = declared.kind if declared is not None else None
    if kind == "Relationship" and isinstance(value, str) and is_uri(value):
        return {"type": "Relationship", "object": value}
    if (
        kind == "LanguageProperty"
        and isinstance(value, dict)
        and value
        and all(isinstance(text, str) for text in value.values())
    ):
        return {"type": "LanguageProperty", "languageMap": value}
    return {"type": "Property", "value": value}


def _concise(value: Mapping[str, Any], member: str) -> dict[str, Any]:
    kind = CONTENT[member]
    if kind == "Property" and is_geometry(value[member]):
        kind = "GeoProperty"
    out: dict[str, Any] = {"type": kind}
    for key, item in value.items():
        if key in ATTRIBUTE_MEMBERS:
            if key != "type" and key not in SYSTEM:
                out[key] = item
            continue
        found = attribute(None, key, item, None)  # sub-attributes: no ontology entry to consult
        if found is not None:
            out[key] = found
    return out
