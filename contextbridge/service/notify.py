"""``POST /ngsi-ld/notify``: Orion-LD notifications into the city graph, under the sender's tenant.

What arrives is what Orion-LD sends a subscription's endpoint (ETSI GS CIM 009 §5.2.15
Notification)::

    POST /ngsi-ld/notify
    Content-Type: application/json
    Link: <https://city.example/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; ...
    NGSILD-Tenant: santander
    X-API-Key: ...                        (the subscription's receiverInfo)

    {"id": "urn:ngsi-ld:Notification:...", "type": "Notification",
     "subscriptionId": "urn:ngsi-ld:Subscription:...", "notifiedAt": "2024-05-01T10:00:00.000Z",
     "data": [entity, ...]}

The @context is the Link header's (``application/json``; none: the core context) or the one in
the body or in each entity (``application/ld+json``); see ``contexts``. Entities may come
normalized, concise or keyValues (see ``keyvalues``). Each entity is checked on its own: the
invalid ones are refused and reported, the others land in the graph. Answers: 204 when every
entity landed; 200 with a report ``{"notificationId", "subscriptionId", "upserted", "refused":
[{"entityId", "error": ProblemDetails}]}`` when some were refused (still a success for
Orion-LD: sending them again would not help); 4xx for a request that is not a notification;
503 when the graph store cannot be written now.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from pyoxigraph import NamedNode
from starlette.requests import Request
from starlette.responses import Response

from contextbridge.entities.validation import validate_entity
from contextbridge.errors import DeliveryError, EntityError, GraphStoreError
from contextbridge.sinks.graph.base import UpsertReport

from .bodies import media_type, read_body
from .keyvalues import normalized
from .notifiedcontexts import ContextRefused
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

log = logging.getLogger("contextbridge.service")

NGSI_LD_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


def link_context(header: str | None) -> str | None:
    """The @context URL of a Link header (the link with ``rel`` json-ld#context), if any."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        params = match.group(2)
        if f'rel="{CONTEXT_REL}"' in params or f"rel={CONTEXT_REL}" in params:
            return match.group(1).strip()
    raise HTTPProblem(400, "bad-request", "Bad Request", "the Link header has no JSON-LD context relation")


def _bad(detail: str) -> HTTPProblem:
    return HTTPProblem(400, "bad-notification", "Bad Request", detail)


async def _upsert(service: Service, entities: list[dict[str, Any]], tenant: str) -> UpsertReport:
    """Upsert the batch; if the store refuses it for good, each entity on its own.

    A refusal for good (GraphStoreError) is the store rejecting data (an IRI the entity rules let
    through, a literal it cannot hold): one bad entity must not refuse the notification's others.
    """
    try:
        return await service.graph.upsert(entities, tenant=tenant)
    except GraphStoreError as error:
        if len(entities) == 1:
            return _refused_by_store(entities[0], error)
    upserted, refused = 0, list[EntityError]()
    for entity in entities:
        try:
            report = await service.graph.upsert([entity], tenant=tenant)
        except GraphStoreError as error:
            report = _refused_by_store(entity, error)
        upserted += report.upserted
        refused += report.refused
    return UpsertReport(upserted, 0, tuple(refused))


def _refused_by_store(entity: Mapping[str, Any], error: GraphStoreError) -> UpsertReport:
    refusal = EntityError(
        f"the graph store refused it: {error}", entity_id=str(entity.get("id")), rule="graph"
    )
    return UpsertReport(0, 0, (refusal,))


def _graph_iri_problems(entity: Mapping[str, Any]) -> list[EntityError]:
    """The entity id must also be an IRI the graph can name (RFC 3987: no ``[``, ``]``, noncharacters,
    private-use code points), else it is refused here rather than failing the graph write."""
    entity_id = entity.get("id")
    try:
        NamedNode(str(entity_id))
    except ValueError as error:
        return [EntityError(f"the id is not an IRI: {error}", entity_id=str(entity_id), rule="iri")]
    return []


def _refusal(entity_id: Any, error: EntityError | ContextRefused) -> dict[str, Any]:
    kind = error.error_type if isinstance(error, EntityError) else "LdContextNotAvailable"
    detail = error.message if isinstance(error, EntityError) else str(error)
    if isinstance(error, EntityError) and error.attribute:
        detail = f"attribute {error.attribute!r}: {detail}"
    return {
        "entityId": entity_id if isinstance(entity_id, str) else None,
        "error": {"type": NGSI_LD_ERRORS + kind, "title": "Invalid entity", "status": 400, "detail": detail},
    }


async def notify_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    key, tenant = service.authenticator.authorize(request, notify=True)
    notification, link, ld = await _read(request, service.settings.max_body_bytes)
    refused: list[dict[str, Any]] = []
    ready = await _in_city_terms(service, request, notification, link=link, ld=ld, refused=refused)
    valid: list[dict[str, Any]] = []
    for entity in ready:
        found = normalized(entity, service.ontology)
        problems = validate_entity(found) or _graph_iri_problems(found)
        if problems:
            refused.append(_refusal(found.get("id"), problems[0]))
        else:
            valid.append(found)
    upserted = 0
    if valid:
        try:
            report = await _upsert(service, valid, tenant)
        except DeliveryError as error:
            raise HTTPProblem(503, "graph-unavailable", "Service Unavailable", str(error)) from None
        upserted = report.upserted
        refused += [_refusal(error.entity_id, error) for error in report.refused]
    log.info(
        "notification %s from %s into %s: %d upserted, %d refused",
        notification.get("subscriptionId"), key.name, tenant, upserted, len(refused),
    )  # fmt: skip
    if not refused:
        return Response(status_code=204)
    report_body = {
        "notificationId": notification.get("id"),
        "subscriptionId": notification.get("subscriptionId"),
        "upserted": upserted,
        "refused": refused,
    }
    return Response(orjson.dumps(report_body), 200, media_type="application/json")


async def _read(request: Request, limit: int) -> tuple[dict[str, Any], str | None, bool]:
    """The notification, its Link @context and whether it is ``application/ld+json``, checked as
    NGSI-LD checks where a request's @context is."""
    kind = media_type(request)
    if kind not in ("application/json", "application/ld+json"):
        raise HTTPProblem(
            415,
            "unsupported-media-type",
            "Unsupported Media Type",
            f"{kind or 'no Content-Type'}: use application/json",
        )
    link = link_context(request.headers.get("link"))
    if kind == "application/ld+json" and link is not None:
        raise _bad("a Link header must not come with application/ld+json (the @context is in the body)")
    body = await read_body(request, limit)
    try:
        notification = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise _bad(f"invalid JSON: {error}") from None
    if not isinstance(notification, dict) or notification.get("type") != "Notification":
        raise _bad('expected a Notification object ({"type": "Notification", "data": [...]})')
    data = notification.get("data")
    if not isinstance(data, list):
        raise _bad("a Notification needs a data array of entities")
    in_body = "@context" in notification or any(isinstance(e, dict) and "@context" in e for e in data)
    if kind == "application/json" and in_body:
        raise _bad("@context in the body of an application/json request: use a Link header")
    return notification, link, kind == "application/ld+json"


async def _in_city_terms(
    service: Service,
    request: Request,
    notification: dict[str, Any],
    *,
    link: str | None,
    ld: bool,
    refused: list[dict[str, Any]],
) -> list[Mapping[str, Any]]:
    """The notification's entities in the city's terms; the ones that cannot be go to ``refused``."""
    own = service.own_context_urls(request)
    default = notification.get("@context", link)
    groups: dict[str, tuple[Any, list[Mapping[str, Any]]]] = {}
    ready: list[Mapping[str, Any]] = []
    for entity in notification["data"]:
        if not isinstance(entity, dict):
            refused.append(_refusal(None, EntityError("an entity must be a JSON object")))
            continue
        context = entity.get("@context", default)
        if ld and context is None:
            refused.append(
                _refusal(entity.get("id"), EntityError("@context missing with application/ld+json"))
            )
            continue
        if context is not None and service.contexts.is_city(context, own):
            ready.append(entity)  # already in the city's terms: the fast path
            continue
        try:
            await service.contexts.prepare(context, own)
        except ContextRefused as error:
            if link is not None:  # one context for the whole request
                raise HTTPProblem(400, "context-refused", "Bad Request", str(error)) from None
            refused.append(_refusal(entity.get("id"), error))
            continue
        groups.setdefault(orjson.dumps(context).decode(), (context, []))[1].append(entity)
    for context, members in groups.values():
        compacted = await asyncio.to_thread(service.contexts.compact, members, context, own)
        for original, entity in zip(members, compacted, strict=True):
            if isinstance(entity, ContextRefused):
                refused.append(_refusal(original.get("id"), entity))
            else:
                ready.append(entity)
    return ready
