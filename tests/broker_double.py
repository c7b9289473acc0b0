"""A test double of FIWARE Orion-LD: the NGSI-LD requests contextbridge makes, answered as Orion-LD does.

    >>> double = BrokerDouble()
    >>> client = BrokerClient("http://orion", transport=double.transport())   # in process
    >>> with serve(double) as url: ...                                        # real HTTP on loopback
    >>> double.faults.fail(3, status=503); double.faults.drop(1); double.faults.down_for(0.5)

This is a test double, not a broker: an in-memory store behind a starlette app, used because no
MongoDB (so no Orion-LD) runs on the development machines. Its answers follow Orion-LD's documented
behaviour and functional tests (test/functionalTest/cases/0000_ngsild/ of FIWARE/context.Orion-LD,
and the ETSI GS CIM 009 error types):
- batch upsert: ``options=replace`` (the default) drops the attributes not sent, ``options=update``
  merges per attribute and datasetId, any other value 400; 201 with the created ids, 204 when all existed, 207 ``{"success", "errors"}`` when
  some fail (each error ``{"entityId", "error": ProblemDetails}``) and also, with empty ``errors``,
  when it both creates and updates; an empty array, or anything but an array, 400;
- content negotiation: application/json + Link accepted; application/json with ``@context`` in the
  body 400; application/ld+json without ``@context`` 400; application/ld+json with a Link 400;
  other media types 415; bodies over 1 MB 413;
- ``NGSILD-Tenant`` refused (400) unless the broker is multi-tenant; a write creates the tenant, a
  read of an unknown one is 404 NonExistingTenant; ``GET /entities`` needs a filter, ``limit`` ≤ 1000;
- batch create (``/entityOperations/create``): 201 with the ids, 207 with the existing ids in
  ``errors`` (BadRequestData); in a batch, an item that breaks the @context rules (JSON-LD without
  ``@context``, JSON with one) or changes an existing entity's type fails alone (207);
- entity validation (id a URI, names without forbidden characters, attributes well-formed: a
  Relationship's ``object`` a URI, a Point two or three numbers in range, ``observedAt`` a
  timestamp), concise attributes (no ``type``: guessed from ``value``/``object``/``languageMap``/
  ``vocab``/``json``; a bare JSON value is a Property) and ``VocabularyProperty`` accepted, with
  ``createdAt``/``modifiedAt`` dropped silently;
- by default a single-tenant broker (``multiservice=False``, as Orion-LD without ``-multiservice``)
  whose batch upsert replaces existing entities (``options=replace`` is Orion-LD's default).
The rules are taken from Orion-LD's source (FIWARE/context.Orion-LD, cited where each is applied).
Fault injection (``faults``): latency, queued error answers (5xx bursts, 429 with Retry-After),
dropped connections (the write is applied, the answer is cut), and a broker that is down for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
MAX_PAYLOAD = 1_000_000
NAME = re.compile(r"^[A-Za-z0-9_]+$")
FORBIDDEN = set("<>\"'=;() \t\n")
ATTRIBUTE_TYPES = {"Property", "Relationship", "GeoProperty", "LanguageProperty", "ListProperty",
                   "VocabProperty", "VocabularyProperty", "JsonProperty"}  # fmt: skip
# The member that holds an attribute's value, by type; without "type", the member present tells
# the type (pCheckAttribute.cpp, pCheckAttributeObject: value, object, languageMap, vocab, json).
MEMBERS = {"Property": "value", "GeoProperty": "value", "Relationship": "object",
           "LanguageProperty": "languageMap", "VocabProperty": "vocab", "VocabularyProperty": "vocab",
           "JsonProperty": "json"}  # fmt: skip
GEOMETRIES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
SYSTEM = {"createdAt", "modifiedAt"}


def merge_attributes(stored: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """``options=update``: each attribute instance sent replaces the stored one of the same name and
    ``datasetId`` (an attribute with several instances keeps those not sent); the rest stay."""
    merged = dict(stored)
    for key, value in sent.items():
        if key in ("id", "type") or key not in merged:
            merged[key] = value
            continue
        fresh = value if isinstance(value, list) else [value]
        datasets = {item.get("datasetId") for item in fresh if isinstance(item, dict)}
        old = merged[key] if isinstance(merged[key], list) else [merged[key]]
        kept = [item for item in old if not isinstance(item, dict) or item.get("datasetId") not in datasets]
        merged[key] = kept + fresh if kept else value
    return merged


class Dropped(Exception):
    """The double cut the connection after applying the request."""


class Refused(Exception):
    def __init__(self, status: int, kind: str, title: str, detail: str | None = None) -> None:
        self.status, self.kind, self.title, self.detail = status, kind, title, detail


def problem_response(
    status: int, kind: str, title: str, detail: str | None = None, **headers: str
) -> Response:
    body: dict[str, Any] = {"type": ERRORS + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return Response(orjson.dumps(body), status, media_type="application/json", headers=headers or None)


@dataclass
class Faults:
    """What goes wrong, and when. Every API request takes one queued answer, if any."""

    latency: float = 0.0
    answers: deque[tuple[int, float | None]] = field(default_factory=deque)
    drops: int = 0
    down_until: float = 0.0

    def fail(self, count: int, *, status: int = 503, retry_after: float | None = None) -> None:
        self.answers.extend([(status, retry_after)] * count)

    def drop(self, count: int = 1) -> None:
        self.drops += count

    def down_for(self, seconds: float) -> None:
        self.down_until = time.monotonic() + seconds

    @property
    def down(self) -> bool:
        return time.monotonic() < self.down_until


@dataclass
class BrokerDouble:
    multiservice: bool = False  # Orion-LD refuses NGSILD-Tenant unless started with -multiservice
    max_payload: int = MAX_PAYLOAD
    faults: Faults = field(default_factory=Faults)
    tenants: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {"": {}})
    subscriptions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    writes: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (tenant, id, entity)
    upsert_options: list[str] = field(default_factory=list)  # the ``options`` of each batch upsert
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status)
    duplicate_ids: int = 0  # batches that named one id twice (Orion-LD handles them badly)
    refuse_ids: set[str] = field(default_factory=set)  # ids refused with 400 in a 207, as invalid
    links: list[str | None] = field(default_factory=list)  # the Link header of each entity write

    def __post_init__(self) -> None:
        api = "/ngsi-ld/v1"
        routes = [
            Route(api + "/entityOperations/upsert", self.upsert, methods=["POST"]),
            Route(api + "/entityOperations/create", self.batch_create, methods=["POST"]),
            Route(api + "/entities", self.create, methods=["POST"]),
            Route(api + "/entities", self.query, methods=["GET"]),
            Route(api + "/entities/{id:path}/attrs", self.patch, methods=["PATCH"]),
            Route(api + "/entities/{id:path}", self.get, methods=["GET"]),
            Route(api + "/entities/{id:path}", self.delete, methods=["DELETE"]),
            Route(api + "/subscriptions", self.subscribe, methods=["POST"]),
            Route(api + "/subscriptions", self.list_subscriptions, methods=["GET"]),
            Route(api + "/subscriptions/{id:path}", self.unsubscribe, methods=["DELETE"]),
        ]
        self.app = Starlette(routes=routes)

    def entities(self, tenant: str = "") -> dict[str, dict[str, Any]]:
        return self.tenants.get(tenant, {})

    def transport(self) -> httpx.AsyncBaseTransport:
        """An in-process transport: down → connection refused, dropped → read error."""
        return _Transport(self)

    # --- ASGI entry: faults first ---------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        faults = self.faults
        if faults.latency:
            await asyncio.sleep(faults.latency)
        if faults.answers:
            status, retry_after = faults.answers.popleft()
            headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
            kind = "InternalError" if status >= 500 else "BadRequestData"
            response = problem_response(status, kind, f"injected {status}", **headers)
            self.requests.append((scope["method"], scope["path"], status))
            return await response(scope, receive, send)
        if faults.drops:
            faults.drops -= 1
            await self.app(scope, receive, _discard)  # the write happens; its answer never arrives
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]}
            )
            raise Dropped("connection dropped by the broker double")
        await self.app(scope, receive, send)

    # --- request checks, as Orion-LD makes them ---------------------------------------------------

    def _tenant(self, request: Request, *, write: bool) -> str:
        tenant = request.headers.get("NGSILD-Tenant", "")
        if tenant and not self.multiservice:
            raise Refused(400, "BadRequestData", "Tenant not supported", "the broker is not multi-tenant")
        if tenant and tenant not in self.tenants:
            if not write:
                raise Refused(404, "NonExistingTenant", "No such tenant", tenant)
            self.tenants[tenant] = {}
        return tenant

    async def _payload(self, request: Request, *, batch: bool = False) -> Any:
        """The body, checked as Orion-LD checks it. ``batch``: the @context rules are each item's
        (batchEntitiesFinalCheck.cpp: an item that breaks them fails alone, in the 207)."""
        body = await request.body()
        if len(body) > self.max_payload:
            raise Refused(413, "BadRequestData", "Payload too large", f"{len(body)} bytes")
        media = request.headers.get("content-type", "").split(";")[0].strip()
        if media not in ("application/json", "application/ld+json"):
            # mhdConnectionInit.cpp: OrionldBadRequestData "unsupported format of payload", 415
            raise Refused(415, "BadRequestData", "unsupported format of payload", media)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise Refused(400, "InvalidRequest", "JSON Parse Error", str(error)) from None
        link = request.headers.get("link")
        self.links.append(link)
        items = [] if batch else payload if isinstance(payload, list) else [payload]
        with_context = any(isinstance(item, dict) and "@context" in item for item in items)
        if media == "application/ld+json" and link:
            raise Refused(400, "BadRequestData", "Link header must not be used with application/ld+json")
        if media == "application/ld+json" and not all(isinstance(i, dict) and "@context" in i for i in items):
            raise Refused(400, "BadRequestData", "@context missing in payload with application/ld+json")
        if media == "application/json" and with_context:
            raise Refused(400, "BadRequestData", "@context in payload with application/json")
        if link and 'rel="http://www.w3.org/ns/json-ld#context"' not in link:
            raise Refused(400, "BadRequestData", "Link header without the JSON-LD context relation")
        return payload

    async def _handle(self, request: Request, work: Any) -> Response:
        try:
            response: Response = await work()
        except Refused as refused:
            response = problem_response(refused.status, refused.kind, refused.title, refused.detail)
        self.requests.append((request.method, request.url.path, response.status_code))
        return response

    # --- batch upsert -----------------------------------------------------------------------------

    async def _batch(self, request: Request) -> tuple[str, list[Any]]:
        tenant = self._tenant(request, write=True)
        payload = await self._payload(request, batch=True)
        if not isinstance(payload, list):
            raise Refused(400, "BadRequestData", "Invalid payload", "not a JSON array")
        if not payload:
            raise Refused(400, "BadRequestData", "Invalid payload", "empty array")
        return tenant, payload

    def _refusal(self, request: Request, item: Any) -> str | None:
        """Why one item of a batch fails on its own (the @context rules, then the entity's)."""
        media = request.headers.get("content-type", "").split(";")[0].strip()
        if isinstance(item, dict) and media == "application/ld+json" and "@context" not in item:
            return "Content-Type is 'application/ld+json', but no @context in payload data array item"
        if isinstance(item, dict) and media == "application/json" and "@context" in item:
            return "Content-Type is 'application/json', and an @context is present in the payload data array item"
        entity_id = item.get("id") if isinstance(item, dict) else None
        return validate(item) or ("refused by the test" if entity_id in self.refuse_ids else None)

    async def upsert(self, request: Request) -> Response:
        async def work() -> Response:
            tenant, payload = await self._batch(request)
            # Orion-LD's default is replace (the attributes not sent are dropped); ``update`` merges:
            # each attribute instance sent replaces the one of the same name and datasetId.
            options = request.query_params.get("options")
            if options not in (None, "replace", "update"):
                raise Refused(400, "BadRequestData", "Invalid value for uri parameter 'options'", options)
            replace = options != "update"  # orionldPostBatchUpsert.cpp: "replace is default"
            self.upsert_options.append(options or "replace")
            ids = [item.get("id") for item in payload if isinstance(item, dict)]
            if len(set(ids)) != len(ids):
                self.duplicate_ids += 1
            store = self.tenants[tenant]
            created, updated, errors = [], [], []
            for item in payload:
                entity_id = item.get("id") if isinstance(item, dict) else None
                reason = self._refusal(request, item)
                # batchEntitiesFinalCheck.cpp: unless options=replace, "the Entity Type cannot be altered"
                if (
                    not reason
                    and entity_id in store
                    and options != "replace"
                    and store[entity_id]["type"] != item["type"]
                ):
                    reason = "the Entity Type cannot be altered"
                if reason:
                    error = {"type": ERRORS + "BadRequestData", "title": reason, "status": 400}
                    errors.append({"entityId": str(entity_id), "error": error})
                    continue
                entity = {
                    key: value for key, value in item.items() if key not in SYSTEM and key != "@context"
                }
                if entity["id"] in store and not replace:
                    merged = merge_attributes(store[entity["id"]], entity)
                    updated.append(entity["id"])
                else:
                    merged = entity
                    (updated if entity["id"] in store else created).append(entity["id"])
                store[entity["id"]] = merged
                self.writes.append((tenant, entity["id"], entity))
            if errors or (created and updated):
                body = {"success": created + updated, "errors": errors}
                return Response(orjson.dumps(body), 207, media_type="application/json")
            if created:
                return Response(orjson.dumps(created), 201, media_type="application/json")
            return Response(status_code=204)

        return await self._handle(request, work)

    async def batch_create(self, request: Request) -> Response:
        async def work() -> Response:
            tenant, payload = await self._batch(request)
            store = self.tenants[tenant]
            created, errors = [], []
            for item in payload:
                entity_id = item.get("id") if isinstance(item, dict) else None
                reason = self._refusal(request, item)
                if not reason and (entity_id in store or entity_id in created):
                    reason = "Entity already exists"  # a BadRequestData item of the 207, as Orion-LD answers
                if reason:
                    error = {"type": ERRORS + "BadRequestData", "title": reason, "status": 400}
                    errors.append({"entityId": str(entity_id), "error": error})
                    continue
                entity = {
                    key: value for key, value in item.items() if key not in SYSTEM and key != "@context"
                }
                store[entity["id"]] = entity
                created.append(entity["id"])
                self.writes.append((tenant, entity["id"], entity))
            if errors:
                body = {"success": created, "errors": errors}
                return Response(orjson.dumps(body), 207, media_type="application/json")
            return Response(orjson.dumps(created), 201, media_type="application/json")

        return await self._handle(request, work)

    # --- single entities --------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        async def work() -> Response:
            tenant = self._tenant(request, write=True)
            item = await self._payload(request)
            if reason := validate(item):
                raise Refused(400, "BadRequestData", reason)
            if item["id"] in self.tenants[tenant]:
                raise Refused(409, "AlreadyExists", "Entity already exists", item["id"])
            entity = {key: value for key, value in item.items() if key not in SYSTEM and key != "@context"}
            self.tenants[tenant][item["id"]] = entity
            self.writes.append((tenant, item["id"], entity))
            return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/entities/{item['id']}"})

        return await self._handle(request, work)

    def _existing(self, request: Request, *, write: bool) -> tuple[str, str]:
        tenant = self._tenant(request, write=write)
        entity_id = request.path_params["id"]
        if entity_id not in self.tenants.get(tenant, {}):
            raise Refused(404, "ResourceNotFound", "Entity not found", entity_id)
        return tenant, entity_id

    async def get(self, request: Request) -> Response:
        async def work() -> Response:
            tenant, entity_id = self._existing(request, write=False)
            return Response(orjson.dumps(self.tenants[tenant][entity_id]), media_type="application/json")

        return await self._handle(request, work)

    async def patch(self, request: Request) -> Response:
        async def work() -> Response:
            tenant, entity_id = self._existing(request, write=True)
            attributes = await self._payload(request)
            if not isinstance(attributes, dict):
                raise Refused(400, "BadRequestData", "Invalid payload", "not a JSON object")
            self.tenants[tenant][entity_id].update({k: v for k, v in attributes.items() if k != "@context"})
            return Response(status_code=204)

        return await self._handle(request, work)

    async def delete(self, request: Request) -> Response:
        async def work() -> Response:
            tenant, entity_id = self._existing(request, write=True)
            del self.tenants[tenant][entity_id]
            return Response(status_code=204)

        return await self._handle(request, work)

    async def query(self, request: Request) -> Response:
        async def work() -> Response:
            params = request.query_params
            if not any(key in params for key in ("type", "id", "idPattern", "q", "attrs", "geoQ")):
                raise Refused(400, "BadRequestData", "Too broad query", "no filter: type, id, q, attrs, ...")
            limit, offset = int(params.get("limit", "20")), int(params.get("offset", "0"))
            if limit > 1000:
                raise Refused(400, "BadRequestData", "Invalid value for URI parameter /limit/", "max 1000")
            tenant = self._tenant(request, write=False)
            found = [
                entity
                for entity in self.tenants.get(tenant, {}).values()
                if ("type" not in params or entity["type"] in params["type"].split(","))
                and ("id" not in params or entity["id"] in params["id"].split(","))
            ]
            headers = {"NGSILD-Results-Count": str(len(found))} if params.get("count") == "true" else None
            page = found[offset : offset + limit]
            return Response(orjson.dumps(page), media_type="application/json", headers=headers)

        return await self._handle(request, work)

    # --- subscriptions ----------------------------------------------------------------------------

    async def subscribe(self, request: Request) -> Response:
        async def work() -> Response:
            tenant = self._tenant(request, write=True)
            item = await self._payload(request)
            store = self.subscriptions.setdefault(tenant, {})
            if not isinstance(item, dict) or item.get("type") != "Subscription":
                raise Refused(400, "BadRequestData", "Invalid subscription", "type must be Subscription")
            if not (item.get("notification") or {}).get("endpoint", {}).get("uri"):
                raise Refused(400, "BadRequestData", "Invalid subscription", "notification endpoint missing")
            if not item.get("entities") and not item.get("watchedAttributes"):
                raise Refused(400, "BadRequestData", "Invalid subscription", "entities or watchedAttributes")
            subscription_id = item.get("id") or f"urn:ngsi-ld:Subscription:{len(store) + 1}"
            if subscription_id in store:
                raise Refused(409, "AlreadyExists", "Subscription already exists", subscription_id)
            store[subscription_id] = {**item, "id": subscription_id}
            location = f"/ngsi-ld/v1/subscriptions/{subscription_id}"
            return Response(status_code=201, headers={"Location": location})

        return await self._handle(request, work)

    async def list_subscriptions(self, request: Request) -> Response:
        async def work() -> Response:
            tenant = self._tenant(request, write=False)
            return Response(
                orjson.dumps(list(self.subscriptions.get(tenant, {}).values())), media_type="application/json"
            )

        return await self._handle(request, work)

    async def unsubscribe(self, request: Request) -> Response:
        async def work() -> Response:
            tenant = self._tenant(request, write=True)
            if self.subscriptions.get(tenant, {}).pop(request.path_params["id"], None) is None:
                raise Refused(404, "ResourceNotFound", "Subscription not found", request.path_params["id"])
            return Response(status_code=204)

        return await self._handle(request, work)


def validate(item: Any) -> str | None:
    """Why Orion-LD would refuse this entity, or None."""
    if not isinstance(item, dict):
        return "Invalid entity: not a JSON object"
    entity_id, kind = item.get("id"), item.get("type")
    if not isinstance(entity_id, str) or ":" not in entity_id or any(c in FORBIDDEN for c in entity_id):
        return "Invalid Entity ID: not a URI"
    if not isinstance(kind, str) or not valid_name(kind):
        return "Invalid entity type name"
    for name, attribute in item.items():
        if name in ("id", "type", "@context", "scope", *SYSTEM):
            continue
        if not valid_name(name):
            return f"Invalid attribute name: {name}"
        # an array of attribute objects is a multi-attribute; of anything else, a concise Property's value
        several = isinstance(attribute, list) and attribute and all(isinstance(i, dict) for i in attribute)
        for instance in attribute if several else [attribute]:
            if reason := invalid_attribute(name, instance):
                return reason
    return None


def valid_name(name: str) -> bool:
    return bool(NAME.match(name)) or (":" in name and not any(c in FORBIDDEN for c in name))


def invalid_attribute(name: str, attribute: Any) -> str | None:
    """Why Orion-LD would refuse this attribute instance (pCheckAttribute.cpp), or None."""
    if attribute is None:  # pCheckAttributeNull
        return f"Invalid attribute: {name}: the use of NULL value is not recommended for JSON-LD"
    if not isinstance(attribute, dict):
        return None  # concise: a JSON value alone is a Property (pCheckAttributeString, ...Integer, ...)
    kind = attribute.get("type")
    if kind is None:  # concise: the member present tells the type
        kind = next((k for k, member in MEMBERS.items() if member in attribute), None)
        if kind is None:
            return f"Invalid attribute: {name}: missing value/object/languageMap field"
        if kind == "Property" and is_geojson(attribute["value"]):
            kind = "GeoProperty"
    elif kind not in ATTRIBUTE_TYPES:
        if is_geojson(attribute):  # a GeoJSON geometry alone: a GeoProperty's value
            return invalid_geometry(name, attribute)
        return f"Invalid value for attribute /type/: {name}"
    member = MEMBERS.get(kind)
    if member and attribute.get(member) is None:
        return f"Invalid {kind}: {name}: missing /{member}/ field"
    if kind == "Relationship":  # objectCheck: a URI, or an array of URIs
        targets = attribute["object"] if isinstance(attribute["object"], list) else [attribute["object"]]
        if not all(is_uri(target) for target in targets):
            return f"Invalid Relationship: {name}: object is not a URI"
    if kind == "LanguageProperty" and not isinstance(attribute["languageMap"], dict):
        return f"Invalid LanguageProperty: {name}: no languageMap"
    if kind == "GeoProperty":
        value = attribute["value"]
        if not is_geojson(value):
            return f"Invalid GeoProperty: {name}: not a GeoJSON geometry"
        if reason := invalid_geometry(name, value):
            return reason
    if "observedAt" in attribute and not is_timestamp(attribute["observedAt"]):  # timestampCheck
        return f"Invalid ISO8601 timestamp: {name}.observedAt"
    return None


def is_uri(text: Any) -> bool:
    return isinstance(text, str) and ":" in text and not any(c in FORBIDDEN for c in text)


def is_geojson(value: Any) -> bool:
    """isGeoJsonValue: an object of a geometry ``type`` and a ``coordinates`` array."""
    return (
        isinstance(value, dict)
        and value.get("type") in GEOMETRIES
        and isinstance(value.get("coordinates"), list)
    )


def invalid_geometry(name: str, value: dict[str, Any]) -> str | None:
    """pCheckGeoPointCoordinates.cpp: a Point is two or three numbers, longitude then latitude."""
    if value["type"] != "Point":
        return None
    point = value["coordinates"]
    if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in point) or len(point) not in (
        2,
        3,
    ):
        return f"Invalid GeoJSON: {name}: a Point has two or three numbers"
    if not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90):
        return f"Invalid GeoJSON: {name}: longitude or latitude out of range"
    return None


def is_timestamp(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


async def _discard(message: Any) -> None:
    return None


class _Transport(httpx.AsyncBaseTransport):
    def __init__(self, double: BrokerDouble) -> None:
        self.double = double
        self.inner = httpx.ASGITransport(app=double)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.double.faults.down:
            raise httpx.ConnectError("connection refused (broker double down)", request=request)
        try:
            return await self.inner.handle_async_request(request)
        except Dropped as error:
            raise httpx.ReadError(str(error), request=request) from error


@contextlib.contextmanager
def serve(app: Any, *, port: int = 0) -> Iterator[str]:
    """Serve the double (or any ASGI app) with uvicorn on a loopback port (0: a free one) in a
    thread; yields its base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
