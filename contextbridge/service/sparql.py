"""``/sparql``: the SPARQL 1.1 Protocol, read-only, one tenant's graph per request.

    GET  /sparql?query=...                              (URL-encoded query)
    POST /sparql  application/x-www-form-urlencoded     (query=...)
    POST /sparql  application/sparql-query              (the query as the body)

The dataset is the tenant's (``NGSILD-Tenant``, the default tenant when absent): the ontology
and that tenant's graph, as default and named graphs; ``default-graph-uri``/``named-graph-uri``
are refused, they would let a query out of its tenant; so is ``SERVICE`` (403): the store would
fetch the URL a query names, from inside the city's network. Updates (``update=``, an
``application/sparql-update`` body, or update keywords in a query) are refused with 403.

Answers by ``Accept``: SPARQL JSON (default), SPARQL XML, CSV or TSV for SELECT and ASK;
Turtle (default) or N-Triples for CONSTRUCT and DESCRIBE; 406 when none is acceptable, decided
before the query runs. The query timeout and the row limit come from the settings; a cut answer
says so in ``X-Result-Truncated: true`` (with ``X-Result-Limit``). A key, or a tenant, runs at
most half the store's queries at once (``slots``): one more is 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from contextbridge.errors import (
    DeliveryError,
    GraphStoreError,
    QueryBusy,
    QueryError,
    QueryRefused,
    QueryTimeout,
)
from contextbridge.sinks.graph.base import QueryResult
from contextbridge.sinks.graph.results import format_result
from contextbridge.sinks.graph.sparql import _TOKENS as KEYWORDS  # bare keywords, outside strings/IRIs
from contextbridge.sinks.graph.sparql import ask, query_form

from .bodies import media_type, read_body
from .negotiation import choose
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

log = logging.getLogger("contextbridge.service")

TABLES = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
}
GRAPHS = {"text/turtle": "turtle", "application/n-triples": "ntriples"}
_CHARSET = {"text/csv", "text/tab-separated-values", "text/turtle", "application/n-triples"}
_DATASET = ("default-graph-uri", "named-graph-uri")


def _refuse_federation(text: str) -> None:
    """403 for a query with ``SERVICE``: the store would fetch the URL it names (SSRF)."""
    if any(match.group(1) and match.group(1).lower() == "service" for match in KEYWORDS.finditer(text)):
        raise HTTPProblem(
            403,
            "federation-refused",
            "Forbidden",
            "SERVICE is refused: the endpoint answers from its own graph and fetches nothing",
        )


def _refuse_update() -> HTTPProblem:
    return HTTPProblem(
        403, "update-refused", "Forbidden", "SPARQL updates are refused: the graph is read-only"
    )


def _one(params: dict[str, list[str]], origin: str) -> str:
    if "update" in params:
        raise _refuse_update()
    if any(name in params for name in _DATASET):
        raise HTTPProblem(
            400,
            "bad-request",
            "Bad Request",
            "the dataset is the tenant's: default-graph-uri is not accepted",
        )
    queries = params.get("query", [])
    if len(queries) != 1 or not queries[0].strip():
        raise HTTPProblem(
            400, "bad-request", "Bad Request", f"exactly one non-empty query= is needed ({origin})"
        )
    return queries[0]


async def query_text(request: Request, limit: int) -> str:
    """The query of a SPARQL Protocol request, whichever of its three forms it takes."""
    if request.method == "GET":
        return _one(parse_qs(request.url.query, keep_blank_values=True), "query string")
    kind = media_type(request)
    if kind == "application/sparql-update":
        raise _refuse_update()
    body = await read_body(request, limit)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPProblem(400, "bad-request", "Bad Request", "the body is not UTF-8") from None
    params = parse_qs(request.url.query)  # a dataset named in the URL is refused with any body
    if any(name in params for name in _DATASET):
        _one({**params, "query": [text]}, "body")
    if kind == "application/x-www-form-urlencoded":
        return _one(parse_qs(text, keep_blank_values=True), "form")
    if kind == "application/sparql-query":
        if not text.strip():
            raise HTTPProblem(400, "bad-request", "Bad Request", "the query is empty")
        return text
    raise HTTPProblem(
        415,
        "unsupported-media-type",
        "Unsupported Media Type",
        f"{kind or 'no Content-Type'}: use application/sparql-query or application/x-www-form-urlencoded",
    )


async def sparql_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    key, tenant = service.authenticator.authorize(request)
    text = await query_text(request, service.settings.max_body_bytes)
    try:
        form = query_form(text)
    except QueryRefused:
        raise _refuse_update() from None
    except QueryError as error:
        raise HTTPProblem(400, "query-syntax", "Bad Request", str(error)) from None
    _refuse_federation(text)
    offers = GRAPHS if form in ("construct", "describe") else TABLES
    chosen = choose(list(offers), request.headers.get("accept"))
    if chosen is None:
        raise HTTPProblem(
            406, "not-acceptable", "Not Acceptable", f"a {form.upper()} answer can be: {', '.join(offers)}"
        )
    settings = service.settings
    result = await run_query(service, text, tenant, key=key.name)
    body = await asyncio.to_thread(format_result, result, offers[chosen])
    headers = {"Vary": "Accept"}
    if result.truncated:
        headers["X-Result-Truncated"] = "true"
        headers["X-Result-Limit"] = str(settings.sparql_limit)
    log.info("sparql %s by %s on %s: %d results", form, key.name, tenant, len(result))
    media = f"{chosen}; charset=utf-8" if chosen in _CHARSET else chosen
    return Response(body.encode("utf-8"), 200, headers, media_type=media)


async def run_query(service: Service, text: str, tenant: str, *, key: str) -> QueryResult:
    """``text`` (as its author wrote it) run on ``tenant``'s graph for ``key`` (the name of the API
    key asking) within the settings' limits and a fair share of the query slots; store errors as
    ProblemDetails."""
    settings = service.settings
    try:
        with service.query_slots.take(key=key, tenant=tenant):
            return await ask(
                service.graph,
                text,
                tenant=tenant,
                timeout=settings.sparql_timeout,
                limit=settings.sparql_limit,
            )
    except QueryRefused:
        raise _refuse_update() from None
    except QueryBusy as error:
        raise HTTPProblem(
            503, "query-busy", "Service Unavailable", str(error), headers={"Retry-After": "5"}
        ) from None
    except QueryTimeout as error:
        raise HTTPProblem(503, "query-timeout", "Query Timeout", str(error)) from None
    except QueryError as error:
        raise HTTPProblem(400, "query-syntax", "Bad Request", str(error)) from None
    except DeliveryError as error:
        raise HTTPProblem(503, "graph-unavailable", "Service Unavailable", str(error)) from None
    except GraphStoreError as error:
        raise HTTPProblem(502, "graph-error", "Bad Gateway", str(error)) from None
