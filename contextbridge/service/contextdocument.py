"""``/context.jsonld``: the city's NGSI-LD @context, generated from the ontology.

``/context.jsonld?type=WeatherObserved`` is the flat context of one entity type: the one to send
Orion-LD, which ignores JSON-LD 1.1 type-scoped contexts (``broker.context`` in the configuration
may be ``.../context.jsonld?type={type}``: each batch then names the context of its type).

Served without a key: Orion-LD (and any NGSI-LD consumer) fetches the @context named in a
Link header, and cannot be given credentials for that. Each document is built once per app.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from contextbridge.entities.jsonld import context_document, dumps
from contextbridge.entities.ontology import Ontology

from .problems import HTTPProblem

MEDIA_TYPE = "application/ld+json"


class ContextDocuments:
    """The city's @context as served: the whole document (given, as the notification reader
    holds it) and the flat document of each entity type, each serialized once."""

    def __init__(self, ontology: Ontology, city: Mapping[str, Any]) -> None:
        self.ontology = ontology
        self.whole = dumps(city).encode("utf-8")

    def of_type(self, entity_type: str) -> bytes | None:
        """The flat @context of ``entity_type``, or None when the ontology has no such type."""
        return self._of_type(entity_type) if self.ontology.cls(entity_type) is not None else None

    @functools.cache  # noqa: B019 (one per app, a handful of types)
    def _of_type(self, entity_type: str) -> bytes:
        return dumps(context_document(self.ontology, entity_type=entity_type)).encode("utf-8")


def context_endpoint(documents: ContextDocuments) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint, given the documents it serves (and nothing else of the service)."""

    async def context(request: Request) -> Response:
        entity_type = request.query_params.get("type")
        body = documents.whole if entity_type is None else documents.of_type(entity_type)
        if body is None:
            raise HTTPProblem(
                404, "not-found", "Not Found", f"the ontology has no entity type {entity_type!r}"
            )
        return Response(body, 200, {"Cache-Control": "public, max-age=300"}, media_type=MEDIA_TYPE)

    return context
