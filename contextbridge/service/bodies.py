"""Request bodies read with a size limit: a client cannot make the service buffer more than it allows.

body = await read_body(request, service.settings.max_body_bytes)
data = await read_json(request, service.settings.max_body_bytes)     # a JSON object, or 400
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from .problems import HTTPProblem


def _too_large(limit: int) -> HTTPProblem:
    return HTTPProblem(413, "payload-too-large", "Payload Too Large", f"the body is over {limit:,} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit`` bytes.

    ``Content-Length`` is checked first (nothing is read); a chunked body is counted as it arrives.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPProblem(400, "bad-request", "Bad Request", "invalid Content-Length")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    """The request's media type, without parameters, lower case (``''`` when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object (400 when it is not one, 413 over ``limit`` bytes)."""
    body = await read_body(request, limit)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise HTTPProblem(400, "bad-request", "Bad Request", f"invalid JSON: {error}") from None
    if not isinstance(data, dict):
        raise HTTPProblem(400, "bad-request", "Bad Request", "expected a JSON object")
    return data


def text_member(data: dict[str, Any], name: str) -> str:
    """The string member ``name`` of a request's JSON object (400 when absent or not a string)."""
    value = data.get(name)
    if not isinstance(value, str):
        raise HTTPProblem(400, "bad-request", "Bad Request", f"{name}: a string is needed")
    return value
