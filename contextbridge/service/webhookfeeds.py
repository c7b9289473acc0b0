"""``POST /feeds/{feed_id}``: a webhook feed's requests into its feed, answered once stored.

    POST /feeds/ttn-waste
    X-Api-Key: ...                   (or the feed's HMAC signature header, as its source declares)
    Content-Type: application/json

    {"end_device_ids": {...}, "uplink_message": {...}}

The feed's own source checks the request (its API key or body signature, its size limit), so a
LoRaWAN network server needs only the secret of its feed; a webhook feed that declares neither
takes the service's API keys: a key allowed to write to the feed's own tenant, whatever tenant
the request's headers name (the records land in the feed's tenant). A request without valid
credentials gets the same 401 whether the feed exists or not, and whatever the size of its body:
credentials are judged first, and only a sender whose credentials hold hears that its body is too
large (413), so that feed names are not for strangers to discover (a signed body is read and
hashed up to a bound, see :mod:`contextbridge.sources.webhook`). The answer is 202 once the request's
records are in the outbox (or its rejected records in the dead-letter queue): the sender holds
the data until then, so a crash before loses nothing it does not send again. 503 with
Retry-After when the feed's queue stays full (the outbox is slower than the senders).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.errors import PayloadTooLarge, WebhookAuthError
from contextbridge.sinks.graph.base import DEFAULT_TENANT
from contextbridge.sources import WebhookRefused, WebhookSource

from .bodies import read_body
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

STORE_TIMEOUT = 30.0  # seconds a request waits for its records to be stored before a 503


def _stranger() -> HTTPProblem:
    """One answer for every request without valid credentials, whether the feed exists or not."""
    return HTTPProblem(
        401,
        "unauthorized",
        "Unauthorized",
        "the feed's key or signature, or an API key that may write to its tenant, is needed",
        headers={"WWW-Authenticate": 'Bearer realm="contextbridge"'},
    )


def _service_key(service: Service, request: Request, tenant: str | None) -> None:
    """A key of the service that may write to ``tenant`` (None: any known key); else 401/403."""
    try:
        if tenant is None:
            service.authenticator.identify(request)
        else:
            service.authenticator.authorize(request, write=True, tenant=tenant)
    except HTTPProblem as problem:
        if problem.status == 401:
            raise _stranger() from None
        raise


async def feed_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    feed_id = request.path_params["feed_id"]
    runner = next(
        (feed for feed in service.adapter.feeds if feed.id == feed_id) if service.adapter else iter(()),
        None,
    )
    source = runner.source if runner is not None else None
    if runner is None or not isinstance(source, WebhookSource):
        _service_key(service, request, None)  # the names are for key holders
        raise HTTPProblem(404, "not-found", "Not Found", f"no webhook feed {feed_id!r}")
    if source.api_key is None and source.secret is None:
        _service_key(service, request, runner.tenant or DEFAULT_TENANT)
        body = await read_body(request, source.max_body)
    else:  # the feed's own key or signature, judged before the size
        declared = request.headers.get("content-length", "")
        try:
            body = await source.receive(
                request.stream(), request.headers, length=int(declared) if declared.isdigit() else None
            )
        except WebhookAuthError:
            raise _stranger() from None
        except PayloadTooLarge:
            limit = f"the body is over {source.max_body:,} bytes"
            raise HTTPProblem(413, "payload-too-large", "Payload Too Large", limit) from None
    try:
        stored = await source.push(body, request.headers, metadata={"path": request.url.path})
        await asyncio.wait_for(stored, STORE_TIMEOUT)
    except WebhookAuthError:
        raise _stranger() from None
    except WebhookRefused as error:
        wait = getattr(error, "retry_after", None)  # WebhookBusy says how long
        headers = {"Retry-After": f"{wait:g}"} if wait else None
        kind = _KINDS.get(error.status, "refused")
        raise HTTPProblem(error.status, kind, "Refused", str(error), headers=headers) from None
    except TimeoutError:
        raise HTTPProblem(
            503,
            "not-stored",
            "Service Unavailable",
            "the records were not stored in time; send again",
            headers={"Retry-After": "5"},
        ) from None
    except Exception as error:  # nacked: the outbox could not take them
        raise HTTPProblem(503, "not-stored", "Service Unavailable", f"not stored: {error}") from error
    return JSONResponse({"feed": feed_id, "status": "stored"}, 202)


_KINDS = {401: "unauthorized", 413: "payload-too-large", 503: "busy"}
