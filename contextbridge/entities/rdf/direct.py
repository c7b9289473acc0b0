"""The direct view: entity —attribute→ value, for short SPARQL.

The NGSI-LD view keeps every attribute as a node (value, observedAt, unitCode, sub-attributes);
asking for a temperature takes two hops (``?e weather:temperature/ngsi-ld:hasValue ?t``). The
direct view keeps only the values, under the same attribute IRIs::

    <urn:ngsi-ld:WeatherObserved:1> a weather:WeatherObserved ;
        weather:temperature 3.3E0 ;
        weather:refDevice <urn:ngsi-ld:Device:1> ;
        ngsi-ld:location "POINT(-4.754 41.64)"^^geo:wktLiteral .

Rules: a Property gives its value (numbers of an ``xsd:double`` attribute are doubles, strings
of a ``dateTime``/``date``/``time`` attribute and ``{"@type": "DateTime"}`` values are typed
literals, structured values are ``rdf:JSON`` literals, arrays give one triple per item); a
Relationship gives its object IRI; a GeoProperty a GeoSPARQL WKT literal; a LanguageProperty its
language-tagged strings; a JsonProperty an ``rdf:JSON`` literal; a VocabProperty an IRI.
Sub-attributes (``observedAt``, ``unitCode``...) and dataset ids are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contextbridge.entities.rdf.literals import (
    FALSE,
    TRUE,
    XSD,
    XSD_DOUBLE,
    iri,
    json_literal,
    language,
    number_literal,
    quote,
    typed,
)
from contextbridge.entities.rdf.terms import RDF_TYPE, TermTable

WKT = "<http://www.opengis.net/ont/geosparql#wktLiteral>"
_TYPED = {name: f"<{XSD}{name}>" for name in ("dateTime", "date", "time")}
_DATETIME = "https://uri.etsi.org/ngsi-ld/DateTime"
_SKIPPED = frozenset({"id", "@id", "type", "@type", "@context"})


def direct_triples(table: TermTable, subject: str, entity: Mapping[str, Any], out: list[str]) -> None:
    """Append the direct-view N-Triples lines of ``entity`` to ``out``."""
    types = entity.get("type")
    for name in types if isinstance(types, list) else (types,):
        if isinstance(name, str):
            out.append(f"{subject} {RDF_TYPE} {table.type_node(name)} .\n")
    for key, attribute in entity.items():
        if key in _SKIPPED or attribute is None:
            continue
        term = table.term(key)
        if term is None or term.predicate is None:
            continue
        rng = table.ranges.get(key, "")
        for instance in attribute if isinstance(attribute, list) else (attribute,):
            for value in _values(table, instance, rng):
                out.append(f"{subject} {term.predicate} {value} .\n")


def _values(table: TermTable, instance: Any, rng: str) -> list[str]:
    if not isinstance(instance, dict):
        return _scalars(instance, rng)
    kind = instance.get("type")
    if kind == "Relationship":
        objects = instance.get("object")
        return [iri(o) for o in (objects if isinstance(objects, list) else (objects,)) if isinstance(o, str)]
    if kind == "GeoProperty":
        geometry = instance.get("value")
        wkt = to_wkt(geometry)
        return [typed(wkt, WKT)] if wkt else [json_literal(geometry)] if geometry is not None else []
    if kind == "LanguageProperty":
        found: list[str] = []
        for lang, texts in (instance.get("languageMap") or {}).items():
            for text in texts if isinstance(texts, list) else (texts,):
                if isinstance(text, str):
                    tag = "" if lang == "@none" else "@" + language(lang.lower())
                    found.append(quote(text) + tag)
        return found
    if kind == "JsonProperty":
        return [json_literal(instance["json"])] if "json" in instance else []
    if kind == "VocabProperty":
        vocab = instance.get("vocab")
        names = vocab if isinstance(vocab, list) else (vocab,)
        return [table.type_node(v) for v in names if isinstance(v, str)]
    if kind == "ListProperty":
        return _scalars(instance.get("valueList"), rng)
    return _scalars(instance.get("value"), rng)


def _scalars(value: Any, rng: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [literal for item in value for literal in _scalars(item, rng)]
    if isinstance(value, dict):
        if "@value" in value:
            if value.get("@type") in ("DateTime", _DATETIME):
                return [typed(str(value["@value"]), _TYPED["dateTime"])]
            return _scalars(value["@value"], rng)
        return [json_literal(value)]
    if isinstance(value, bool):
        return [TRUE if value else FALSE]
    if isinstance(value, int | float):
        return [number_literal(value, XSD_DOUBLE if rng == "double" else None)]
    text = str(value)
    return [typed(text, _TYPED.get(rng))]


def to_wkt(geometry: Any) -> str | None:
    """GeoJSON geometry → WKT (``POINT(lon lat)``...); None if it is not a GeoJSON geometry."""
    if not isinstance(geometry, dict):
        return None
    kind, coordinates = geometry.get("type"), geometry.get("coordinates") or []
    try:
        if kind == "Point":
            return f"POINT({_position(coordinates)})"
        if kind in ("LineString", "MultiPoint"):
            return f"{kind.upper()}({_ring(coordinates)})"
        if kind in ("Polygon", "MultiLineString"):
            return f"{kind.upper()}({', '.join(f'({_ring(r)})' for r in coordinates)})"
        if kind == "MultiPolygon":
            polygons = ", ".join("(" + ", ".join(f"({_ring(r)})" for r in p) + ")" for p in coordinates)
            return f"MULTIPOLYGON({polygons})"
    except (TypeError, ValueError):
        return None
    return None


def _ring(positions: Any) -> str:
    return ", ".join(_position(p) for p in positions)


def _position(position: Any) -> str:
    if not isinstance(position, list) or not 2 <= len(position) <= 3:
        raise ValueError("not a position")
    if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in position):
        raise ValueError("not a position")
    return " ".join(repr(float(c)) if isinstance(c, float) else str(c) for c in position)
