"""The graph store interface, the city graph's named graphs, query results and errors.

Every backend (``EmbeddedStore``: pyoxigraph on disk; ``EndpointStore``: any SPARQL 1.1
endpoint) implements ``GraphStore``; one shared test class runs against each. Its methods are
async because the remote store does network I/O; the embedded one runs its work in a thread::

    store = open_store(state_dir=Path(".contextbridge"))
    await store.load_ontology()
    report = await store.upsert(entities, tenant="santander")
    result = await store.query("SELECT ?s WHERE { ?s a sosa:Observation }", tenant="santander")
    await store.close()

Layout: the ontology lives in ``urn:contextbridge:graph:ontology``; the entities of a tenant in
``urn:contextbridge:graph:tenant:<name>`` (``default`` when no tenant is given), the past values
of its history feeds in ``urn:contextbridge:graph:history:<name>`` (``history``). A query reads
the ontology and one tenant's graphs, as its default graph and as the named graphs ``GRAPH``
can name; other tenants are out of sight (``tenant=None``: every graph, as their union).
Each past value is a ``sosa:Observation`` (``sosa:hasFeatureOfInterest`` the entity,
``sosa:observedProperty`` the attribute's IRI, ``sosa:hasSimpleResult``, ``sosa:resultTime``,
optionally ``ngsi-ld:datasetId``); a query may also name the history graph with ``GRAPH``.

Subclass reasoning is materialised: an entity of type WeatherObserved is stored with an
``rdf:type`` for each of its ontology ancestors (``sosa:Observation``), so plain queries find
it without a reasoner or query rewriting. Changing the class hierarchy of the ontology needs
the entities to be loaded again (``contextbridge graph load``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pyoxigraph import BlankNode, NamedNode, Triple
from pyoxigraph import Literal as RdfLiteral

from contextbridge.entities.updates import REPLACE, UpdatePolicy
from contextbridge.errors import ConfigError, EntityError
from contextbridge.sinks.graph.options import DEFAULT_LIMIT, DEFAULT_TENANT, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from contextbridge.entities.ontology import Ontology

ONTOLOGY_GRAPH = "urn:contextbridge:graph:ontology"
TENANT_GRAPH = "urn:contextbridge:graph:tenant:"
HISTORY_GRAPH = "urn:contextbridge:graph:history:"  # past values of a tenant's entities (history feeds)
_TENANT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

Term = NamedNode | BlankNode | RdfLiteral | Triple


def question(query: str) -> str:
    """The question a SPARQL file asks: its first comment line (``# How many spots are free?``)."""
    return next((line.lstrip("# ").strip() for line in query.splitlines() if line.startswith("#")), "")


def tenant_graph(tenant: str | None) -> str:
    """The named graph of ``tenant`` (None: the default tenant)."""
    name = tenant or DEFAULT_TENANT
    if not _TENANT.match(name):
        raise ConfigError(f"invalid tenant name {name!r}: letters, digits, '_', '-', '.'", key="tenant")
    return TENANT_GRAPH + name


def history_graph(tenant: str | None) -> str:
    """The named graph of ``tenant``'s past values (part of its default graph in queries)."""
    return HISTORY_GRAPH + tenant_graph(tenant)[len(TENANT_GRAPH) :]


def query_graphs(tenant: str | None) -> list[str]:
    """What a query of ``tenant`` reads: the ontology, the tenant's entities and their history."""
    return [ONTOLOGY_GRAPH, tenant_graph(tenant), history_graph(tenant)]


@dataclass(frozen=True)
class UpsertReport:
    """What an upsert did: entities written, and the ones refused (each with its reason)."""

    upserted: int = 0
    triples: int = 0
    refused: tuple[EntityError, ...] = ()


@dataclass(frozen=True)
class QueryResult:
    """A query's answer: rows of a SELECT, the boolean of an ASK, or the triples of a CONSTRUCT.

    ``truncated`` is True when the answer had more than ``limit`` rows (or triples) and was cut.
    """

    kind: Literal["select", "ask", "graph"]
    variables: tuple[str, ...] = ()
    rows: tuple[tuple[Term | None, ...], ...] = ()
    boolean: bool | None = None
    triples: tuple[Triple, ...] = ()
    truncated: bool = False
    limit: int | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.rows) if self.kind == "select" else len(self.triples)


class GraphStore(Protocol):
    """The narrow interface of a city graph store; upserts are idempotent."""

    ontology: Ontology

    async def upsert(
        self,
        entities: Iterable[Mapping[str, Any]],
        *,
        tenant: str | None = None,
        policy: UpdatePolicy = REPLACE,
        state: bool = True,
    ) -> UpsertReport:
        """Write the latest state of each entity: its old triples go, in the same transaction
        (``policy.merge``: only those of the attribute instances it carries); with
        ``policy.history`` each version's values are kept as observations too. ``state=False``:
        only those observations (an older version than the state held: history, not state)."""
        ...

    async def delete(self, entity_ids: Iterable[str], *, tenant: str | None = None) -> None: ...

    async def query(
        self,
        sparql: str,
        *,
        tenant: str | None = DEFAULT_TENANT,
        timeout: float = DEFAULT_TIMEOUT,
        limit: int = DEFAULT_LIMIT,
    ) -> QueryResult:
        """Run a read-only SPARQL query (updates raise ``QueryRefused``)."""
        ...

    async def load_ontology(self, ontology: Ontology | None = None) -> int:
        """Replace the ontology graph; answers the number of triples."""
        ...

    async def clear(self, *, tenant: str | None = None) -> None:
        """Drop a tenant's graph (None: every graph, the ontology's too)."""
        ...

    async def close(self) -> None: ...
