"""The city ontology: which entity types exist, which attributes each one has, with which IRI.

The ontology is OWL/RDFS in Turtle (``ontologies/*.ttl``). Classes and attributes carry the
FIWARE Smart Data Models IRIs; ``city:ngsiName`` gives the short name used in NGSI-LD payloads,
``city:ngsiType`` the attribute kind, ``city:unitCode`` the expected UN/CEFACT unit. One short
name can stand for different IRIs in different classes (``temperature`` of a WeatherObserved
is not that of an AirQualityObserved), so attributes are always looked up per class::

    onto = default_ontology()
    onto.attribute("WeatherObserved", "temperature").iri
    # 'https://smartdatamodels.org/dataModel.Weather/temperature'
    onto.is_subclass("WeatherObserved", "sosa:Observation")  # True

An attribute's ``rdfs:domain`` is one class, or one ``owl:unionOf`` class when several classes
use it: several ``rdfs:domain`` statements would mean their intersection.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import owlrl
from rdflib import RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, XSD

from contextbridge.entities.plancache import BUNDLED, fingerprint, ontology_files
from contextbridge.errors import OntologyError

CITY = Namespace("https://contextbridge.dev/ontology/city#")
KINDS = ("Property", "Relationship", "GeoProperty", "LanguageProperty")
_ENTITY_MEMBERS = frozenset(("id", "type", "@context", "scope", "createdAt", "modifiedAt"))  # no attributes
XSD_RANGES = frozenset({"anyURI", "boolean", "date", "dateTime", "double", "integer", "string", "time"})
# Upper ontologies' classes are named by CURIE: their local names (Device...) clash with SDM's.
PREFIXES = {
    "http://www.w3.org/ns/sosa/": "sosa",
    "http://www.w3.org/ns/ssn/": "ssn",
    "https://saref.etsi.org/core/": "saref",
}
_ERROR = URIRef("http://www.daml.org/2002/03/agents/agent-ont#error")  # where owlrl records clashes


@dataclass(frozen=True)
class OntologyClass:
    """An entity type (or an upper class such as ``sosa:Observation``)."""

    name: str
    iri: str
    label: str
    comment: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class OntologyProperty:
    """An attribute. ``range`` is an XSD local name, ``json`` for structured values, or a class name."""

    name: str
    iri: str
    kind: str
    range: str
    unit: str | None
    label: str
    comment: str
    domains: tuple[str, ...]


class Ontology:
    """The loaded ontology, indexed by class name and by (class, attribute short name)."""

    def __init__(self, graph: Graph, *, fingerprint: str | None = None) -> None:
        """``fingerprint``: the key of the files the graph was read from (``load`` gives it), under
        which the constraints compiled for this ontology are cached; None: not cached."""
        self.graph = graph
        self.fingerprint = fingerprint
        self._names: dict[URIRef, str] = {}
        self._problems: list[str] = []
        # Same name, different IRIs: (what, IRI, other IRI); ``load`` names their files and lines.
        self.conflicts: list[tuple[str, str, str]] = []
        named = sorted({node for node in graph.subjects(RDF.type, OWL.Class) if isinstance(node, URIRef)})
        classes = [self._read_class(node) for node in named]
        by_name: dict[str, OntologyClass] = {}
        for read in classes:
            same = by_name.setdefault(read.name, read)
            if same is not read:
                self.conflicts.append((f"entity type {read.name!r}", same.iri, read.iri))
        self.classes: Mapping[str, OntologyClass] = MappingProxyType(by_name)
        kinds = (OWL.DatatypeProperty, OWL.ObjectProperty)
        nodes = sorted(
            {node for kind in kinds for node in graph.subjects(RDF.type, kind) if isinstance(node, URIRef)}
        )
        props = [self._read_property(node) for node in nodes]
        self.properties: Mapping[str, OntologyProperty] = MappingProxyType({p.iri: p for p in props})
        self._attributes: dict[str, dict[str, OntologyProperty]] = {name: {} for name in self.classes}
        for prop in props:
            for cls in self.classes:
                if any(self.is_subclass(cls, domain) for domain in prop.domains):
                    other = self._attributes[cls].setdefault(prop.name, prop)
                    if other is not prop:
                        self._problems.append(
                            f"{cls}: short name {prop.name!r} is both <{other.iri}> and <{prop.iri}>"
                        )
                        self.conflicts.append((f"{cls}.{prop.name}", other.iri, prop.iri))

    @classmethod
    def load(cls, *paths: Path) -> Ontology:
        """Parse Turtle files (default: the bundled ontology); a directory means its ``*.ttl``."""
        files = ontology_files(paths or (BUNDLED,))
        if not files:
            raise OntologyError(f"no ontology file in {', '.join(map(str, paths or (BUNDLED,)))}")
        graph = Graph()
        declared: dict[str, str] = {}  # IRI -> "file:line" of its first declaration
        contents: list[bytes] = []
        for file in files:
            try:
                own = Graph().parse(file, format="turtle")
                raw = file.read_bytes()
                lines = _subject_lines(raw.decode("utf-8"))
            except Exception as exc:  # rdflib raises many types (BadSyntax, OSError, ...)
                raise OntologyError(f"{file}: cannot load the ontology: {exc}") from exc
            contents.append(raw)
            graph += own
            for node in set(own.subjects(RDF.type, None)):
                if isinstance(node, URIRef):
                    declared.setdefault(str(node), f"{file}:{_line_of(own, node, lines)}")
        ontology = cls(graph, fingerprint=fingerprint(contents))
        if ontology.conflicts:
            raise OntologyError(
                "; ".join(
                    f"{what} is <{first}> ({declared.get(first, '?')}) and <{second}> ({declared.get(second, '?')})"
                    for what, first, second in ontology.conflicts
                )
            )
        return ontology

    def cls(self, name: str) -> OntologyClass | None:
        return self.classes.get(name)

    def attribute(self, type_name: str, attribute: str) -> OntologyProperty | None:
        """The attribute ``attribute`` (short name or full IRI) of entity type ``type_name``, if allowed."""
        attributes = self._attributes.get(type_name, {})
        if attribute in attributes:
            return attributes[attribute]
        prop = self.properties.get(attribute)
        return prop if prop is not None and attributes.get(prop.name) is prop else None

    def attributes(self, type_name: str) -> Mapping[str, OntologyProperty]:
        """Every attribute allowed on ``type_name`` (inherited ones included), by short name."""
        return MappingProxyType(self._attributes.get(type_name, {}))

    def problems(self, entity: Mapping[str, Any]) -> list[str]:
        """What the ontology says about an entity the NGSI-LD rules accept: an unknown type, or
        attributes that are no property of its type."""
        type_name = entity.get("type")
        if not isinstance(type_name, str) or self.cls(type_name) is None:
            return [f"type {type_name!r} is not a class of the ontology"]
        return [
            f"attribute {name!r} is not a property of {type_name} in the ontology"
            for name in entity
            if name not in _ENTITY_MEMBERS and self.attribute(type_name, name) is None
        ]

    def is_subclass(self, child: str, parent: str) -> bool:
        """True if ``child`` is ``parent`` or one of its (indirect) subclasses."""
        return parent in self._ancestors(child)

    def _ancestors(self, name: str) -> frozenset[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                found = self.classes.get(current)
                todo.extend(found.parents if found else ())
        return frozenset(seen)

    def consistency_problems(self) -> list[str]:
        """Everything wrong with the ontology, one message each; an empty list means consistent."""
        problems = list(self._problems)
        for prop in self.properties.values():
            where = f"<{prop.iri}>"
            if not prop.domains:
                problems.append(f"{where}: no rdfs:domain")
            problems += [
                f"{where}: domain {d!r} is not a declared class"
                for d in prop.domains
                if d not in self.classes
            ]
            if not prop.range:
                problems.append(f"{where}: no rdfs:range")
            elif prop.kind == "Relationship" and prop.range not in self.classes:
                problems.append(f"{where}: Relationship range {prop.range!r} is not a declared class")
            elif prop.kind != "Relationship" and prop.range not in XSD_RANGES | {"json"}:
                problems.append(f"{where}: range {prop.range!r} is not an XSD datatype")
            if prop.kind not in KINDS:
                problems.append(f"{where}: city:ngsiType {prop.kind!r} is not one of {', '.join(KINDS)}")
            is_object = (URIRef(prop.iri), RDF.type, OWL.ObjectProperty) in self.graph
            if is_object != (prop.kind == "Relationship"):
                expected = "owl:ObjectProperty" if prop.kind == "Relationship" else "owl:DatatypeProperty"
                problems.append(f"{where}: a {prop.kind} must be an {expected}")
            if prop.unit is not None and not (
                2 <= len(prop.unit) <= 3 and prop.unit.isalnum() and prop.unit.isupper()
            ):
                problems.append(f"{where}: unit {prop.unit!r} is not a UN/CEFACT common code")
        for cls in self.classes.values():
            if not cls.label or not cls.comment:
                problems.append(f"{cls.name}: missing rdfs:label or rdfs:comment")
            problems += [
                f"{cls.name}: parent {p!r} is not a declared class"
                for p in cls.parents
                if p not in self.classes
            ]
        return problems + _owlrl_clashes(self.graph, self.classes.values())

    def _name(self, node: URIRef) -> str:
        if node not in self._names:
            short = self.graph.value(node, CITY.ngsiName)
            base, local = _split(str(node))
            fallback = f"{PREFIXES[base]}:{local}" if base in PREFIXES else str(node)
            self._names[node] = str(short) if short is not None else fallback
        return self._names[node]

    def _read_class(self, node: URIRef) -> OntologyClass:
        parents = sorted(
            self._name(p) for p in self.graph.objects(node, RDFS.subClassOf) if isinstance(p, URIRef)
        )
        return OntologyClass(
            self._name(node),
            str(node),
            _text(self.graph, node, RDFS.label),
            _text(self.graph, node, RDFS.comment),
            tuple(parents),
        )

    def _read_property(self, node: URIRef) -> OntologyProperty:
        graph = self.graph
        domains: set[str] = set()
        for domain in graph.objects(node, RDFS.domain):
            union = graph.value(domain, OWL.unionOf)
            members: Iterable = Collection(graph, union) if union is not None else [domain]
            domains.update(self._name(m) for m in members if isinstance(m, URIRef))
        declared = graph.value(node, CITY.ngsiType)
        default = "Relationship" if (node, RDF.type, OWL.ObjectProperty) in graph else "Property"
        kind = str(declared) if declared is not None else default
        rng = graph.value(node, RDFS.range)
        if rng is None or isinstance(rng, BNode):
            range_name = ""
        elif rng == RDF.JSON:
            range_name = "json"
        elif str(rng).startswith(str(XSD)):
            range_name = str(rng)[len(str(XSD)) :]
        else:
            range_name = self._name(rng)  # type: ignore[arg-type]
        unit = graph.value(node, CITY.unitCode)
        return OntologyProperty(
            self._name(node),
            str(node),
            str(kind),
            range_name,
            str(unit) if unit is not None else None,
            _text(graph, node, RDFS.label),
            _text(graph, node, RDFS.comment),
            tuple(sorted(domains)),
        )


def _owlrl_clashes(graph: Graph, classes: Iterable[OntologyClass]) -> list[str]:
    """Clashes found by the OWL-RL closure, with one probe member per class.

    OWL-RL rules only fire on individuals: an unsatisfiable class (e.g. disjoint with
    one of its own subclasses) shows up only once something is a member of it.
    """
    probe = Graph()
    for triple in graph:
        probe.add(triple)
    for number, cls in enumerate(sorted(classes, key=lambda c: c.name)):
        probe.add((URIRef(f"urn:contextbridge:probe:{number}"), RDF.type, URIRef(cls.iri)))
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(probe)
    found = sorted(f"OWL-RL: {message}" for message in probe.objects(None, _ERROR))
    found += sorted(
        f"OWL-RL: {member} is a member of owl:Nothing" for member in probe.subjects(RDF.type, OWL.Nothing)
    )
    return found


def _subject_lines(text: str) -> dict[str, int]:
    """The first line of a Turtle file that starts with each word (rdflib keeps no positions)."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        lines.setdefault(line.split(" ", 1)[0], number)
    return lines


def _line_of(graph: Graph, node: URIRef, lines: Mapping[str, int]) -> int:
    """The line where a Turtle file states ``node`` as a subject (1 if none is found)."""
    spellings = {f"<{node}>", graph.namespace_manager.normalizeUri(node)}
    return min((lines[s] for s in spellings if s in lines), default=1)


def _split(iri: str) -> tuple[str, str]:
    cut = max(iri.rfind("#"), iri.rfind("/")) + 1
    return iri[:cut], iri[cut:]


def _text(graph: Graph, node: URIRef, predicate: URIRef) -> str:
    values = sorted(
        graph.objects(node, predicate), key=lambda v: (getattr(v, "language", None) != "en", str(v))
    )
    return str(values[0]) if values and isinstance(values[0], Literal) else ""


@functools.cache
def default_ontology() -> Ontology:
    """The bundled city ontology, loaded once."""
    return Ontology.load()


def union_ontology(extra: Iterable[Path] = ()) -> Ontology:
    """The bundled ontology and the ``extra`` Turtle files (or directories), loaded once per set.

        union_ontology([Path("ontologies/bikes.ttl")]).cls("BikeDock")

    A configuration's ``ontologies:``, a mapping's ``ontology:`` and ``--ontology`` all add here.
    """
    paths = tuple(sorted({Path(path).resolve() for path in extra}))
    return _union(paths) if paths else default_ontology()


@functools.lru_cache(maxsize=32)
def _union(paths: tuple[Path, ...]) -> Ontology:
    return Ontology.load(BUNDLED, *paths)
