"""``GET /types/{name}``: what the ontology says about an entity type (the playground's panel).

The same description as ``contextbridge describe``: IRI, superclasses, each attribute with its
IRI, kind, datatype, unit, enumeration, range, whether it is required, and the Smart Data Models
constraints with their origin, for the service's ontology (bundled and vendors'). An unknown
name is a 404 whose ProblemDetails carry ``suggestions``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.authoring.describe import UnknownType, describe_type
from contextbridge.entities.ontology import Ontology

from .problems import MEDIA_TYPE, HTTPProblem


def type_endpoint(
    ontology: Ontology, authorize: Callable[[Request], object]
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint, given the ontology it describes and the check of the request's key."""

    async def describe(request: Request) -> Response:
        authorize(request)
        try:
            return JSONResponse(describe_type(ontology, request.path_params["name"]))
        except UnknownType as error:
            problem = HTTPProblem(404, "not-found", "Not Found", str(error))
            body = {**problem.body(), "suggestions": error.suggestions}
            return JSONResponse(body, 404, media_type=MEDIA_TYPE)

    return describe
