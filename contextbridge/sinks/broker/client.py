"""The async NGSI-LD client for Orion-LD: batch upsert, entities, queries, subscriptions.

    >>> async with BrokerClient("http://orion:1026", tenant="santander",
    ...                         context_url="https://city.example/context.jsonld") as broker:
    ...     for batch in broker.batches(entities):
    ...         result = await broker.upsert(batch)   # BatchResult: success, errors, missing

Errors are translated here, at the boundary, by what the caller does next: ``DeliveryError`` for
what may work later (connection refused or dropped, timeout, 408, 429, 5xx, and 401/403, which a
credential fix cures without touching the data), ``BrokerError`` with the broker's ProblemDetails
for a refusal (400, 404, 409, 413, 422, ...). A 207 is not an error: its ``BatchResult`` names the
entities that failed. ``transport=`` is the test seam, as in httpx.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson

from ...delivery.sink import DEFAULT_BATCH_SIZE, RETRYABLE, BatchResult, Entity
from ...entities.updates import UpdatePolicy
from ...errors import BrokerError, DeliveryError
from ...remote.problemdetails import as_problem
from ...remote.retry import retry_after
from .batches import BrokerBatch, batch_result, link_header, pack, pack_encoded
from .options import MAX_BATCH_BYTES
from .url import BrokerUrl

API = "/ngsi-ld/v1"
Options = Literal["update", "replace"]
OPTIONS: dict[str, Options] = {"replace": "replace", "merge": "update"}  # an update policy → ``options``


@dataclass(frozen=True)
class QueryPage:
    """One page of a query; ``count`` is the broker's total when asked for (``count=True``)."""

    entities: list[dict[str, Any]]
    count: int | None


class BrokerClient:
    """One Orion-LD (or any NGSI-LD broker) endpoint, with its connection pool."""

    def __init__(
        self,
        url: str,
        *,
        tenant: str | None = None,
        auth: httpx.Auth | None = None,
        context_url: str | None = None,
        options: Literal["update", "replace"] = "update",
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        timeout: float = 30.0,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        max_connections: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if options not in ("update", "replace"):
            raise ValueError(f"options must be 'update' or 'replace', not {options!r}")
        if batch_size < 1 or max_batch_bytes < 1024:
            raise ValueError("batch_size must be ≥ 1 and max_batch_bytes ≥ 1024")
        self.url = str(BrokerUrl(url))  # a malformed URL is refused here, not retried
        self.tenant = tenant
        self.context_url = context_url
        self.options = options
        self.batch_size = batch_size
        self.max_batch_bytes = max_batch_bytes
        self._http = httpx.AsyncClient(
            base_url=self.url + API,
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=verify,
            cert=cert,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def __aenter__(self) -> BrokerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- batches -------------------------------------------------------------------------------

    def batches(self, entities: Sequence[Entity]) -> list[BrokerBatch]:
        """``entities`` packed in batches this client may send (by count and bytes, latest per id)."""
        return pack(
            entities, max_count=self.batch_size, max_bytes=self.max_batch_bytes, context=self.context_url
        )

    def encoded_batches(self, entities: Sequence[tuple[str, bytes]]) -> list[BrokerBatch]:
        """``batches`` of entities already encoded, as (id, JSON) pairs: sent as they are."""
        return pack_encoded(
            entities, max_count=self.batch_size, max_bytes=self.max_batch_bytes, context=self.context_url
        )

    async def upsert(
        self,
        batch: BrokerBatch | Sequence[Entity],
        *,
        tenant: str | None = None,
        policy: UpdatePolicy | None = None,
    ) -> BatchResult:
        """POST one batch to ``entityOperations/upsert``; ``tenant`` overrides the client's.

        ``policy`` says what the entities are: whole states are sent with ``options=replace``
        (the broker drops the attributes not sent), partial ones with ``options=update`` (it keeps
        them); without it, the client's ``options``."""
        if not isinstance(batch, BrokerBatch):
            packed = pack(batch, max_count=len(batch) or 1, max_bytes=1 << 62, context=self.context_url)
            if not packed:
                raise ValueError("upsert needs at least one entity (Orion-LD refuses an empty batch)")
            if len(packed) > 1:
                raise ValueError("entities of several types and a per-type @context: send batches()")
            batch = packed[0]
        if not batch.ids:
            raise ValueError("upsert needs at least one entity (Orion-LD refuses an empty batch)")
        response = await self._send(
            "POST",
            "/entityOperations/upsert",
            params={"options": self.options if policy is None else OPTIONS[policy.update]},
            content=batch.body,
            ld=batch.ld,
            tenant=tenant,
            context=batch.context,
        )
        return batch_result(response.status_code, _json(response), batch.ids)

    # --- single entities -----------------------------------------------------------------------

    async def create_entity(self, entity: Entity, *, tenant: str | None = None) -> None:
        body = pack([entity], max_count=1, max_bytes=1 << 62, context=self.context_url)[0]
        await self._send(
            "POST", "/entities", content=body.body[1:-1], ld=body.ld, tenant=tenant, context=body.context
        )

    async def update_entity(self, entity_id: str, attributes: Entity, *, tenant: str | None = None) -> None:
        """PATCH the attributes of an existing entity (``/entities/{id}/attrs``)."""
        ld = "@context" in attributes
        path = f"/entities/{_segment(entity_id)}/attrs"
        await self._send("PATCH", path, content=orjson.dumps(attributes), ld=ld, tenant=tenant)

    async def delete_entity(self, entity_id: str, *, tenant: str | None = None) -> None:
        await self._send("DELETE", f"/entities/{_segment(entity_id)}", tenant=tenant)

    async def get_entity(self, entity_id: str, *, tenant: str | None = None) -> dict[str, Any] | None:
        """The entity in normalized form, or None when the broker does not have it."""
        try:
            response = await self._send("GET", f"/entities/{_segment(entity_id)}", tenant=tenant)
        except BrokerError as error:
            if error.status == 404:
                return None
            raise
        return dict(response.json())

    async def query(
        self,
        *,
        type: str | None = None,
        ids: Sequence[str] = (),
        q: str | None = None,
        attrs: Sequence[str] = (),
        limit: int = 100,
        offset: int = 0,
        count: bool = False,
        tenant: str | None = None,
    ) -> QueryPage:
        """One page of ``GET /entities`` (Orion-LD needs a filter and caps ``limit`` at 1000)."""
        params: dict[str, str] = {"limit": str(limit), "offset": str(offset)}
        for key, value in (("type", type), ("q", q), ("id", ",".join(ids)), ("attrs", ",".join(attrs))):
            if value:
                params[key] = value
        if count:
            params["count"] = "true"
        response = await self._send("GET", "/entities", params=params, tenant=tenant)
        total = response.headers.get("NGSILD-Results-Count")
        return QueryPage(list(response.json()), int(total) if total is not None else None)

    async def query_all(self, *, page_size: int = 1000, **filters: Any) -> AsyncIterator[dict[str, Any]]:
        """Every entity matching ``filters``, page after page."""
        offset = 0
        while True:
            page = await self.query(limit=page_size, offset=offset, **filters)
            for entity in page.entities:
                yield entity
            if len(page.entities) < page_size:
                return
            offset += page_size

    # --- subscriptions -------------------------------------------------------------------------

    async def create_subscription(self, subscription: Entity, *, tenant: str | None = None) -> str:
        """Create a subscription; its id (from the answer's Location, or the one sent)."""
        ld = "@context" in subscription
        response = await self._send(
            "POST", "/subscriptions", content=orjson.dumps(subscription), ld=ld, tenant=tenant
        )
        location = response.headers.get("Location", "")
        return location.rsplit("/", 1)[-1] or str(subscription.get("id", ""))

    async def subscriptions(self, *, limit: int = 1000, tenant: str | None = None) -> list[dict[str, Any]]:
        response = await self._send("GET", "/subscriptions", params={"limit": str(limit)}, tenant=tenant)
        return list(response.json())

    async def delete_subscription(self, subscription_id: str, *, tenant: str | None = None) -> None:
        await self._send("DELETE", f"/subscriptions/{_segment(subscription_id)}", tenant=tenant)

    # --- the one place requests leave and errors are translated --------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        ld: bool = False,
        tenant: str | None = None,
        context: str | None = None,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        if content is not None:
            headers["Content-Type"] = "application/ld+json" if ld else "application/json"
        context = context or self.context_url
        if context and "{type}" not in context and not ld:
            # With ld+json the @context is in the body and a Link header is an error (400).
            headers["Link"] = link_header(context)
        tenant = tenant if tenant is not None else self.tenant
        if tenant:  # Orion-LD without -multiservice refuses the header: send it only when asked
            headers["NGSILD-Tenant"] = tenant
        try:
            response = await self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.TransportError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}", url=self.url + API + path) from error
        status = response.status_code
        if status < 400:
            return response
        url = str(response.request.url)
        if status in RETRYABLE:
            wait = retry_after(response.headers.get("Retry-After"))
            raise DeliveryError(f"broker answered {status}", url=url, status=status, retry_after=wait)
        problem = as_problem(_json(response), status=status, text=response.text)
        raise BrokerError(problem, status=status, url=url)


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _segment(value: str) -> str:
    """An id as one path segment (entity ids are URIs: their '/' and '#' must be escaped)."""
    return quote(value, safe=":")
