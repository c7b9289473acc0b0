"""``POST /playground/draft``: a first mapping proposed from a payload, as ``contextbridge draft``.

    POST /playground/draft   X-API-Key: ...   (a read key: nothing is stored)
    {"payload": "{\\"resources\\": [...]}", "name": "parking.json", "type": null, "format": null,
     "tz": "Europe/Madrid"}
    → 200 {"mapping": "# Drafted by ...\\nid: parking\\n...", "type": "ParkingSpot",
           "ranking": [{"type", "score", "reasons"}], "attributes": 5}

The draft is pure and bounded (at most 500 records are profiled); it runs in a worker thread so
the event loop keeps serving. A payload the draft cannot read, or an unknown type, is a 400.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.drafting import draft_mapping
from contextbridge.errors import ConfigError

from .bodies import read_json, text_member
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service


def _optional(data: dict[str, Any], name: str) -> str | None:
    return text_member(data, name) if data.get(name) is not None else None


async def draft_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    service.authenticator.authorize(request)
    data = await read_json(request, service.settings.max_body_bytes)
    payload = text_member(data, "payload").encode("utf-8")
    options = {name: _optional(data, name) for name in ("name", "type", "format", "tz")}
    try:
        draft = await asyncio.to_thread(
            draft_mapping,
            payload,
            name=options["name"] or "",
            type_name=options["type"],
            format=options["format"],
            tz=options["tz"] or "UTC",
            ontology=service.ontology,
        )
    except (ConfigError, ValueError) as error:
        raise HTTPProblem(400, "bad-request", "Bad Request", f"cannot draft a mapping: {error}") from None
    ranking = [{"type": r.type, "score": r.score, "reasons": list(r.reasons)} for r in draft.ranking[:3]]
    return JSONResponse(
        {"mapping": draft.text, "type": draft.type, "ranking": ranking, "attributes": len(draft.matches)}
    )
