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
                "summary": "Orion-LD notifications (normalized, concise or keyValues) into the city graph",
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


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(DOCUMENT)
