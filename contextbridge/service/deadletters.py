"""The dead-letter queue over HTTP, scoped to the request's tenant: list, read, replay, purge.

    GET  /dead-letters?sink=broker&feed=parking&type=...&limit=100&offset=0     (read key)
    GET  /dead-letters/17                                                       (read key)
    POST /dead-letters/replay   {"ids": [17, 18]}  or  {"sink": "broker", "force": true}  (write key)
    POST /dead-letters/purge    {"feed": "parking", "type": "transform"}                  (write key)

A key sees and changes the letters of the tenant its request names (``NGSILD-Tenant``) and no
other: a refused entity belongs to its entity's tenant, a rejected record to its feed's; a
letter without a tenant is the default tenant's. The outbox does the selecting
(``DeadLetterFilter``), so counts, pages and bulk changes agree. ``facets`` count the tenant's
letters per sink, feed and reason type, whatever the filter: what the console's filters offer.
A service that runs no adapter (no configuration) has no outbox, hence no dead letters: its
lists are empty and a replay or purge changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.outbox import DeadLetter, DeadLetterCounts, DeadLetterFilter, Outbox, ReplayResult
from contextbridge.sinks.graph.base import DEFAULT_TENANT

from .bodies import read_body
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

MAX_LIMIT = 1000
MAX_IDS = 10_000  # ids in one replay or purge
MAX_ID = 2**63 - 1
FILTERS = ("sink", "feed", "type")
MAX_FILTER = 256  # characters of a filter value


def _bad(detail: str) -> HTTPProblem:
    return HTTPProblem(400, "bad-request", "Bad Request", detail)


def _outbox(service: Service) -> Outbox | None:
    return service.adapter.outbox if service.adapter is not None else None


def tenant_scope(service: Service, tenant: str) -> DeadLetterFilter:
    """The letters of ``tenant``: stored under its name (the default tenant's: or under none), and
    the rejected records of its feeds."""
    tenants = frozenset({"", DEFAULT_TENANT}) if tenant == DEFAULT_TENANT else frozenset({tenant})
    feeds = {feed.id: feed.tenant or "" for feed in service.config.feeds} if service.config else {}
    return DeadLetterFilter(tenants=tenants, feed_tenants=feeds)


def letter_json(letter: DeadLetter) -> dict[str, Any]:
    return dataclasses.asdict(letter)


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_FILTER:
        raise _bad(f"{name}: a non-empty string of up to {MAX_FILTER} characters")
    return value


def _filtered(scope: DeadLetterFilter, given: Mapping[str, Any]) -> DeadLetterFilter:
    """``scope`` narrowed by the ``sink``, ``feed`` and ``type`` given (query or body)."""
    return dataclasses.replace(
        scope,
        sink=_text(given.get("sink"), "sink"),
        feed=_text(given.get("feed"), "feed"),
        type=_text(given.get("type"), "type"),
    )


def _integer(text: str | None, name: str, default: int, high: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or int(text) > high:
        raise _bad(f"{name}: an integer in 0..{high}")
    return int(text)


async def dead_letters_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    _, tenant = service.authenticator.authorize(request)
    query = request.query_params
    limit = _integer(query.get("limit"), "limit", 100, MAX_LIMIT)
    offset = _integer(query.get("offset"), "offset", 0, MAX_ID)
    scope = tenant_scope(service, tenant)
    where = _filtered(scope, query)
    outbox = _outbox(service)
    everything = await outbox.dead_letter_counts(scope) if outbox is not None else DeadLetterCounts(())
    count = everything.narrowed(sink=where.sink, feed=where.feed, type=where.type)
    letters = await outbox.dead_letters(where=where, limit=limit, offset=offset) if outbox is not None else []
    return JSONResponse(
        {
            "dead_letters": [letter_json(letter) for letter in letters],
            "count": count,
            "limit": limit,
            "offset": offset,
            "facets": everything.facets,
        }
    )


async def dead_letter_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    _, tenant = service.authenticator.authorize(request)
    text = request.path_params["letter_id"]
    outbox = _outbox(service)
    found: list[DeadLetter] = []
    if outbox is not None and text.isdigit() and 0 < int(text) <= MAX_ID:
        where = dataclasses.replace(tenant_scope(service, tenant), ids=(int(text),))
        found = await outbox.dead_letters(where=where, limit=1)
    if not found:
        raise HTTPProblem(404, "not-found", "Not Found", f"no dead letter {text!r} of tenant {tenant!r}")
    return JSONResponse(letter_json(found[0]))


async def _selection(request: Request, service: Service, tenant: str) -> tuple[DeadLetterFilter, bool]:
    """The letters a replay or purge body names (ids, or a filter), within the tenant; and ``force``.

    An empty body, or one with neither ids nor a filter, selects all the tenant's letters.
    """
    body = await read_body(request, service.settings.max_body_bytes)
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as error:
        raise _bad(f"invalid JSON: {error}") from None
    if not isinstance(data, dict):
        raise _bad('expected an object: {"ids": [...]} or {"sink", "feed", "type"}')
    unknown = sorted(set(data) - {"ids", "force", *FILTERS})
    if unknown:
        raise _bad(f"unknown members: {', '.join(unknown)}")
    force = data.get("force", False)
    if not isinstance(force, bool):
        raise _bad("force: true or false")
    ids = data.get("ids")
    if ids is not None and (
        not isinstance(ids, list)
        or len(ids) > MAX_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in ids)
    ):
        raise _bad(f"ids: a list of up to {MAX_IDS} dead-letter ids")
    where = _filtered(tenant_scope(service, tenant), data)
    return (dataclasses.replace(where, ids=tuple(ids)) if ids is not None else where), force


async def replay_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    _, tenant = service.authenticator.authorize(request, write=True)
    where, force = await _selection(request, service, tenant)
    outbox = _outbox(service)
    result = await outbox.replay(where=where, force=force) if outbox is not None else ReplayResult()
    return JSONResponse(dataclasses.asdict(result))


async def purge_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    _, tenant = service.authenticator.authorize(request, write=True)
    where, _ = await _selection(request, service, tenant)
    outbox = _outbox(service)
    return JSONResponse({"purged": await outbox.purge(where=where) if outbox is not None else 0})
