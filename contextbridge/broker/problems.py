"""ProblemDetails (RFC 7807) as NGSI-LD brokers send them, and the results of batch operations.

    >>> failed = {"entityId": "urn:b", "error": {"type": BAD_REQUEST_DATA, "title": "Invalid entity"}}
    >>> result = batch_result(207, {"success": ["urn:a"], "errors": [failed]}, ["urn:a", "urn:b"])
    >>> result.success, [failure.entity_id for failure in result.errors]
    (('urn:a',), ['urn:b'])

A ProblemDetails stays a plain dict (it goes to the dead-letter queue as it came); these helpers
only make sure it has a ``type`` and a ``status`` even when the broker left them out (Orion-LD's
single-entity answers may lack ``status``, a proxy in front may answer in HTML).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class BatchFailure:
    """One entity of a batch the broker refused, with its ProblemDetails."""

    entity_id: str
    problem: Problem


@dataclass(frozen=True)
class BatchResult:
    """What a batch operation did to each entity sent.

    ``missing`` lists ids the broker named neither as a success nor as an error: their fate is
    unknown, so a caller that wants them delivered sends them again (upserts are idempotent).
    """

    success: tuple[str, ...] = ()
    errors: tuple[BatchFailure, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and not self.missing


def batch_result(status: int, body: Any, sent: Sequence[str]) -> BatchResult:
    """Read the answer to a batch create/upsert/update: 201 and 204 succeed for all, 207 per entity."""
    if status in (200, 201, 204):
        return BatchResult(success=tuple(sent))
    if not isinstance(body, dict):
        return BatchResult(missing=tuple(sent))
    success = [str(entity_id) for entity_id in body.get("success") or ()]
    errors = []
    for item in body.get("errors") or ():
        if not isinstance(item, dict):
            continue
        entity_id = str(item.get("entityId", ""))
        errors.append(BatchFailure(entity_id, as_problem(item.get("error"), status=400)))
    named = set(success) | {failure.entity_id for failure in errors}
    return BatchResult(
        success=tuple(success),
        errors=tuple(errors),
        missing=tuple(entity_id for entity_id in sent if entity_id not in named),
    )
