"""Request bodies read with a size limit: a client cannot make the service buffer more than it allows."""

from __future__ import annotations

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
