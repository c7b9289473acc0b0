"""WGS84 positions derived from GeoJSON points, so that SPARQL can do arithmetic on them.

In the NGSI-LD view a ``GeoProperty`` value is a GeoJSON geometry (a ``geojson:Point`` node
whose coordinates are an RDF list), in the direct view a GeoSPARQL WKT literal. Neither is
handy in SPARQL: the common stores (Oxigraph among them) have no GeoSPARQL functions, and
reading a list or parsing WKT in every query is long and slow. For a ``Point`` the converter
can add, when asked (``Converter(..., wgs84=True)``), the two numbers of the W3C WGS84
vocabulary as ``xsd:double`` — on the attribute node in the NGSI-LD view, on the entity for
its ``location`` in the direct view::

    _:loc a ngsi-ld:GeoProperty ; ngsi-ld:hasValue [ a geojson:Point ; ... ] ;
          wgs84:lat 4.346318E1 ; wgs84:long -3.80467E0 .

    SELECT ?e ?lat WHERE { ?e ngsi-ld:location/wgs84:lat ?lat }

Only points: a line or a polygon has no single position. A geometry that is not a valid
point gives no triple (the entity validator is the one that names such faults), nor does an
entity the converter hands to pyld (JSON-LD constructs NGSI-LD payloads do not use). The
triples are derived, not part of the JSON-LD graph of the entity: with the option on, the
conversion is pyld's graph plus these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contextbridge.entities.rdf.literals import XSD_DOUBLE, canonical_double

WGS84 = "http://www.w3.org/2003/01/geo/wgs84_pos#"
WGS84_LAT = f"<{WGS84}lat>"
WGS84_LONG = f"<{WGS84}long>"


def point_position(geometry: Any) -> tuple[float, float] | None:
    """``(longitude, latitude)`` of a GeoJSON Point in range; None for anything else."""
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
        return None
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or not 2 <= len(coordinates) <= 3:
        return None
    longitude, latitude = coordinates[0], coordinates[1]
    for number in (longitude, latitude):
        if isinstance(number, bool) or not isinstance(number, int | float):
            return None
    if not (-180.0 <= longitude <= 180.0 and -90.0 <= latitude <= 90.0):
        return None
    return float(longitude), float(latitude)


def point_triples(subject: str, geometry: Any) -> str:
    """The ``wgs84:lat`` / ``wgs84:long`` N-Triples lines of ``subject`` (N-Triples text) for a point."""
    position = point_position(geometry)
    if position is None:
        return ""
    longitude, latitude = position
    return (
        f'{subject} {WGS84_LAT} "{canonical_double(latitude)}"^^{XSD_DOUBLE} .\n'
        f'{subject} {WGS84_LONG} "{canonical_double(longitude)}"^^{XSD_DOUBLE} .\n'
    )


def location_triples(subject: str, entity: Mapping[str, Any]) -> str:
    """The direct view's: the position of the entity's ``location``, when it is one point."""
    attribute = entity.get("location")
    if not isinstance(attribute, Mapping) or attribute.get("type") != "GeoProperty":
        return ""  # several instances (datasetId) or no location: no single position
    return point_triples(subject, attribute.get("value"))
