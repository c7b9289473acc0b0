"""The embedded city graph: entities as RDF in an on-disk pyoxigraph store, answering SPARQL.

    >>> graph = CityGraph(Path(".contextbridge/graph"))
    >>> graph.upsert(entities)
    >>> rows = graph.select("SELECT ?s WHERE { ?s a ?type } LIMIT 3")

Each entity becomes RDF exactly as JSON-LD processing of it with its type's @context does
(pyld's ``to_rdf``: the NGSI-LD property-graph shape, ``ngsi-ld:hasValue``, ``ngsi-ld:observedAt``...),
and lives in a named graph of its own, so that an update replaces the entity's old triples,
blank nodes included, in one step. Queries see the union of all graphs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from pyld import jsonld

from .context import context_document, document_loader
from .errors import ConfigError
from .ontology import Ontology, default_ontology

ENTITY_GRAPH = "urn:contextbridge:entity:"


class CityGraph:
    """Entities in a pyoxigraph store (on disk at ``path``, or in memory)."""

    def __init__(self, path: Path | None = None, *, ontology: Ontology | None = None) -> None:
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
        self.store = ox.Store(str(path)) if path is not None else ox.Store()
        self.ontology = ontology or default_ontology()
        self._loader = document_loader()
        self._contexts: dict[str, Any] = {}

    def _context(self, type_name: str) -> Any:
        if type_name not in self._contexts:
            self._contexts[type_name] = context_document(self.ontology, entity_type=type_name)["@context"]
        return self._contexts[type_name]

    def quads(self, entity: Mapping[str, Any]) -> list[ox.Quad]:
        """The RDF of one entity, in its own named graph, with blank nodes of its own."""
        document = {**entity, "@context": self._context(str(entity["type"]))}
        text = jsonld.to_rdf(document, {"documentLoader": self._loader, "format": "application/n-quads"})
        graph = ox.NamedNode(ENTITY_GRAPH + str(entity["id"]))
        blanks: dict[str, ox.BlankNode] = {}

        def own(term: Any) -> Any:
            # pyld numbers blank nodes _:b0, _:b1... per document: make them unique per entity.
            return blanks.setdefault(term.value, ox.BlankNode()) if isinstance(term, ox.BlankNode) else term

        return [
            ox.Quad(own(quad.subject), quad.predicate, own(quad.object), graph)
            for quad in ox.parse(text.encode(), format=ox.RdfFormat.N_QUADS)
        ]

    def upsert(self, entities: Iterable[Mapping[str, Any]]) -> int:
        """Put the latest state of each entity in the graph (its old triples go); returns the quads added."""
        added = 0
        for entity in entities:
            quads = self.quads(entity)
            self.store.remove_graph(ox.NamedNode(ENTITY_GRAPH + str(entity["id"])))
            self.store.extend(quads)
            added += len(quads)
        return added

    def query(self, query: str, *, result_format: str) -> bytes:
        """Run a query (read-only: updates are another API) and serialise the answer.

        ``result_format`` is json, xml, csv or tsv for SELECT/ASK, turtle or ntriples for CONSTRUCT/DESCRIBE.
        """
        try:
            answer = self.store.query(query, use_default_graph_as_union=True)
        except SyntaxError as error:
            raise ConfigError(f"invalid SPARQL query: {error}") from None
        if isinstance(answer, ox.QueryTriples):
            rdf = {"turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES}
            if result_format not in rdf:
                raise ConfigError(
                    f"a CONSTRUCT or DESCRIBE answer is turtle or ntriples, not {result_format}"
                )
            return answer.serialize(format=rdf[result_format]) or b""
        results = {
            "json": ox.QueryResultsFormat.JSON,
            "xml": ox.QueryResultsFormat.XML,
            "csv": ox.QueryResultsFormat.CSV,
            "tsv": ox.QueryResultsFormat.TSV,
        }
        if result_format not in results:
            raise ConfigError(f"a SELECT or ASK answer is json, xml, csv or tsv, not {result_format}")
        return answer.serialize(format=results[result_format]) or b""

    def select(self, query: str) -> tuple[list[str], list[list[str]]]:
        """Run a SELECT query over every graph; the variable names and the rows as text."""
        try:
            solutions = self.store.query(query, use_default_graph_as_union=True)
        except SyntaxError as error:
            raise ConfigError(f"invalid SPARQL query: {error}") from None
        if not isinstance(solutions, ox.QuerySolutions):
            raise ConfigError("only SELECT queries give rows (use --format for the others)")
        names = [variable.value for variable in solutions.variables]
        rows = [[_text(solution[name]) for name in names] for solution in solutions]
        return names, rows

    def __len__(self) -> int:
        return len(self.store)

    def close(self) -> None:
        """Flush and release the store (an on-disk store is locked while open)."""
        self.store.flush()
        del self.store


def _text(term: Any) -> str:
    if term is None:
        return ""
    return str(term.value)
