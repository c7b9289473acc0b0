"""``GET /entities/{id}`` and ``GET /entities/{id}/history``: one entity of the city graph, for the console.

    GET /entities/urn:ngsi-ld:ParkingSpot:santander:3107        X-API-Key: ...
    {"id": "urn:ngsi-ld:ParkingSpot:santander:3107", "type": "https://.../ParkingSpot",
     "attributes": [{"name": "status", "iri": "https://uri.etsi.org/ngsi-ld/status", "kind": "Property",
                     "value": "free", "observedAt": "2026-11-25T10:00:00Z"}, ...],
     "location": {"lat": 43.46, "lon": -3.81}, "referencedBy": [...],
     "history": [{"name": "availableSpotNumber", "iri": "...", "count": 96, "first": "...", "last": "..."}]}

    GET /entities/{id}/history?attribute=availableSpotNumber&since=P7D
    {"id": ..., "since": "2026-11-18T10:00:00Z",
     "series": [{"name": ..., "iri": ..., "datasetId": null, "points": [["2026-...Z", 12.0], ...],
                 "truncated": false}]}

Both read the tenant's graph through the graph store (never the broker): the entity's own
triples and those of its attribute nodes (the NGSI-LD view: ``ngsi-ld:hasValue``, ``hasObject``,
``observedAt``, ``unitCode``, ``datasetId``, ``wgs84:lat/long``; or the direct view: values
straight on the entity), the entities whose relationships point at it, and the past values the
history graph keeps (``contextbridge.sinks.graph.base``: ``sosa:Observation`` nodes). A read key of the
tenant may read them; an unknown entity is a 404.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.sinks.graph.base import history_graph

from .entityview import entity_document, history_series
from .problems import HTTPProblem
from .sparql import run_query

if TYPE_CHECKING:
    from .app import Service

NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
SOSA = "http://www.w3.org/ns/sosa/"
_IRI = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>"{}|^`\\]*$')
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_DURATION = re.compile(r"^P(?:(\d{1,4})D)?(?:T(?:(\d{1,5})H)?(?:(\d{1,6})M)?)?$")
DEFAULT_SINCE = timedelta(days=1)
INBOUND_LIMIT = 200


def _entity_id(request: Request) -> str:
    ident = str(request.path_params["entity_id"])
    if not _IRI.match(ident):
        raise HTTPProblem(400, "bad-request", "Bad Request", f"entity id {ident!r} is not an absolute IRI")
    return ident


def _genid(ident: str) -> str:
    return ident + "/.well-known/genid/"


def _triples_query(ident: str) -> str:
    # The entity's triples, and those of its own nodes (skolem IRIs under its id, or blank nodes):
    # a relationship's target is another entity, whose triples are not read.
    return f"""SELECT ?p ?node ?q ?o WHERE {{
  <{ident}> ?p ?node .
  OPTIONAL {{ ?node ?q ?o . FILTER(isBlank(?node) || STRSTARTS(STR(?node), "{_genid(ident)}")) }}
}}"""


def _type_query(ident: str) -> str:
    # Its most specific types: the stores add every ancestor class (rdfs:subClassOf in the ontology).
    return f"""SELECT ?type WHERE {{
  <{ident}> a ?type .
  FILTER NOT EXISTS {{
    <{ident}> a ?narrower . ?narrower <http://www.w3.org/2000/01/rdf-schema#subClassOf>+ ?type .
    FILTER(?narrower != ?type)
  }}
}}"""


def _inbound_query(ident: str) -> str:
    return f"""SELECT DISTINCT ?source ?p WHERE {{
  {{ ?source ?p ?node . ?node <{NGSI_LD}hasObject> <{ident}> . FILTER(isIRI(?source)) }}
  UNION {{ ?source ?p <{ident}> . FILTER(?p != <{NGSI_LD}hasObject> && !CONTAINS(STR(?source), "/.well-known/genid/")) }}
  FILTER(?p != <{SOSA}hasFeatureOfInterest>)  # past values (the history graph) are not referrers
}} ORDER BY ?source ?p LIMIT {INBOUND_LIMIT}"""


def _history_summary_query(ident: str, tenant: str) -> str:
    return f"""SELECT ?attribute (COUNT(?obs) AS ?count) (MIN(?time) AS ?first) (MAX(?time) AS ?last) WHERE {{
  GRAPH <{history_graph(tenant)}> {{
    ?obs <{SOSA}hasFeatureOfInterest> <{ident}> ; <{SOSA}observedProperty> ?attribute ;
         <{SOSA}resultTime> ?time .
  }}
}} GROUP BY ?attribute ORDER BY ?attribute"""


def _history_query(ident: str, tenant: str, since: datetime, attribute: str | None) -> str:
    if attribute is None:
        chosen = ""
    elif ":" in attribute:
        chosen = f"FILTER(?attribute = <{attribute}>)"
    else:  # a short name: the IRI's last segment
        chosen = (
            f'FILTER(STRENDS(STR(?attribute), "/{attribute}") || STRENDS(STR(?attribute), "#{attribute}"))'
        )
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""SELECT ?attribute ?dataset ?time ?value WHERE {{
  GRAPH <{history_graph(tenant)}> {{
    ?obs <{SOSA}hasFeatureOfInterest> <{ident}> ; <{SOSA}observedProperty> ?attribute ;
         <{SOSA}hasSimpleResult> ?value ; <{SOSA}resultTime> ?time .
    OPTIONAL {{ ?obs <{NGSI_LD}datasetId> ?dataset }}
  }}
  {chosen}
  FILTER(?time >= "{stamp}"^^<http://www.w3.org/2001/XMLSchema#dateTime>)
}} ORDER BY DESC(?time)"""


def _since(text: str | None, now: datetime) -> datetime:
    """``since=``: an ISO 8601 date-time (UTC when it names no zone) or a duration back from now."""
    if not text:
        return now - DEFAULT_SINCE
    duration = _DURATION.match(text)
    if duration and text != "P" and not text.endswith("T"):
        days, hours, minutes = (int(part or 0) for part in duration.groups())
        return now - timedelta(days=days, hours=hours, minutes=minutes)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPProblem(
            400,
            "bad-request",
            "Bad Request",
            f"since={text!r}: an ISO 8601 date-time (2026-11-25T10:00:00Z) or duration (P7D, PT6H)",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def entity_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    key, tenant = service.authenticator.authorize(request)
    ident = _entity_id(request)
    triples = await run_query(service, _triples_query(ident), tenant, key=key.name)
    if not triples.rows:
        raise HTTPProblem(404, "not-found", "Not Found", f"no entity {ident!r} in tenant {tenant!r}")
    types = await run_query(service, _type_query(ident), tenant, key=key.name)
    inbound = await run_query(service, _inbound_query(ident), tenant, key=key.name)
    history = await run_query(service, _history_summary_query(ident, tenant), tenant, key=key.name)
    document = entity_document(ident, triples.rows, types.rows, inbound.rows, history.rows)
    return JSONResponse(document)


async def history_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    key, tenant = service.authenticator.authorize(request)
    ident = _entity_id(request)
    attribute = request.query_params.get("attribute") or None
    if attribute is not None and not (_NAME.match(attribute) or _IRI.match(attribute)):
        raise HTTPProblem(
            400, "bad-request", "Bad Request", f"attribute={attribute!r}: an attribute's name or IRI"
        )
    since = _since(request.query_params.get("since"), datetime.now(UTC))
    result = await run_query(service, _history_query(ident, tenant, since, attribute), tenant, key=key.name)
    series = history_series(result.rows, truncated=result.truncated)
    return JSONResponse(
        {
            "id": ident,
            "attribute": attribute,
            "since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "series": series,
            "limit": service.settings.sparql_limit,
        }
    )
