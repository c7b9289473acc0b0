"""NGSI-LD entities to RDF quads, as JSON-LD to-RDF gives them, without a JSON-LD processor.

An NGSI-LD entity in normalized form is JSON-LD: read with the flat @context of its type
(``context_document(onto, entity_type=T)``, the one Orion-LD reads), it is an RDF graph of
the NGSI-LD property-graph shape — each attribute a blank node typed ``ngsi-ld:Property``
(``Relationship``, ``GeoProperty``...) with ``ngsi-ld:hasValue`` / ``hasObject`` /
``observedAt`` / ``unitCode`` / ``datasetId`` and its sub-attributes. ``Converter`` produces
exactly that graph (isomorphic to pyld's ``to_rdf``; the tests check it on every example and
on random entities) but walks the entity once with precomputed term tables, building
pyoxigraph terms directly — no context processing, expansion or node map per entity::

    converter = Converter(default_ontology())
    quads = converter.quads(entity, graph=NamedNode("urn:contextbridge:graph:tenant:default"))

Options: ``view="direct"`` gives the simplified graph of ``contextbridge.entities.rdf.direct``;
``infer_types=True`` adds an ``rdf:type`` for every ancestor class of the entity type (what
the graph stores do, so that a query for ``sosa:Observation`` finds WeatherObserved);
``wgs84=True`` adds ``wgs84:lat``/``wgs84:long`` for GeoJSON points (``contextbridge.entities.rdf.geo``);
``skolem=True`` names the entity's nodes (attributes, sub-attributes, structured values, list
cells) with skolem IRIs instead of blank nodes, as RDF 1.1 §3.5 allows — ``<id/.well-known/genid/N>``,
numbered in the order of the walk, so that the same entity gives the same IRIs again and the
stores replace an updated entity by the difference of its triples (a skolem converter keeps its
numbering on the instance: one thread at a time).

An entity's own ``@context`` is ignored: entities are read with the city context of their
type, as the broker does. The few JSON-LD constructs NGSI-LD payloads never use (``@graph``,
``@reverse``, index maps, relative or blank-node identifiers...) are handed to pyld, so the
result is still the reference's; ``fallbacks`` counts them.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterable, Mapping
from numbers import Real
from typing import Any
from typing import Literal as Choice

import pyoxigraph
from pyld import jsonld
from pyoxigraph import BlankNode, DefaultGraph, NamedNode, Quad

from contextbridge.entities.jsonld import context_document, document_loader
from contextbridge.entities.ontology import Ontology, default_ontology
from contextbridge.entities.rdf.direct import direct_triples
from contextbridge.entities.rdf.geo import location_triples, point_triples
from contextbridge.entities.rdf.literals import (
    FALSE,
    TRUE,
    XSD_BOOLEAN,
    iri,
    json_literal,
    language,
    number_literal,
    quote,
    typed,
)
from contextbridge.entities.rdf.terms import (
    ABSOLUTE_IRI,
    RDF_FIRST,
    RDF_NIL,
    RDF_REST,
    RDF_TYPE,
    Term,
    TermTable,
    Unsupported,
)
from contextbridge.errors import EntityError

Graph = NamedNode | BlankNode | DefaultGraph
GENID = "/.well-known/genid/"  # the skolem IRIs of an entity's nodes: <entity id>/.well-known/genid/N
View = Choice["ngsi-ld", "direct"]
VIEWS = ("ngsi-ld", "direct")


class Converter:
    """Entity → N-Triples text (or pyoxigraph quads) for one ontology; term tables built once per type."""

    def __init__(
        self,
        ontology: Ontology | None = None,
        *,
        view: View = "ngsi-ld",
        infer_types: bool = False,
        wgs84: bool = False,
        skolem: bool = False,
    ) -> None:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r} (known: {', '.join(VIEWS)})")
        self.ontology = ontology or default_ontology()
        self.view = view
        self.infer_types = infer_types
        self.wgs84 = wgs84
        self.skolem = skolem
        self.fallbacks = 0
        self._tables: dict[str | None, TermTable] = {}
        self._lock = threading.Lock()
        # Blank node labels unique across converters, processes and loads: stores keep labels.
        self._blank = f"_:c{uuid.uuid4().hex[:12]}x"
        self._close = ""
        self._count = itertools.count()

    def table(self, entity_type: str | None) -> TermTable:
        try:
            return self._tables[entity_type]
        except KeyError:
            with self._lock:  # building a table runs pyld once; do it once per type
                if entity_type not in self._tables:
                    self._tables[entity_type] = TermTable.build(self.ontology, entity_type)
            return self._tables[entity_type]

    def table_of(self, entity: Mapping[str, Any]) -> TermTable:
        """The term table an entity is read with (that of its type)."""
        return self.table(_main_type(entity))

    def ntriples(self, entity: Mapping[str, Any], *, label: str = "") -> str:
        """The N-Triples text of one entity (an invalid entity raises ``EntityError``); ``label``
        prefixes the numbers of its skolem nodes (``<id/.well-known/genid/LABEL0>``)."""
        entity_type = _main_type(entity)
        table = self.table(entity_type)
        out: list[str] = []
        try:
            subject = _iri(entity.get("id"))
            if self.skolem:  # this entity's nodes: <id/.well-known/genid/0>, 1, 2... in walk order
                self._blank, self._close, self._count = subject[:-1] + GENID + label, ">", itertools.count()
            if self.view == "direct":
                direct_triples(table, subject, entity, out)
                if self.wgs84:
                    out.append(location_triples(subject, entity))
            else:
                self._node(table, subject, entity, out, top=True)
        except Unsupported:
            if self.view == "direct":
                raise EntityError(
                    "the direct view needs the NGSI-LD normalized form", entity_id=str(entity.get("id"))
                ) from None
            self.fallbacks += 1
            return self._reference(entity)
        except EntityError as exc:
            exc.entity_id = exc.entity_id or str(entity.get("id"))
            raise
        if self.infer_types:
            out.extend(f"{subject} {RDF_TYPE} {cls} .\n" for cls in table.classes)
        return "".join(out)

    def quads(self, entity: Mapping[str, Any], *, graph: Graph | None = None) -> list[Quad]:
        """The quads of one entity in ``graph`` (default: the default graph), as pyoxigraph terms."""
        text = self.ntriples(entity)
        g = DefaultGraph() if graph is None else graph
        return [Quad(t.subject, t.predicate, t.object, g) for t in _parse(text)]

    def many(self, entities: Iterable[Mapping[str, Any]]) -> str:
        return "".join(self.ntriples(entity) for entity in entities)

    def _blank_node(self) -> str:
        return f"{self._blank}{next(self._count)}{self._close}"

    def _reference(self, entity: Mapping[str, Any]) -> str:
        quads = reference_quads(entity, self.ontology)
        # Relabel pyld's blank nodes (_:b0...) with this converter's unique labels.
        labels: dict[BlankNode, str] = {}

        def text(term: Any) -> str:
            if isinstance(term, BlankNode):
                return labels.setdefault(term, self._blank_node())
            return str(term)

        return "".join(f"{text(q.subject)} {q.predicate} {text(q.object)} .\n" for q in quads)

    # -- the JSON-LD walk: node objects, values, lists (terms are N-Triples text) -------------

    def _node(
        self, table: TermTable, subject: str, obj: Mapping[str, Any], out: list[str], *, top: bool = False
    ) -> None:
        for key, value in obj.items():
            if value is None:
                continue
            term = table.term(key)
            if term is None:
                continue
            predicate = term.predicate
            if predicate is not None:
                self._values(table, subject, predicate, term, value, out)
            elif term.iri == "@type":
                for name in value if isinstance(value, list) else (value,):
                    if not isinstance(name, str):
                        raise Unsupported("@type must be a string")
                    out.append(f"{subject} {RDF_TYPE} {table.type_node(name)} .\n")
            elif term.iri == "@id" or (top and term.iri == "@context"):
                continue
            else:
                raise Unsupported(f"keyword {term.iri}")

    def _values(
        self, table: TermTable, subject: str, predicate: str, term: Term, value: Any, out: list[str]
    ) -> None:
        if term.coerce == "@json":
            out.append(f"{subject} {predicate} {json_literal(value)} .\n")
        elif term.is_language_map and isinstance(value, dict):
            for lang, texts in value.items():
                suffix = "" if table.expand(lang, vocab=True) == "@none" else "@" + language(lang.lower())
                for text in texts if isinstance(texts, list) else (texts,):
                    if text is None:
                        continue
                    if not isinstance(text, str):
                        raise Unsupported("language map values must be strings")
                    out.append(f"{subject} {predicate} {quote(text)}{suffix} .\n")
        elif term.is_index_map and isinstance(value, dict):
            raise Unsupported("index maps")
        elif term.is_list:
            if isinstance(value, dict) and "@list" in value:
                raise Unsupported("list objects")
            items = value if isinstance(value, list) else [value]
            out.append(f"{subject} {predicate} {self._list(table, term, items, out)} .\n")
        elif isinstance(value, list):
            for item in _flatten(value):
                found = self._object(table, term, item, out)
                if found is not None:
                    out.append(f"{subject} {predicate} {found} .\n")
        else:
            found = self._object(table, term, value, out)
            if found is not None:
                out.append(f"{subject} {predicate} {found} .\n")

    def _list(self, table: TermTable, term: Term, items: list[Any], out: list[str]) -> str:
        nodes: list[str] = []
        for item in items:
            if isinstance(item, list):  # JSON-LD 1.1: an array in a list is a list
                nodes.append(self._list(table, term, item, out))
            else:
                found = self._object(table, term, item, out)
                if found is not None:
                    nodes.append(found)
        if not nodes:
            return RDF_NIL
        head = current = self._blank_node()
        last = len(nodes) - 1
        for index, node in enumerate(nodes):
            following = self._blank_node() if index < last else RDF_NIL
            out.append(f"{current} {RDF_FIRST} {node} .\n{current} {RDF_REST} {following} .\n")
            current = following
        return head

    def _object(self, table: TermTable, term: Term, item: Any, out: list[str]) -> str | None:
        kind = type(item)
        if kind is float or kind is int:  # the common case first: no ABC checks
            return number_literal(item, term.datatype)
        if kind is str:
            coerce = term.coerce
            if coerce == "@id" or coerce == "@vocab":
                return _iri(table.expand(item, vocab=coerce == "@vocab"))
            return typed(item, term.datatype)
        if isinstance(item, bool):
            if term.datatype is None:
                return TRUE if item else FALSE
            return f'"{"true" if item else "false"}"^^{term.datatype}'
        if isinstance(item, Real):
            return number_literal(item, term.datatype)
        if kind is dict:
            if "@value" in item:
                return _value_object(table, item)
            if "@list" in item or "@set" in item:
                raise Unsupported("list or set objects")
            ident = _identifier(table, item)
            node = self._blank_node() if ident is None else _iri(table.expand(_string(ident), vocab=False))
            self._node(table, node, item, out)
            if self.wgs84 and item.get("type") == "GeoProperty":
                out.append(point_triples(node, item.get("value")))
            return node
        if item is None:
            return None
        if isinstance(item, str):  # subclasses of the JSON types
            return typed(item, term.datatype)
        raise Unsupported(f"value of type {kind.__name__}")


def reference_quads(
    entity: Mapping[str, Any], ontology: Ontology, *, graph: Graph | None = None
) -> list[Quad]:
    """The quads pyld's ``to_rdf`` gives for ``entity`` with its type's context: the reference."""
    data = {k: v for k, v in entity.items() if k != "@context"}
    entity_type = _main_type(entity)
    known = entity_type if entity_type in ontology.classes else None
    data["@context"] = context_document(ontology, entity_type=known)["@context"]
    try:
        text = jsonld.to_rdf(data, {"documentLoader": document_loader(), "format": "application/n-quads"})
    except jsonld.JsonLdError as exc:
        raise EntityError(f"not valid JSON-LD: {exc}", entity_id=str(entity.get("id"))) from exc
    g = DefaultGraph() if graph is None else graph
    return [Quad(t.subject, t.predicate, t.object, g) for t in _parse(text)]


def _parse(text: str) -> list[pyoxigraph.Triple]:
    return list(pyoxigraph.parse(text, format=pyoxigraph.RdfFormat.N_TRIPLES))


def _main_type(entity: Mapping[str, Any]) -> str | None:
    found = entity.get("type")
    if isinstance(found, list):
        found = found[0] if found else None
    return found if isinstance(found, str) else None


def _iri(value: Any) -> str:
    if not isinstance(value, str) or not ABSOLUTE_IRI.match(value) or value.startswith("_:"):
        raise Unsupported(f"identifier {value!r} is not an absolute IRI")
    return iri(value)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise Unsupported("@id must be a string")
    return value


def _identifier(table: TermTable, obj: Mapping[str, Any]) -> Any:
    for key in table.id_keys:
        if key in obj:
            return obj[key]
    return None


def _value_object(table: TermTable, item: Mapping[str, Any]) -> str | None:
    value = item.get("@value")
    datatype = tag = None
    for key, found in item.items():
        keyword = table.expand(key, vocab=True)
        if keyword == "@type":
            if not isinstance(found, str):
                raise Unsupported("@type of a value must be a string")
            datatype = table.expand(found, vocab=True)
        elif keyword == "@language":
            if found is not None:
                tag = _string(found).lower()
        elif keyword not in ("@value", "@index"):
            raise Unsupported(f"{key!r} in a value object")
    if value is None:
        return None
    if datatype == "@json":
        return json_literal(value)
    if isinstance(value, dict | list) or (tag is not None and (datatype or not isinstance(value, str))):
        raise Unsupported("invalid value object")
    dt = _iri(datatype) if datatype is not None else None
    if isinstance(value, bool):
        return f'"{"true" if value else "false"}"^^{dt or XSD_BOOLEAN}'
    if isinstance(value, Real):
        return number_literal(value, dt)
    if tag is not None:
        return f"{quote(value)}@{language(tag)}"
    return typed(value, dt)


def _flatten(values: list[Any]) -> Iterable[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flatten(value)
        else:
            yield value
