"""SPARQL text both stores share: the read-only check, the atomic entity replace and merge.

    query_form("PREFIX s: <x:> SELECT * { ?a ?b ?c }")   # 'select'
    query_form("INSERT DATA { <a:a> <a:b> <a:c> }")      # raises QueryRefused
    replace_update(["urn:x:1"], "urn:contextbridge:graph:tenant:default", ntriples)

An entity's triples are its own (``<e> ?p ?o``) and those of the nodes hanging from it:
attribute nodes, sub-attributes, structured values, list cells, which the stores name with
skolem IRIs under the entity's (``<e/.well-known/genid/N>``, see ``contextbridge.rdf``).
``replace_update`` deletes them and inserts the new ones in one SPARQL Update request, which
SPARQL stores run as one transaction. The nodes are found by a property path from the entity
that never crosses an edge to an IRI-valued term (``rdf:type``, ``ngsi-ld:hasObject``,
``ngsi-ld:datasetId``...), so that the walk does not run into a related entity, and that ends
on an IRI under the entity's. (A structured value that embeds a node with its own ``id`` is a
resource of its own and keeps its triples.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from contextbridge.errors import QueryError, QueryRefused
from contextbridge.rdf.converter import GENID
from contextbridge.rdf.literals import iri
from contextbridge.rdf.terms import RDF_TYPE, TermTable

DATASET_ID = "https://uri.etsi.org/ngsi-ld/datasetId"
FORMS = ("select", "construct", "ask", "describe")
UPDATES = frozenset({"insert", "delete", "load", "clear", "create", "drop", "copy", "move", "add", "with"})
# Comments, strings, IRIs, variables and prefixed names are skipped: only bare keywords count.
_TOKENS = re.compile(
    r"""\#[^\n]*|'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|<[^<>"{}|^`\\\s]*>"""
    r"""|[?$][\w]+|[\w.-]*:[\w.:%-]*|@[\w-]+|\^\^|([A-Za-z]+)""",
    re.DOTALL,
)


# The prefixes a question may use without declaring them (the CLI, /sparql, the example questions).
PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "sosa": "http://www.w3.org/ns/sosa/",
    "ngsi-ld": "https://uri.etsi.org/ngsi-ld/",
    "geo": "http://www.opengis.net/ont/geosparql#",
}


def with_prefixes(query: str) -> str:
    """``query`` with a PREFIX line for each common prefix it does not declare itself."""
    declared = query.lower()
    lines = [f"PREFIX {p}: <{iri}>" for p, iri in PREFIXES.items() if f"prefix {p}:" not in declared]
    return "\n".join([*lines, query])


def query_form(sparql: str) -> str:
    """``select``, ``construct``, ``ask`` or ``describe``; updates raise ``QueryRefused``."""
    words = [m.group(1).lower() for m in _TOKENS.finditer(sparql) if m.group(1)]
    changes = sorted(UPDATES.intersection(words))
    if changes:
        raise QueryRefused(
            f"SPARQL updates are refused ({', '.join(w.upper() for w in changes)}): the graph is read-only here"
        )
    form = next((word for word in words if word in FORMS), None)
    if form is None:
        raise QueryError("invalid SPARQL query: expected SELECT, CONSTRUCT, ASK or DESCRIBE")
    return form


def _iri_predicates() -> tuple[str, ...]:
    # Every term whose values are IRIs: a walk through them would reach other resources.
    table = TermTable.build_core()
    return (
        RDF_TYPE,
        *sorted(t.predicate for t in table.terms() if t.coerce in ("@id", "@vocab") and t.predicate),
    )


_STOP = "|".join(_iri_predicates())


def _owned(graph: str, ids: Iterable[str]) -> str:
    values = " ".join(iri(i) for i in ids)
    nodes = f'STRSTARTS(STR(?s), CONCAT(STR(?e), "{GENID}"))'
    return (
        f"GRAPH <{graph}> {{ VALUES ?e {{ {values} }} "
        "{ ?e ?p ?o . BIND(?e AS ?s) } UNION "
        f"{{ ?e ?a ?root . FILTER(isIRI(?root)) ?root (!({_STOP}))* ?s . FILTER({nodes}) ?s ?p ?o }} }}"
    )


def delete_update(entity_ids: Iterable[str], graph: str) -> str:
    """Delete the entities' triples (and their blank nodes) from ``graph``."""
    return f"DELETE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }} WHERE {{ {_owned(graph, entity_ids)} }}"


def replace_update(entity_ids: Iterable[str], graph: str, ntriples: str) -> str:
    """Delete the entities' old triples and insert ``ntriples``, in one request."""
    return f"{delete_update(entity_ids, graph)} ;\nINSERT DATA {{ GRAPH <{graph}> {{\n{ntriples}}} }}"


def merge_update(targets: Iterable[tuple[str, str, str | None]], graph: str, ntriples: str) -> str:
    """Replace the attribute instances ``targets`` — (entity IRI, attribute IRI, datasetId IRI or
    None for the default instance), each ``<...>`` — by ``ntriples``, keeping the entities' other
    attributes, in one request: the instances (their links and nodes) go, then the new ones come."""
    rows = " ".join(f"({entity} {attribute} {dataset or 'UNDEF'})" for entity, attribute, dataset in targets)
    match = (
        f"VALUES (?e ?a ?d) {{ {rows} }} ?e ?a ?root . OPTIONAL {{ ?root <{DATASET_ID}> ?rd }} "
        "FILTER(COALESCE(?rd = ?d, !BOUND(?rd) && !BOUND(?d)))"
    )
    nodes = f'isIRI(?root) && STRSTARTS(STR(?s), CONCAT(STR(?e), "{GENID}"))'
    return (
        f"DELETE {{ GRAPH <{graph}> {{ ?e ?a ?root . ?s ?p ?o }} }} WHERE {{ GRAPH <{graph}> {{ {match} "
        f"OPTIONAL {{ ?root (!({_STOP}))* ?s . FILTER({nodes}) ?s ?p ?o }} }} }} ;\n"
        f"INSERT DATA {{ GRAPH <{graph}> {{\n{ntriples}}} }}"
    )


def data_update(graph: str, removed: Iterable[str], added: Iterable[str]) -> str:
    """Delete the triples ``removed`` and insert ``added`` (N-Triples lines, no blank node), in one request."""
    return (
        f"DELETE DATA {{ GRAPH <{graph}> {{\n" + "\n".join(removed) + "\n} } ;\n"
        f"INSERT DATA {{ GRAPH <{graph}> {{\n" + "\n".join(added) + "\n} }"
    )


def insert_update(graph: str, ntriples: str, *, replace: bool = False) -> str:
    clear = f"CLEAR SILENT GRAPH <{graph}> ;\n" if replace else ""
    return f"{clear}INSERT DATA {{ GRAPH <{graph}> {{\n{ntriples}}} }}"
