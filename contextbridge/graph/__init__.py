"""The city graph: entities as RDF in a graph store that answers SPARQL.

    store = open_store(state_dir=Path(".contextbridge"))        # embedded, <state>/graph
    store = open_store(endpoint="http://localhost:7878/query")  # any SPARQL 1.1 endpoint
    await store.upsert(entities, tenant="santander")
    print(format_result(await store.query("SELECT * { ?s ?p ?o } LIMIT 5"), "table"))

See ``base`` for the layout (named graphs, subclass reasoning), ``contextbridge.rdf`` for how
entities become triples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contextbridge.errors import (
    ConfigError,
    GraphStoreError,
    QueryBusy,
    QueryError,
    QueryRefused,
    QueryTimeout,
)
from contextbridge.graph.base import (
    DEFAULT_LIMIT,
    DEFAULT_TENANT,
    DEFAULT_TIMEOUT,
    ONTOLOGY_GRAPH,
    GraphStore,
    QueryResult,
    UpsertReport,
    history_graph,
    question,
    tenant_graph,
)
from contextbridge.graph.embedded import EmbeddedStore
from contextbridge.graph.endpoint import EndpointStore
from contextbridge.graph.results import FORMATS, format_result
from contextbridge.graph.sink import GraphSink

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TENANT",
    "DEFAULT_TIMEOUT",
    "FORMATS",
    "ONTOLOGY_GRAPH",
    "EmbeddedStore",
    "EndpointStore",
    "GraphSink",
    "GraphStore",
    "GraphStoreError",
    "QueryBusy",
    "QueryError",
    "QueryRefused",
    "QueryResult",
    "QueryTimeout",
    "UpsertReport",
    "format_result",
    "history_graph",
    "open_store",
    "question",
    "tenant_graph",
]


def open_store(
    state_dir: Path | None = None, endpoint: str | None = None, **options: Any
) -> EmbeddedStore | EndpointStore:
    """The graph store of a state directory (``<state>/graph``) or of a SPARQL endpoint URL."""
    if endpoint is not None and state_dir is not None:
        raise ConfigError("give a state directory or a SPARQL endpoint, not both", key="endpoint")
    if endpoint is not None:
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"SPARQL endpoint {endpoint!r} is not an http(s) URL", key="endpoint")
        return EndpointStore(endpoint, **options)
    return EmbeddedStore(Path(state_dir or ".contextbridge") / "graph", **options)
