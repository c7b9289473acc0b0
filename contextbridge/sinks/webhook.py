"""A plain HTTP/JSON webhook as a sink: each batch of NGSI-LD entities POSTed as a JSON array.

    >>> async with WebhookSink("https://hooks.city.example/entities", name="alerts",
    ...                        secret="s3cr3t", auth=BearerToken("t0ken")) as hook:
    ...     await Drainer(outbox, hook, DrainSettings(sink="alerts")).run()

For a system that speaks neither NGSI-LD nor SPARQL (a data lake's ingestion endpoint, a
serverless function, a message bus's HTTP bridge). Configured in the ``webhooks:`` section of the
configuration; each webhook is one more sink of the outbox, with its own cursor, retries and dead
letters, as the broker and the graph have.

The request: ``POST url`` with ``Content-Type: application/json``, the body a JSON array of the
entities in normalized NGSI-LD (as the outbox holds them), and these headers: ``NGSILD-Tenant``
(when the entities belong to a tenant), ``Contextbridge-Update`` (``replace``: whole states;
``merge``: partial ones), ``Contextbridge-Sink`` (the webhook's name) and, with a ``secret``, a
signature of the body: ``X-Contextbridge-Signature: sha256=<hex HMAC-SHA256 of the body>`` (as
GitHub's ``X-Hub-Signature-256``; the receiver computes the same and compares in constant time).
Authentication (``auth``: bearer token, API key header or OAuth2 client credentials) and fixed
``headers`` are added as configured.

The answer, read as the broker's is: any 2xx means every entity of the batch was taken. A
connection failure, a timeout, 401, 403, 408, 425, 429 and 5xx are transient: the batch is sent
again later (after the ``Retry-After`` when the webhook gives one), the entities waiting in the
outbox meanwhile; so is an answer that is not one (1xx, 3xx: redirects are not followed). Any
other 4xx refuses the batch: the drainer halves it until each refused
entity stands alone and dead-letters it with the answer as a ProblemDetails (the body itself when
the webhook answers ``application/problem+json``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from ..delivery.sink import DEFAULT_BATCH_SIZE, RETRYABLE, BatchResult, Entity, EntityBatch, chunks
from ..entities.updates import REPLACE, UpdatePolicy
from ..errors import DeliveryError, SinkRefused
from ..remote.problemdetails import as_problem
from ..remote.retry import retry_after

SIGNATURE = "X-Contextbridge-Signature"


def signature(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookSink:
    """One webhook URL, with its connection pool."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "webhook",
        secret: str | None = None,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: float = 30.0,
        verify: bool | str = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook {name}: expected an http:// or https:// URL, got {url!r}")
        if batch_size < 1:
            raise ValueError(f"webhook {name}: batch_size must be ≥ 1")
        self.url = url
        self.name = name
        self.batch_size = batch_size
        self._secret = secret
        self._http = httpx.AsyncClient(
            auth=auth,
            headers={**(headers or {}), "Contextbridge-Sink": name},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=verify,
            transport=transport,
        )

    async def __aenter__(self) -> WebhookSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def batches(self, entities: Sequence[Entity]) -> list[EntityBatch]:
        return chunks(entities, self.batch_size)

    async def upsert(
        self, batch: EntityBatch, *, tenant: str | None = None, policy: UpdatePolicy = REPLACE
    ) -> BatchResult:
        """POST the batch; every entity taken (2xx), or ``DeliveryError`` / ``SinkRefused``."""
        body = orjson.dumps(list(batch.entities))
        headers = {"Content-Type": "application/json", "Contextbridge-Update": policy.update}
        if tenant:
            headers["NGSILD-Tenant"] = tenant
        if self._secret is not None:
            headers[SIGNATURE] = signature(self._secret, body)
        try:
            response = await self._http.post(self.url, content=body, headers=headers)
        except httpx.TransportError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}", url=self.url) from error
        status = response.status_code
        if 200 <= status < 300:
            return BatchResult(success=tuple(batch.ids))
        if status in RETRYABLE or not 400 <= status < 500:  # 5xx, or a 1xx/3xx: not an answer
            wait = retry_after(response.headers.get("Retry-After"))
            raise DeliveryError(f"webhook answered {status}", url=self.url, status=status, retry_after=wait)
        problem = as_problem(_json(response), status=status, text=response.text)
        raise SinkRefused(problem, status=status, url=self.url)


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None
