"""An entity's rows from the city graph as the console's JSON document (pure: no I/O).

    entity_document(ident, triples, types, inbound, history)   # GET /entities/{id}
    history_series(rows)                                        # GET /entities/{id}/history

``triples`` are ``(predicate, node, node predicate, node object)`` rows: the entity's own triples,
with those of its attribute nodes in the NGSI-LD view. The direct view (values straight on the
entity) reads as well: a literal is a Property's value, another IRI a Relationship's object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pyoxigraph import Literal, NamedNode

from contextbridge.sinks.graph.base import Term

NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
WGS84 = "http://www.w3.org/2003/01/geo/wgs84_pos#"
XSD = "http://www.w3.org/2001/XMLSchema#"
WKT = "http://www.opengis.net/ont/geosparql#wktLiteral"
_INTEGERS = {XSD + name for name in ("integer", "int", "long", "short", "byte", "nonNegativeInteger",
                                     "positiveInteger", "unsignedInt", "unsignedLong")}  # fmt: skip
_DECIMALS = {XSD + name for name in ("double", "float", "decimal")}
_NODE_FIELDS = {
    NGSI_LD + "observedAt": "observedAt",
    NGSI_LD + "unitCode": "unitCode",
    NGSI_LD + "datasetId": "datasetId",
}
Row = Sequence[Term | None]


def local_name(iri: str) -> str:
    """The last segment of an IRI: ``https://uri.etsi.org/ngsi-ld/status`` → ``status``."""
    return iri.rstrip("/#").rsplit("#", 1)[-1].rsplit("/", 1)[-1] or iri


def text(term: Term | None) -> str:
    """A term's IRI, label or lexical form ("" for an unbound one)."""
    return "" if term is None else str(getattr(term, "value", term))


def plain(term: Term | None) -> Any:
    """A term as JSON: numbers and booleans as such, rdf:JSON parsed, IRIs and other literals as text."""
    if term is None:
        return None
    if not isinstance(term, Literal):
        return text(term)
    kind = term.datatype.value
    lexical = term.value
    try:
        if kind in _INTEGERS:
            return int(lexical)
        if kind in _DECIMALS:
            return float(lexical)
        if kind == XSD + "boolean":
            return lexical in ("true", "1")
        if kind == RDF_JSON:
            return json.loads(lexical)
    except ValueError:  # a lexical form its datatype does not allow: shown as it is
        return lexical
    return lexical


def _wkt_point(text: str) -> dict[str, float] | None:
    inside = text.strip().upper()
    if not inside.startswith("POINT"):
        return None
    numbers = inside[inside.find("(") + 1 : inside.find(")")].split()
    try:
        return {"lon": float(numbers[0]), "lat": float(numbers[1])}
    except (IndexError, ValueError):
        return None


def _attribute(predicate: str, node: Term, fields: dict[str, list[Term]], own: bool) -> dict[str, Any]:
    found: dict[str, Any] = {"name": local_name(predicate), "iri": predicate}
    if isinstance(node, Literal):  # the direct view
        found["kind"] = "GeoProperty" if node.datatype.value == WKT else "Property"
        found["value"] = plain(node)
        if found["kind"] == "GeoProperty":
            found["point"] = _wkt_point(node.value)
        return found
    if not own:  # another entity (the direct view's relationship)
        return {**found, "kind": "Relationship", "object": text(node)}
    kinds = [text(t) for t in fields.get(RDF_TYPE, []) if text(t).startswith(NGSI_LD)]
    found["kind"] = local_name(kinds[0]) if kinds else "Property"
    if NGSI_LD + "hasObject" in fields:
        objects = [text(term) for term in fields[NGSI_LD + "hasObject"]]
        found["object"] = objects[0] if len(objects) == 1 else objects
    values = fields.get(NGSI_LD + "hasValue", [])
    if values:
        literals = [plain(term) for term in values if isinstance(term, Literal)]
        found["value"] = literals[0] if len(literals) == 1 else literals or None
    for iri, name in _NODE_FIELDS.items():
        if iri in fields:
            found[name] = plain(fields[iri][0])
    lat, lon = fields.get(WGS84 + "lat"), fields.get(WGS84 + "long")
    if lat and lon:
        found["point"] = {"lat": plain(lat[0]), "lon": plain(lon[0])}
    elif isinstance(found.get("value"), dict) and found["value"].get("type") == "Point":
        lon_value, lat_value = found["value"]["coordinates"][:2]
        found["point"] = {"lat": lat_value, "lon": lon_value}
    return found


def entity_document(
    ident: str, triples: Iterable[Row], types: Iterable[Row], inbound: Iterable[Row], history: Iterable[Row]
) -> dict[str, Any]:
    """The entity's document: its most specific type(s), attributes, location, referrers, history."""
    nodes: dict[tuple[str, Term], dict[str, list[Term]]] = {}
    own_prefix = ident + "/.well-known/genid/"
    for predicate, node, field, value in triples:
        if predicate is None or node is None or text(predicate) == RDF_TYPE:
            continue
        fields = nodes.setdefault((text(predicate), node), {})
        if field is not None and value is not None:
            fields.setdefault(text(field), []).append(value)
    attributes = []
    for (iri, node), fields in nodes.items():
        own = not isinstance(node, NamedNode | Literal) or text(node).startswith(own_prefix)
        attributes.append(_attribute(iri, node, fields, own))
    attributes.sort(key=lambda item: (item["name"], str(item.get("datasetId") or "")))
    located = [item for item in attributes if item.get("point")]
    located.sort(key=lambda item: item["name"] != "location")
    type_iris = sorted(text(row[0]) for row in types if row[0] is not None)
    return {
        "id": ident,
        "type": type_iris[0] if len(type_iris) == 1 else type_iris,
        "typeName": ", ".join(local_name(iri) for iri in type_iris),
        "attributes": attributes,
        "location": located[0]["point"] if located else None,
        "referencedBy": [
            {"id": text(row[0]), "name": local_name(text(row[1])), "iri": text(row[1])}
            for row in inbound
            if row[0] is not None and row[1] is not None
        ],
        "history": [
            {
                "name": local_name(text(row[0])),
                "iri": text(row[0]),
                "count": plain(row[1]),
                "first": plain(row[2]),
                "last": plain(row[3]),
            }
            for row in history
            if row[0] is not None
        ],
    }


def history_series(rows: Iterable[Row], *, truncated: bool = False) -> list[dict[str, Any]]:
    """Past values per attribute (and dataset), oldest first, from rows newest first."""
    series: dict[tuple[str, str | None], list[list[Any]]] = {}
    for attribute, dataset, time, value in rows:
        if attribute is None or time is None:
            continue
        key = (text(attribute), None if dataset is None else text(dataset))
        series.setdefault(key, []).append([text(time), plain(value)])
    return [
        {
            "name": local_name(iri),
            "iri": iri,
            "datasetId": dataset,
            "numeric": all(isinstance(v, int | float) and not isinstance(v, bool) for _, v in points),
            "points": points[::-1],
            "truncated": truncated,
        }
        for (iri, dataset), points in sorted(series.items(), key=lambda item: (item[0][0], item[0][1] or ""))
    ]
