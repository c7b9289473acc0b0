"""``POST /playground/draft``: a first mapping proposed from a payload, as ``contextbridge draft``.

    POST /playground/draft   X-API-Key: ...   (a read key: nothing is stored)
    {"payload": "{\\"resources\\": [...]}", "name": "parking.json", "type": null, "format": null,
     "tz": "Europe/Madrid"}
    → 200 {"mapping": "# Drafted by ...\\nid: parking\\n...", "type": "ParkingSpot",
           "ranking": [{"type", "score", "reasons"}], "attributes": 5}

The draft is pure and bounded (at most 500 records and 200 fields are profiled, in well under a
second); it runs in a worker thread so the event loop keeps serving, at most ``CONCURRENCY`` at
once (503 ``busy`` beyond). A payload the draft cannot read, or an unknown type, is a 400.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.authoring.drafting import Draft, draft_mapping
from contextbridge.errors import ConfigError

from .bodies import read_json, text_member
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

CONCURRENCY = 2
# A thread semaphore, not an asyncio one: it binds to no event loop (tests run several).
_RUNNING = threading.BoundedSemaphore(CONCURRENCY)


def _optional(data: dict[str, Any], name: str) -> str | None:
    return text_member(data, name) if data.get(name) is not None else None


async def draft_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    service.authenticator.authorize(request)
    data = await read_json(request, service.settings.max_body_bytes)
    payload = text_member(data, "payload").encode("utf-8")
    options = {name: _optional(data, name) for name in ("name", "type", "format", "tz")}
    if not _RUNNING.acquire(blocking=False):
        raise HTTPProblem(503, "busy", "Service Unavailable", f"{CONCURRENCY} drafts are running: try again")

    def run() -> Draft:
        try:
            return draft_mapping(
                payload,
                name=options["name"] or "",
                type_name=options["type"],
                format=options["format"],
                tz=options["tz"] or "UTC",
                ontology=service.ontology,
            )
        finally:  # in the thread: a request that goes away does not free its slot early
            _RUNNING.release()

    try:
        draft = await asyncio.to_thread(run)
    except (ConfigError, ValueError) as error:
        raise HTTPProblem(400, "bad-request", "Bad Request", f"cannot draft a mapping: {error}") from None
    ranking = [{"type": r.type, "score": r.score, "reasons": list(r.reasons)} for r in draft.ranking[:3]]
    return JSONResponse(
        {"mapping": draft.text, "type": draft.type, "ranking": ranking, "attributes": draft.proposed}
    )
