"""ProblemDetails (RFC 9457): every error the service answers is one, as ``application/problem+json``.

    raise HTTPProblem(403, "forbidden", "Forbidden", "key 'analyst' may not use tenant 'porto'")

Handlers raise ``HTTPProblem``; ``problem_handlers`` turns it (and starlette's own 404/405) into
the response. ``type`` is a URI under ``PROBLEMS`` named after the kind of mistake, so that a
client can branch on it without parsing the prose of ``detail``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

PROBLEMS = "https://contextbridge.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class HTTPProblem(Exception):
    """An error answer: its status, kind (the last segment of ``type``), title and detail."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")

    def body(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": PROBLEMS + self.kind, "title": self.title, "status": self.status}
        if self.detail:
            found["detail"] = self.detail
        return found

    def response(self) -> Response:
        return Response(orjson.dumps(self.body()), self.status, self.headers, media_type=MEDIA_TYPE)


_KINDS = {404: ("not-found", "Not Found"), 405: ("method-not-allowed", "Method Not Allowed")}


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPProblem)
    return exc.response()


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind, title = _KINDS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = f"{request.method} {request.url.path}" if exc.status_code in _KINDS else str(exc.detail)
    return HTTPProblem(exc.status_code, kind, title, detail, headers=exc.headers).response()


problem_handlers = {HTTPProblem: _problem, HTTPException: _http_exception}
