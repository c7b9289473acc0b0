"""The city graph: entities as RDF in a graph store that answers SPARQL.

    store = open_store(state_dir=Path(".contextbridge"))        # embedded, <state>/graph
    store = open_store(endpoint="http://localhost:7878/query")  # any SPARQL 1.1 endpoint
    await store.upsert(entities, tenant="santander")
    print(format_result(await store.query("SELECT * { ?s ?p ?o } LIMIT 5"), "table"))

See ``base`` for the layout (named graphs, subclass reasoning), ``contextbridge.entities.rdf`` for how
entities become triples.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from contextbridge.errors import (
    ConfigError,
    GraphStoreError,
    QueryBusy,
    QueryError,
    QueryRefused,
    QueryTimeout,
)
from contextbridge.lazy import lazy_exports
from contextbridge.sinks.graph.options import DEFAULT_LIMIT, DEFAULT_TIMEOUT, FORMATS

if TYPE_CHECKING:
    from contextbridge.sinks.graph.base import (
        DEFAULT_TENANT,
        ONTOLOGY_GRAPH,
        GraphStore,
        QueryResult,
        UpsertReport,
        history_graph,
        question,
        tenant_graph,
    )
    from contextbridge.sinks.graph.embedded import EmbeddedStore
    from contextbridge.sinks.graph.endpoint import EndpointStore
    from contextbridge.sinks.graph.results import format_result
    from contextbridge.sinks.graph.sink import GraphSink

# Imported on first use (PEP 562): pyoxigraph, the ontology and pyld load with the store, not before.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "base": (
            "DEFAULT_TENANT",
            "ONTOLOGY_GRAPH",
            "GraphStore",
            "QueryResult",
            "UpsertReport",
            "history_graph",
            "question",
            "tenant_graph",
        ),
        "embedded": ("EmbeddedStore",),
        "endpoint": ("EndpointStore",),
        "results": ("format_result",),
        "sink": ("GraphSink",),
    },
)

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
    from contextbridge.sinks.graph.embedded import EmbeddedStore
    from contextbridge.sinks.graph.endpoint import EndpointStore

    if endpoint is not None and state_dir is not None:
        raise ConfigError("give a state directory or a SPARQL endpoint, not both", key="endpoint")
    if endpoint is not None:
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"SPARQL endpoint {endpoint!r} is not an http(s) URL", key="endpoint")
        return EndpointStore(endpoint, **options)
    return EmbeddedStore(Path(state_dir or ".contextbridge") / "graph", **options)
