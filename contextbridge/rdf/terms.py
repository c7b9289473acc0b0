"""Term tables: the JSON-LD active context of one entity type, computed once, as RDF terms.

JSON-LD gives a key its IRI, its type coercion (``@id``, ``@vocab``, ``@json``, a datatype)
and its container (``@list``, ``@language``...) through the active context. A JSON-LD
processor rebuilds that context for every document; here pyld processes each entity type's
context once (so its rules, e.g. which terms may be prefixes, are the reference's own) and
the result is kept as plain Python values with the pyoxigraph terms already built::

    table = TermTable.build(default_ontology(), "WeatherObserved")
    table.term("temperature").predicate
    # <NamedNode value=https://smartdatamodels.org/dataModel.Weather/temperature>
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pyld import jsonld
from pyoxigraph import NamedNode

from contextbridge.context import CORE_CONTEXT_URL, build_context, context_document, document_loader
from contextbridge.ontology import Ontology

RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDF_FIRST = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#first")
RDF_REST = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#rest")
RDF_NIL = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#nil")
RDF_JSON = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON")
XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_INTEGER = NamedNode(XSD + "integer")
XSD_DOUBLE = NamedNode(XSD + "double")
XSD_BOOLEAN = NamedNode(XSD + "boolean")
XSD_DOUBLE_IRI = XSD + "double"
NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB = NGSI_LD + "default-context/"

KEYWORD_FORM = re.compile(r"^@[a-zA-Z]+$")
ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")
_CACHE_LIMIT = 4096  # keys outside the context (structured values) are cached up to this many


class Unsupported(Exception):
    """A JSON-LD construct outside the NGSI-LD shapes the direct conversion covers."""


@dataclass(frozen=True, slots=True)
class Term:
    """One key of the active context: where it points and how its values are read."""

    iri: str
    predicate: NamedNode | None  # None for keyword aliases (``id``, ``type``)
    coerce: str | None = None  # "@id", "@vocab", "@json" or a datatype IRI
    datatype: NamedNode | None = None  # the datatype as a term, when ``coerce`` is one
    is_list: bool = False
    is_language_map: bool = False
    is_index_map: bool = False


class TermTable:
    """The active context of one entity type, with lookups that never rebuild it."""

    def __init__(self, mappings: dict[str, Any], vocab: str | None, classes: tuple[NamedNode, ...]) -> None:
        self._mappings = mappings
        self.vocab = vocab
        self.prefixes = {key: m["@id"] for key, m in mappings.items() if m and m.get("_prefix")}
        self.classes = classes  # the entity type and every ancestor class in the ontology
        self._terms: dict[str, Term | None] = {}
        for key, mapping in mappings.items():
            if mapping is not None:
                self._terms[key] = self._make(mapping["@id"], mapping)

    @classmethod
    def build(cls, ontology: Ontology, entity_type: str | None) -> TermTable:
        """The table of ``entity_type``, or of the city context for a type the ontology lacks."""
        known = entity_type is not None and entity_type in ontology.classes
        if known:
            local = context_document(ontology, entity_type=entity_type)["@context"]
        else:
            # No type-scoped context applies to an unknown type: the plain terms are the context.
            terms = {
                k: (v["@id"] if isinstance(v, dict) and "@context" in v else v)
                for k, v in build_context(ontology).items()
            }
            local = [terms, CORE_CONTEXT_URL]
        processor = jsonld.JsonLdProcessor()
        options = {"documentLoader": document_loader(), "processingMode": "json-ld-1.1", "base": ""}
        active = processor.process_context(processor._get_initial_context(options), local, options)
        classes: tuple[NamedNode, ...] = ()
        if known:
            assert entity_type is not None
            ancestors = [c for c in ontology.classes.values() if ontology.is_subclass(entity_type, c.name)]
            classes = tuple(NamedNode(c.iri) for c in sorted(ancestors, key=lambda c: c.name != entity_type))
        return cls(dict(active["mappings"]), active.get("@vocab"), classes)

    @staticmethod
    def _make(iri: str, mapping: dict[str, Any] | None) -> Term:
        mapping = mapping or {}
        container = mapping.get("@container") or ()
        coerce = mapping.get("@type")
        is_keyword = iri.startswith("@")
        datatype = NamedNode(coerce) if coerce and not coerce.startswith("@") else None
        return Term(
            iri,
            None if is_keyword else NamedNode(iri),
            coerce,
            datatype,
            "@list" in container,
            "@language" in container,
            "@index" in container,
        )

    def term(self, key: str) -> Term | None:
        """The term a node-object key expands to; None for keys JSON-LD drops."""
        try:
            return self._terms[key]
        except KeyError:
            pass
        if KEYWORD_FORM.match(key):
            found: Term | None = Term(key, None) if key in _KEYWORDS else None
        else:
            iri = self.expand(key, vocab=True)
            if iri is None or not ABSOLUTE_IRI.match(iri) or iri.startswith("_:"):
                raise Unsupported(f"key {key!r} does not expand to an IRI")
            found = self._make(iri, None)
        if len(self._terms) < len(self._mappings) + _CACHE_LIMIT:
            self._terms[key] = found
        return found

    def expand(self, value: str, *, vocab: bool) -> str | None:
        """IRI expansion as JSON-LD does it (``vocab``: terms and @vocab apply, as for types)."""
        if value.startswith("@"):
            if value in _KEYWORDS:
                return value
            if KEYWORD_FORM.match(value):
                return None
        if vocab:
            mapping = self._mappings.get(value, False)
            if mapping is None:
                return None
            if mapping:
                iri: str = mapping["@id"]
                return iri
        prefix, colon, suffix = value.partition(":")
        if colon and prefix:
            if prefix == "_" or suffix.startswith("//"):
                return value
            if prefix in self.prefixes:
                return self.prefixes[prefix] + suffix
            if ABSOLUTE_IRI.match(value):
                return value
        if vocab and self.vocab is not None:
            return self.vocab + value
        # Relative IRIs would be resolved against a base; NGSI-LD identifiers are absolute.
        raise Unsupported(f"relative IRI {value!r}")


_KEYWORDS = frozenset(
    {
        "@base", "@container", "@context", "@direction", "@graph", "@id", "@import", "@included",
        "@index", "@json", "@language", "@list", "@nest", "@none", "@prefix", "@propagate",
        "@protected", "@reverse", "@set", "@type", "@value", "@version", "@vocab",
    }
)  # fmt: skip
