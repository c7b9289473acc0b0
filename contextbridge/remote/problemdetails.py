"""ProblemDetails (RFC 7807), the error bodies of NGSI-LD, and the reasons of every dead letter.

    >>> problem(BAD_REQUEST_DATA, "Invalid entity", "attribute name 'a b'", status=400)
    {'type': 'https://uri.etsi.org/ngsi-ld/errors/BadRequestData', 'title': 'Invalid entity', ...}
    >>> as_problem(None, status=502, text="<html>Bad gateway</html>")   # whatever a proxy answered

Every sink says why it refused an entity with one (the broker's own, the graph store's or a
webhook's answer made into one). A ProblemDetails stays a plain dict (it goes to the dead-letter
queue as it came); these helpers only make sure it has a ``type`` and a ``status`` even when the broker left them out (Orion-LD's
single-entity answers may lack ``status``, a proxy in front may answer in HTML).
"""

from __future__ import annotations

from typing import Any

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
BAD_REQUEST_DATA = ERRORS + "BadRequestData"
INVALID_REQUEST = ERRORS + "InvalidRequest"
ALREADY_EXISTS = ERRORS + "AlreadyExists"
RESOURCE_NOT_FOUND = ERRORS + "ResourceNotFound"
NON_EXISTING_TENANT = ERRORS + "NonExistingTenant"
OPERATION_NOT_SUPPORTED = ERRORS + "OperationNotSupported"
TOO_MANY_RESULTS = ERRORS + "TooManyResults"
INTERNAL_ERROR = ERRORS + "InternalError"
LD_CONTEXT_NOT_AVAILABLE = ERRORS + "LdContextNotAvailable"

Problem = dict[str, Any]


def problem(type_uri: str, title: str, detail: str | None = None, *, status: int | None = None) -> Problem:
    """A ProblemDetails dict, ``detail`` and ``status`` only when known."""
    body: Problem = {"type": type_uri, "title": title}
    if detail is not None:
        body["detail"] = detail
    if status is not None:
        body["status"] = status
    return body


def as_problem(body: Any, *, status: int, text: str = "") -> Problem:
    """The ProblemDetails of an error answer, whatever the broker (or a proxy) sent."""
    if isinstance(body, dict) and ("type" in body or "title" in body or "detail" in body):
        found = dict(body)
        found.setdefault("type", INTERNAL_ERROR if status >= 500 else BAD_REQUEST_DATA)
        found.setdefault("status", status)
        return found
    detail = text.strip()[:500] or None
    kind = INTERNAL_ERROR if status >= 500 else BAD_REQUEST_DATA
    return problem(kind, f"HTTP {status}", detail, status=status)
