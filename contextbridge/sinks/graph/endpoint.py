"""A city graph on any SPARQL 1.1 endpoint (Oxigraph server, Apache Jena Fuseki, GraphDB...).

    store = EndpointStore("http://localhost:7878/query", auth=("user", "secret"))
    await store.upsert(entities, tenant="santander")   # one SPARQL Update: DELETE old + INSERT new
    await store.query("ASK { ?s a sosa:Observation }")

SPARQL 1.1 Protocol over httpx: queries are POSTed to the query URL (form ``query=``, with
``default-graph-uri`` naming the ontology and tenant graphs), updates to the update URL as
``application/sparql-update`` (default: the query URL with ``/query`` → ``/update``, else the
same URL). Each upsert is one update request, which SPARQL stores apply as one transaction.

Errors: no answer, 5xx or 429 → ``DeliveryError`` (retry later); a refused update →
``GraphStoreError``; a refused query → ``QueryError``; a slow query → ``QueryTimeout``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import pyoxigraph
from pyoxigraph import QueryBoolean, QueryResultsFormat, RdfFormat

from contextbridge.entities.ontology import Ontology, default_ontology
from contextbridge.entities.rdf import Converter, View
from contextbridge.entities.updates import REPLACE, UpdatePolicy
from contextbridge.errors import DeliveryError, GraphStoreError, QueryError, QueryTimeout
from contextbridge.sinks.graph.base import (
    DEFAULT_LIMIT,
    DEFAULT_TENANT,
    DEFAULT_TIMEOUT,
    HISTORY_GRAPH,
    ONTOLOGY_GRAPH,
    TENANT_GRAPH,
    QueryResult,
    UpsertReport,
    history_graph,
    query_graphs,
    tenant_graph,
)
from contextbridge.sinks.graph.batch import convert_batch
from contextbridge.sinks.graph.history import retention_update
from contextbridge.sinks.graph.sparql import (
    delete_update,
    insert_update,
    merge_update,
    query_form,
    replace_update,
)

_ACCEPT = {
    "select": "application/sparql-results+json",
    "ask": "application/sparql-results+json",
    "construct": "application/n-triples",
    "describe": "application/n-triples",
}


class EndpointStore:
    """A ``GraphStore`` on a remote SPARQL 1.1 Query + Update endpoint."""

    def __init__(
        self,
        url: str,
        *,
        update_url: str | None = None,
        ontology: Ontology | None = None,
        view: View = "ngsi-ld",
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.update_url = update_url or (url[: -len("/query")] + "/update" if url.endswith("/query") else url)
        self.ontology = ontology or default_ontology()
        self.converter = Converter(self.ontology, view=view, infer_types=True, wgs84=True, skolem=True)
        self._client = httpx.AsyncClient(
            auth=auth, headers=dict(headers or {}), timeout=timeout, transport=transport
        )

    async def upsert(
        self,
        entities: Iterable[Mapping[str, Any]],
        *,
        tenant: str | None = None,
        policy: UpdatePolicy = REPLACE,
        state: bool = True,
    ) -> UpsertReport:
        graph = tenant_graph(tenant)
        batch = convert_batch(self.converter, entities, policy)
        if batch.ids and (
            state or policy.history
        ):  # one request, one transaction: the state, the past values, the retention
            parts = []
            if state:  # else the history only (an older version than the state held)
                parts.append(
                    merge_update(batch.targets, graph, batch.ntriples)
                    if policy.merge
                    else replace_update(batch.ids, graph, batch.ntriples)
                )
            if policy.history:
                parts.append(insert_update(history_graph(tenant), batch.history))
                if policy.keep is not None:
                    parts.append(
                        retention_update(history_graph(tenant), batch.ids, policy.keep, now=time.time())
                    )
            await self._update(" ;\n".join(parts))
        return UpsertReport(len(batch.ids), batch.triples, batch.refused)

    async def delete(self, entity_ids: Iterable[str], *, tenant: str | None = None) -> None:
        ids = list(dict.fromkeys(entity_ids))
        if ids:
            await self._update(delete_update(ids, tenant_graph(tenant)))

    async def load_ontology(self, ontology: Ontology | None = None) -> int:
        graph = (ontology or self.ontology).graph
        await self._update(insert_update(ONTOLOGY_GRAPH, graph.serialize(format="nt"), replace=True))
        return len(graph)

    async def clear(self, *, tenant: str | None = None) -> None:
        await self._update(
            f"CLEAR SILENT GRAPH <{tenant_graph(tenant)}> ; CLEAR SILENT GRAPH <{history_graph(tenant)}>"
            if tenant
            else "CLEAR SILENT ALL"
        )

    async def query(
        self,
        sparql: str,
        *,
        tenant: str | None = DEFAULT_TENANT,
        timeout: float = DEFAULT_TIMEOUT,
        limit: int = DEFAULT_LIMIT,
    ) -> QueryResult:
        form = query_form(sparql)
        data: dict[str, str | list[str]] = {"query": sparql}
        graphs = query_graphs(tenant) if tenant is not None else await self._graphs(timeout)
        data["default-graph-uri"] = data["named-graph-uri"] = graphs
        response = await self._send(
            self.url, data=data, headers={"Accept": _ACCEPT[form]}, timeout=timeout, query=True
        )
        if response.status_code >= 400:
            raise QueryError(
                f"invalid SPARQL query: the endpoint answered {response.status_code} {response.text[:500]}"
            )
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            if kind in ("application/n-triples", "text/plain"):
                triples = pyoxigraph.parse(response.content, format=RdfFormat.N_TRIPLES)
                items = _take(triples, limit)
                return QueryResult(
                    "graph", triples=tuple(items[:limit]), truncated=len(items) > limit, limit=limit
                )
            answer = pyoxigraph.parse_query_results(response.content, format=QueryResultsFormat.JSON)
        except SyntaxError as exc:
            raise QueryError(f"the SPARQL endpoint answered something unreadable ({kind}): {exc}") from exc
        if isinstance(answer, QueryBoolean):
            return QueryResult("ask", boolean=bool(answer))
        rows = [tuple(row) for row in _take(answer, limit)]
        names = tuple(v.value for v in answer.variables)
        return QueryResult("select", names, tuple(rows[:limit]), truncated=len(rows) > limit, limit=limit)

    async def _graphs(self, timeout: float) -> list[str]:
        """The city graph's named graphs: the ontology and every tenant's (a server's default graph
        is its own, not their union, so a query of every tenant names them all)."""
        listing = "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }"
        response = await self._send(
            self.url,
            data={"query": listing},
            headers={"Accept": _ACCEPT["select"]},
            timeout=timeout,
            query=True,
        )
        if response.status_code >= 400:
            raise GraphStoreError(f"the SPARQL endpoint cannot list its graphs: {response.status_code}")
        answer = pyoxigraph.parse_query_results(response.content, format=QueryResultsFormat.JSON)
        assert not isinstance(answer, QueryBoolean)
        names = [str(row[0].value) for row in answer if row[0] is not None]
        city = (TENANT_GRAPH, HISTORY_GRAPH)
        return [name for name in names if name == ONTOLOGY_GRAPH or name.startswith(city)] or [ONTOLOGY_GRAPH]

    async def _update(self, update: str) -> None:
        response = await self._send(
            self.update_url,
            content=update.encode("utf-8"),
            headers={"Content-Type": "application/sparql-update"},
        )
        if response.status_code >= 400:
            raise GraphStoreError(
                f"the SPARQL endpoint refused an update: {response.status_code} {response.text[:500]}"
            )

    async def _send(
        self, url: str, *, query: bool = False, timeout: float | None = None, **request: Any
    ) -> httpx.Response:
        try:
            if timeout is not None:
                request["timeout"] = timeout
            response = await self._client.post(url, **request)
        except httpx.TimeoutException as exc:
            if query:
                raise QueryTimeout(f"the query ran longer than {timeout:g} s ({url})") from exc
            raise DeliveryError(f"the SPARQL endpoint did not answer in time: {exc!r}", url=url) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"cannot reach the SPARQL endpoint: {exc!r}", url=url) from exc
        if response.status_code >= 500 or response.status_code == 429:
            retry = response.headers.get("retry-after")
            raise DeliveryError(
                f"the SPARQL endpoint failed: {response.status_code} {response.text[:300]}",
                url=url,
                status=response.status_code,
                retry_after=float(retry) if retry and retry.isdigit() else None,
            )
        return response

    async def close(self) -> None:
        await self._client.aclose()


def _take(items: Iterable[Any], limit: int) -> list[Any]:
    """At most ``limit + 1`` items: one more than the limit says the answer was cut."""
    taken: list[Any] = []
    for item in items:
        taken.append(item)
        if len(taken) > limit:
            break
    return taken
