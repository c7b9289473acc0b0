"""``GET /types/{name}``: what the ontology says about an entity type (the playground's panel).

The same description as ``contextbridge describe``: IRI, superclasses, each attribute with its
IRI, kind, datatype, unit, enumeration, range, whether it is required, and the Smart Data Models
constraints with their origin, for the service's ontology (bundled and vendors'). An unknown
name is a 404 whose ProblemDetails carry ``suggestions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.describe import UnknownType, describe_type

from .problems import MEDIA_TYPE, HTTPProblem

if TYPE_CHECKING:
    from .app import Service


async def type_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    service.authenticator.authorize(request)
    try:
        return JSONResponse(describe_type(service.ontology, request.path_params["name"]))
    except UnknownType as error:
        problem = HTTPProblem(404, "not-found", "Not Found", str(error))
        return JSONResponse({**problem.body(), "suggestions": error.suggestions}, 404, media_type=MEDIA_TYPE)
