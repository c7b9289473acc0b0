"""``GET /openapi.json``: the OpenAPI 3.1 document of the service's HTTP API.

Written out rather than generated: the API is small, its contracts (what is stored before which
answer, which ProblemDetails ``type`` for which mistake) are the point, and a test checks that
every route of the app is documented and every documented path is a route.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.documents import packaged_schema

from .problems import MEDIA_TYPE, PROBLEMS

TENANT: dict[str, Any] = {
    "name": "NGSILD-Tenant",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
    "description": "The tenant whose graph is read or written (absent: the default tenant).",
}
PROBLEM: dict[str, Any] = {"$ref": "#/components/responses/Problem"}
KEYED: list[dict[str, list[str]]] = [{"apiKey": []}, {"bearer": []}]
DEVICE: dict[str, Any] = {
    k: v for k, v in packaged_schema("device.schema.json").items() if k not in ("$schema", "$id")
}


def _problems(*statuses: int) -> dict[str, Any]:
    return {str(status): PROBLEM for status in statuses}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    found = {"name": name, "in": "query", "required": False, "schema": schema}
    return {**found, "description": description} if description else found


FILTER: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 256}
FILTERS = [
    _query("sink", FILTER, "broker, graph or translate (the translator's rejected records)"),
    _query("feed", FILTER, "the feed's id"),
    _query("type", FILTER, "the reason's type (a ProblemDetails type, or a rejected record's kind)"),
]
SELECTION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "Ids, or a filter (sink, feed, type); neither: all the tenant's letters",
    "properties": {
        "ids": {"type": "array", "maxItems": 10000, "items": {"type": "integer", "minimum": 1}},
        "sink": FILTER,
        "feed": FILTER,
        "type": FILTER,
        "force": {"type": "boolean", "description": "replay: also letters older than what the sink has"},
    },
}
DEAD_LETTER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "sink": {"type": "string"},
        "tenant": {"type": ["string", "null"]},
        "entity_id": {"type": ["string", "null"]},
        "feed": {"type": ["string", "null"]},
        "data": {"description": "the refused entity, or the rejected record"},
        "reason": {
            "type": "object",
            "description": "the broker's ProblemDetails, or the translator's reason",
        },
        "attempts": {"type": "integer"},
        "first_attempt": {"type": ["number", "null"]},
        "last_attempt": {"type": ["number", "null"]},
        "created": {"type": "number"},
    },
}
MAPPING_NAME = _path("name", {"type": "string", "pattern": "^[^/]+$"})


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "contextbridge service",
        "version": "0.1.0",
        "description": (
            "City feeds into NGSI-LD (Orion-LD) and a SPARQL city graph. Every error is a "
            f"ProblemDetails document ({MEDIA_TYPE}) whose type is under {PROBLEMS}."
        ),
    },
    "components": {
        "securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "bearer": {"type": "http", "scheme": "bearer"},
        },
        "responses": {
            "Problem": {
                "description": "ProblemDetails (RFC 9457)",
                "content": {
                    MEDIA_TYPE: {
                        "schema": {
                            "type": "object",
                            "required": ["type", "title", "status"],
                            "properties": {
                                "type": {"type": "string", "format": "uri"},
                                "title": {"type": "string"},
                                "status": {"type": "integer"},
                                "detail": {"type": "string"},
                            },
                        }
                    }
                },
            }
        },
    },
    "paths": {
        "/": {
            "get": {
                "summary": "The web console (its page; it asks for a key and reads the API below)",
                "responses": {"200": {"description": "text/html, with a Content-Security-Policy"}},
            }
        },
        "/status": {
            "get": {
                "summary": "What each feed (of the key's tenants) and each sink is doing, and health",
                "security": KEYED,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["time", "feeds", "sinks", "health"],
                            "properties": {
                                "time": {"type": "number"},
                                "feeds": {"type": "array", "items": {"type": "object"}},
                                "sinks": {"type": "array", "items": {"type": "object"}},
                                "health": {"type": "object"},
                            },
                        },
                        "feeds: id, source, tenant, messages, records, entities, rejected, rejects, constraints_broken, stored, "
                        "last_message, rate (records/s); sinks: sink, pending, in_flight, delivered, superseded, merged, "
                        "dead_letters, oldest_pending, retries, last_error, delivered_since_start",
                    ),
                    **_problems(401, 403),
                },
            }
        },
        "/status/events": {
            "get": {
                "summary": "The /status document as server-sent events (event: status), every interval seconds",
                "security": KEYED,
                "parameters": [_query("interval", {"type": "number", "minimum": 0.5, "maximum": 60})],
                "responses": {
                    "200": {"description": "text/event-stream", "content": {"text/event-stream": {}}},
                    **_problems(400, 401, 403),
                },
            }
        },
        "/dead-letters": {
            "get": {
                "summary": "A page of the tenant's dead letters (refused entities, rejected records), filtered",
                "security": KEYED,
                "parameters": [
                    TENANT,
                    *FILTERS,
                    _query("limit", {"type": "integer", "minimum": 0, "maximum": 1000}),
                    _query("offset", {"type": "integer", "minimum": 0}),
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "dead_letters": {"type": "array", "items": DEAD_LETTER},
                                "count": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                                "facets": {"type": "object"},
                            },
                        },
                        "The page, the filter's count, and the tenant's letters per sink, feed and type",
                    ),
                    **_problems(400, 401, 403),
                },
            }
        },
        "/dead-letters/{letter_id}": {
            "get": {
                "summary": "One dead letter of the tenant",
                "security": KEYED,
                "parameters": [TENANT, _path("letter_id", {"type": "integer", "minimum": 1})],
                "responses": {"200": _json(DEAD_LETTER, "The dead letter"), **_problems(400, 401, 403, 404)},
            }
        },
        "/dead-letters/replay": {
            "post": {
                "summary": "Queue the selected dead letters of the tenant again (after fixing the cause)",
                "security": KEYED,
                "parameters": [TENANT],
                "requestBody": {"content": {"application/json": {"schema": SELECTION}}},
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {n: {"type": "integer"} for n in ("replayed", "stale", "skipped")},
                        },
                        "replayed; stale (older than what the sink has since received: kept unless force); "
                        "skipped (rejected records: they are translated again from their feed)",
                    ),
                    **_problems(400, 401, 403, 413),
                },
            }
        },
        "/dead-letters/purge": {
            "post": {
                "summary": "Delete the selected dead letters of the tenant",
                "security": KEYED,
                "parameters": [TENANT],
                "requestBody": {"content": {"application/json": {"schema": SELECTION}}},
                "responses": {
                    "200": _json(
                        {"type": "object", "properties": {"purged": {"type": "integer"}}}, "How many"
                    ),
                    **_problems(400, 401, 403, 413),
                },
            }
        },
        "/mappings": {
            "get": {
                "summary": "The configured feeds' mappings (writable) and the example ones",
                "security": KEYED,
                "responses": {
                    "200": {
                        "description": '{"mappings": [{name, id, path, entity_types, format, feeds, writable}]}'
                    },
                    **_problems(401, 403),
                },
            }
        },
        "/mappings/{name}": {
            "get": {
                "summary": "A mapping's YAML and its first golden sample's input",
                "security": KEYED,
                "parameters": [MAPPING_NAME],
                "responses": {
                    "200": {"description": "The summary, with text, sample and sample_name"},
                    **_problems(401, 403, 404),
                },
            }
        },
        "/mappings/{name}/samples": {
            "post": {
                "summary": "Keep a payload as a golden sample of a configured feed's mapping",
                "description": (
                    "Written beside the mapping (samples/<mapping stem>/<sample_name>.<format> and "
                    ".expected.ndjson, what the mapping translates it to), where `contextbridge test` finds it."
                ),
                "security": KEYED,
                "parameters": [MAPPING_NAME],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["sample_name", "payload"],
                                "properties": {
                                    "sample_name": {
                                        "type": "string",
                                        "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
                                    },
                                    "payload": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": '{"name", "sample" (its path), "expected" (its path), "entities"}'
                    },
                    **_problems(400, 401, 403, 404, 409, 413, 422),
                },
            }
        },
        "/playground": {
            "post": {
                "summary": "Try a mapping on a payload: entities, rejected records, problems by line, RDF",
                "description": (
                    "Nothing is stored. A broken mapping is an answer (200 with problems). The trial stops "
                    "translating after a few seconds; lookups may only read files beside the named mapping."
                ),
                "security": KEYED,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["mapping", "payload"],
                                "properties": {
                                    "mapping": {"type": "string", "description": "the mapping's YAML"},
                                    "payload": {"type": "string", "description": "what a feed would send"},
                                    "name": {"type": "string", "description": "a known mapping's name"},
                                    "limit": {"type": "integer", "minimum": 0, "maximum": 1000},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": (
                            "{entities, entity_count, records, rejected: [{record, field, source, kind, reason}], "
                            "problems: [{severity, line, column, message, origin: mapping|lint|validation|payload}], "
                            "triples, triple_count, took_ms}"
                        )
                    },
                    **_problems(400, 401, 403, 404, 413, 504),
                },
            }
        },
        "/playground/draft": {
            "post": {
                "summary": "Draft a mapping from a payload: type ranked, fields matched, each line with why",
                "description": (
                    "Nothing is stored. Deterministic and offline: the ontology's names, labels, comments and "
                    "units against the payload's field names and values (see docs/drafting.md)."
                ),
                "security": KEYED,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["payload"],
                                "properties": {
                                    "payload": {"type": "string", "description": "a sample of the feed"},
                                    "name": {
                                        "type": "string",
                                        "description": "its file name (format, type hints)",
                                    },
                                    "type": {
                                        "type": "string",
                                        "description": "the entity type (else ranked)",
                                    },
                                    "format": {
                                        "type": "string",
                                        "description": "json, ndjson, csv, xml, senml",
                                    },
                                    "tz": {"type": "string", "description": "zone of times without offset"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "{mapping (YAML), type, ranking: [{type, score, reasons}], attributes}"
                    },
                    **_problems(400, 401, 403, 413, 503),
                },
            }
        },
        "/queries": {
            "get": {
                "summary": "The example SPARQL questions (the configuration's, or the examples)",
                "security": KEYED,
                "responses": {
                    "200": {"description": '{"queries": [{name, title, query}]}'},
                    **_problems(401, 403),
                },
            }
        },
        "/types/{name}": {
            "get": {
                "summary": "What the ontology says about an entity type (as `contextbridge describe`)",
                "security": KEYED,
                "parameters": [_path("name", {"type": "string", "pattern": "^[^/]+$"})],
                "responses": {
                    "200": {"description": "{type, iri, superclasses, attributes: {name: {iri, kind, ...}}}"},
                    **_problems(401, 403, 404),
                },
            }
        },
        "/health": {
            "get": {
                "summary": "Liveness: the process answers",
                "responses": {"200": {"description": '{"status": "ok"}'}},
            }
        },
        "/ready": {
            "get": {
                "summary": "Readiness: graph store, outbox, broker and background tasks answer",
                "responses": {
                    "200": {"description": "Ready, with each check"},
                    "503": {"description": "Not ready, with the failing checks"},
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Counters per feed and per sink, in the Prometheus text format",
                "responses": {"200": {"description": "text/plain; version=0.0.4"}},
            }
        },
        "/context.jsonld": {
            "get": {
                "summary": "The city's NGSI-LD @context, generated from the ontology (for Orion-LD)",
                "responses": {"200": {"description": "application/ld+json"}},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}
        },
        "/sparql": {
            method: {
                "summary": "SPARQL 1.1 Protocol query (read-only) over one tenant's graph and the ontology",
                "security": KEYED,
                "parameters": [
                    TENANT,
                    *(
                        [{"name": "query", "in": "query", "required": True, "schema": {"type": "string"}}]
                        if method == "get"
                        else []
                    ),
                ],
                **(
                    {
                        "requestBody": {
                            "content": {
                                "application/x-www-form-urlencoded": {
                                    "schema": {"type": "object", "properties": {"query": {"type": "string"}}}
                                },
                                "application/sparql-query": {"schema": {"type": "string"}},
                            }
                        }
                    }
                    if method == "post"
                    else {}
                ),
                "responses": {
                    "200": {
                        "description": (
                            "SELECT/ASK: SPARQL JSON (default), XML, CSV or TSV; CONSTRUCT/DESCRIBE: Turtle "
                            "or N-Triples. X-Result-Truncated: true when cut at the result limit."
                        ),
                        "content": {
                            kind: {}
                            for kind in (
                                "application/sparql-results+json",
                                "application/sparql-results+xml",
                                "text/csv",
                                "text/tab-separated-values",
                                "text/turtle",
                                "application/n-triples",
                            )
                        },
                    },
                    **_problems(400, 401, 403, 406, 413, 415, 502, 503),
                },
            }
            for method in ("get", "post")
        },
        "/ngsi-ld/notify": {
            "post": {
                "summary": "Orion-LD notifications (normalized, concise or keyValues) into the city graph"
                " (a key with the notify scope)",
                "security": KEYED,
                "parameters": [
                    TENANT,
                    {
                        "name": "Link",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "The @context (application/json); only this service's or allow-listed ones",
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["type", "data"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "type": {"const": "Notification"},
                                    "subscriptionId": {"type": "string"},
                                    "notifiedAt": {"type": "string", "format": "date-time"},
                                    "data": {"type": "array", "items": {"type": "object"}},
                                },
                            }
                        },
                        "application/ld+json": {},
                    },
                },
                "responses": {
                    "204": {"description": "Every entity is in the graph"},
                    "200": {
                        "description": "Some entities were refused: the report names each, with a ProblemDetails"
                    },
                    **_problems(400, 401, 403, 413, 415, 502, 503),
                },
            }
        },
        "/devices": {
            "get": {
                "summary": "A page of the device registry, by id",
                "security": KEYED,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 1000},
                    },
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                ],
                "responses": {
                    "200": {"description": '{"devices": [...], "count", "limit", "offset"}'},
                    **_problems(400, 401, 403, 503),
                },
            },
            "post": {
                "summary": "Register a device",
                "security": KEYED,
                "requestBody": {"required": True, "content": {"application/json": {"schema": DEVICE}}},
                "responses": {
                    "201": {"description": "Registered"},
                    **_problems(400, 401, 403, 409, 413, 503),
                },
            },
        },
        "/devices/{device_id}": {
            method: {
                "summary": summary,
                "security": KEYED,
                "parameters": [
                    {"name": "device_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                **(
                    {"requestBody": {"required": True, "content": {"application/json": {"schema": DEVICE}}}}
                    if method == "put"
                    else {}
                ),
                "responses": {**ok, **_problems(400, 401, 403, 404, 413, 503)},
            }
            for method, summary, ok in (
                ("get", "One device", {"200": {"description": "The device"}}),
                (
                    "put",
                    "Register or replace a device",
                    {"200": {"description": "Replaced"}, "201": {"description": "Registered"}},
                ),
                ("delete", "Forget a device", {"204": {"description": "Removed"}}),
            )
        },
        "/feeds/{feed_id}": {
            "post": {
                "summary": "A webhook feed's message (LoRaWAN network servers, vendors' platforms)",
                "description": (
                    "Checked by the feed's own API key or HMAC-SHA256 body signature (or, for a feed "
                    "that declares neither, a service key allowed to write). Answered once the records "
                    "are in the outbox."
                ),
                "security": [{"apiKey": []}, {"bearer": []}, {}],
                "parameters": [
                    {"name": "feed_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {"required": True, "content": {"*/*": {}}},
                "responses": {
                    "202": {
                        "description": "Stored in the outbox (rejected records in the dead-letter queue)"
                    },
                    **_problems(401, 403, 404, 413, 503),
                },
            }
        },
    },
}

ENTITY_ID = _path(
    "entity_id", {"type": "string", "description": "The entity's id (an absolute IRI), URL-encoded"}
)
ATTRIBUTE = {
    "type": "object",
    "required": ["name", "iri", "kind"],
    "properties": {
        "name": {"type": "string"},
        "iri": {"type": "string"},
        "kind": {"type": "string", "description": "Property, Relationship, GeoProperty, ..."},
        "value": {},
        "object": {"description": "A Relationship's target entity id(s)"},
        "observedAt": {"type": "string"},
        "unitCode": {"type": "string"},
        "datasetId": {"type": "string"},
        "point": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
    },
}
DOCUMENT["paths"].update(
    {
        "/console/settings": {
            "get": {
                "summary": "What the console's page needs of the configuration: its maps' tile server",
                "responses": {
                    "200": _json(
                        {"type": "object", "properties": {"tiles": {"type": ["object", "null"]}}},
                        "tiles: url (a {z}/{x}/{y} template), attribution, attribution_url, max_zoom, "
                        "origin; null: no tile server (the maps draw a plain grid)",
                    )
                },
            }
        },
        "/entities/{entity_id}": {
            "get": {
                "summary": "One entity of the tenant's city graph: attributes, place, referrers, kept history",
                "description": "Read from the graph store (the latest state the graph holds), not the broker.",
                "security": KEYED,
                "parameters": [TENANT, ENTITY_ID],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["id", "type", "attributes"],
                            "properties": {
                                "id": {"type": "string"},
                                "type": {},
                                "typeName": {"type": "string"},
                                "attributes": {"type": "array", "items": ATTRIBUTE},
                                "location": {"type": ["object", "null"]},
                                "referencedBy": {"type": "array", "items": {"type": "object"}},
                                "history": {
                                    "type": "array",
                                    "items": {"type": "object"},
                                    "description": "The attributes with past values: count, first, last",
                                },
                            },
                        },
                        "The entity",
                    ),
                    **_problems(400, 401, 403, 404, 502, 503),
                },
            }
        },
        "/entities/{entity_id}/history": {
            "get": {
                "summary": "Past values of an entity's attributes, kept by feeds with history: true",
                "security": KEYED,
                "parameters": [
                    TENANT,
                    ENTITY_ID,
                    _query("attribute", {"type": "string"}, "an attribute's name or IRI (absent: every one)"),
                    _query(
                        "since",
                        {"type": "string"},
                        "an ISO 8601 date-time, or a duration back from now (P7D, PT6H); default P1D",
                    ),
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "since": {"type": "string"},
                                "series": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "name": {"type": "string"},
                                            "iri": {"type": "string"},
                                            "datasetId": {"type": ["string", "null"]},
                                            "numeric": {"type": "boolean"},
                                            "points": {"type": "array", "items": {"type": "array"}},
                                            "truncated": {"type": "boolean"},
                                        },
                                    },
                                },
                            },
                        },
                        "Per attribute (and dataset), [time, value] oldest first; truncated: only the "
                        "newest values up to the SPARQL row limit",
                    ),
                    **_problems(400, 401, 403, 502, 503),
                },
            }
        },
    }
)


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(DOCUMENT)
