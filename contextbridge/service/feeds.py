"""``POST /feeds/{feed_id}``: a webhook feed's requests into its feed, answered once stored.

    POST /feeds/ttn-waste
    X-Api-Key: ...                   (or the feed's HMAC signature header, as its source declares)
    Content-Type: application/json

    {"end_device_ids": {...}, "uplink_message": {...}}

The feed's own source checks the request (its API key or body signature, its size limit), so a
LoRaWAN network server needs only the secret of its feed; a webhook feed that declares neither
takes the service's API keys (a key allowed to write). The answer is 202 once the request's
records are in the outbox (or its rejected records in the dead-letter queue): the sender holds
the data until then, so a crash before loses nothing it does not send again. 503 with
Retry-After when the feed's queue stays full (the outbox is slower than the senders).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.sources import WebhookRefused

from .bodies import read_body
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

STORE_TIMEOUT = 30.0  # seconds a request waits for its records to be stored before a 503


async def feed_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    feed_id = request.path_params["feed_id"]
    webhooks = service.adapter.webhooks if service.adapter is not None else {}
    source = webhooks.get(feed_id)
    if source is None:  # a key first: the feed names are not for anyone to discover
        service.authenticator.authorize(request, write=True)
        raise HTTPProblem(404, "not-found", "Not Found", f"no webhook feed {feed_id!r}")
    if source.api_key is None and source.secret is None:
        service.authenticator.authorize(request, write=True)
    body = await read_body(request, source.max_body)
    try:
        stored = await source.push(body, request.headers, metadata={"path": request.url.path})
        await asyncio.wait_for(stored, STORE_TIMEOUT)
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
