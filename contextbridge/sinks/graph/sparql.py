"""SPARQL text both stores share: the read-only check, the atomic entity replace and merge.

    query_form("PREFIX s: <x:> SELECT * { ?a ?b ?c }")   # 'select'
    query_form("INSERT DATA { <a:a> <a:b> <a:c> }")      # raises QueryRefused
    replace_update(["urn:x:1"], "urn:contextbridge:graph:tenant:default", ntriples)

An entity's triples are its own (``<e> ?p ?o``) and those of the nodes hanging from it:
attribute nodes, sub-attributes, structured values, list cells, which the stores name with
skolem IRIs under the entity's (``<e/.well-known/genid/N>``, see ``contextbridge.entities.rdf``).
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
from typing import TYPE_CHECKING, Any

from contextbridge.entities.rdf.converter import GENID
from contextbridge.entities.rdf.literals import iri
from contextbridge.entities.rdf.terms import RDF_TYPE, TermTable
from contextbridge.errors import QueryError, QueryRefused

DATASET_ID = "https://uri.etsi.org/ngsi-ld/datasetId"

if TYPE_CHECKING:
    from contextbridge.sinks.graph.base import GraphStore, QueryResult

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


def check_prefixes(query: str) -> None:
    """Raise ``QueryError`` at the first prefixed name whose prefix neither ``query`` nor the common
    ``PREFIXES`` declare: "line 3, column 12: unknown prefix 'foo:' (declared: ...)"."""
    declared = set(PREFIXES)
    declaring = False
    for match in _TOKENS.finditer(query):
        token = match.group(0)  # a prefixed name is the one token with a ':' outside <>, quotes, comments
        prefix = token.partition(":")[0] if ":" in token and token[0] not in "<'\"#" else None
        if match.group(1):
            declaring = match.group(1).lower() == "prefix"
        elif prefix is not None and declaring:
            declared.add(prefix)
            declaring = False
        elif prefix is not None and prefix not in declared and prefix != "_":  # _: a blank node
            known = ", ".join(f"{name}:" for name in sorted(declared))
            raise QueryError(
                f"invalid SPARQL query: {_place(query, match.start())}: unknown prefix {prefix + ':'!r}"
                f" (declared: {known})"
            )


def _place(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - start + 1}"


# Where a store's parser says an error is: Oxigraph's "error at 9:26", Jena's "line 9, column 26".
_AT = re.compile(r"error at (\d+):(\d+)|line (\d+), column (\d+)")
# The items of the parser's "expected one of" list: quoted tokens, words, character classes ([...]).
_EXPECTED = re.compile(r"expected one of (.*)$", re.DOTALL)
_ITEM = re.compile(r"""\"(?:[^"\\]|\\.)*"|\[(?:'(?:[^'\\]|\\.)*'|[^\]'])*\]|[^,\s][^,]*""")


def _relocate(message: str, added: int) -> str:
    """``message`` with its line counted in the author's query (``added`` lines were put before it),
    and without the parser's lists of character classes."""

    def shift(match: re.Match[str]) -> str:
        line, column = (
            (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        )
        return f"line {max(1, int(line) - added)}, column {column}"

    text = _AT.sub(shift, message, count=1)
    expected = _EXPECTED.search(text)
    if expected is None:
        return text
    items = [i for i in _ITEM.findall(expected.group(1)) if not i.startswith("[") and i != "Prefix not found"]
    return text[: expected.start()] + ("expected one of " + ", ".join(items) if items else "unexpected text")


async def ask(store: GraphStore, query: str, **options: Any) -> QueryResult:
    """``query`` as its author wrote it, on ``store``, with the common prefixes it does not declare
    (``with_prefixes``); an unknown prefix or a syntax error is reported at the author's line and
    column, not at those of the text the store was sent.

        result = await ask(store, "SELECT ?s WHERE { ?s a sosa:Observation }", tenant=None)
    """
    check_prefixes(query)
    text = with_prefixes(query)
    try:
        return await store.query(text, **options)
    except QueryError as error:
        if type(error) is not QueryError:  # refused, timed out, busy: nothing to relocate
            raise
        raise QueryError(_relocate(str(error), text.count("\n") - query.count("\n"))) from error


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
