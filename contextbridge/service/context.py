"""``/context.jsonld``: the city's NGSI-LD @context, generated from the ontology.

Served without a key: Orion-LD (and any NGSI-LD consumer) fetches the @context named in a
Link header, and cannot be given credentials for that. The document is built once per app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from .app import Service

MEDIA_TYPE = "application/ld+json"


async def context_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    body = service.context_body()
    return Response(body, 200, {"Cache-Control": "public, max-age=300"}, media_type=MEDIA_TYPE)
