"""``/context.jsonld``: the city's NGSI-LD @context, generated from the ontology.

``/context.jsonld?type=WeatherObserved`` is the flat context of one entity type: the one to send
Orion-LD, which ignores JSON-LD 1.1 type-scoped contexts (``broker.context`` in the configuration
may be ``.../context.jsonld?type={type}``: each batch then names the context of its type).

Served without a key: Orion-LD (and any NGSI-LD consumer) fetches the @context named in a
Link header, and cannot be given credentials for that. Each document is built once per app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

MEDIA_TYPE = "application/ld+json"


async def context_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    entity_type = request.query_params.get("type")
    if entity_type is None:
        body = service.context_body()
    elif service.ontology.cls(entity_type) is None:
        raise HTTPProblem(404, "not-found", "Not Found", f"the ontology has no entity type {entity_type!r}")
    else:
        body = service.type_context_body(entity_type)
    return Response(body, 200, {"Cache-Control": "public, max-age=300"}, media_type=MEDIA_TYPE)
