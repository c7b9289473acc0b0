"""Term tables: the JSON-LD active context of one entity type, computed once, as RDF terms.

JSON-LD gives a key its IRI, its type coercion (``@id``, ``@vocab``, ``@json``, a datatype)
and its container (``@list``, ``@language``...) through the active context. A JSON-LD
processor rebuilds that context for every document; here pyld processes each entity type's
context once (so its rules, e.g. which terms may be prefixes, are the reference's own) and
the result is kept as plain Python values with the N-Triples text of each IRI already built::

    table = TermTable.build(default_ontology(), "WeatherObserved")
    table.term("temperature").predicate
    # '<https://smartdatamodels.org/dataModel.Weather/temperature>'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pyld import jsonld

from contextbridge.entities.jsonld import CORE_CONTEXT_URL, build_context, context_document, document_loader
from contextbridge.entities.ontology import Ontology
from contextbridge.entities.rdf.literals import iri as iri_text

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_TYPE, RDF_FIRST, RDF_REST, RDF_NIL = (f"<{RDF}{name}>" for name in ("type", "first", "rest", "nil"))
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
    predicate: str | None  # ``<iri>``; None for keyword aliases (``id``, ``type``)
    coerce: str | None = None  # "@id", "@vocab", "@json" or a datatype IRI
    datatype: str | None = None  # ``<datatype>``, when ``coerce`` is one
    is_list: bool = False
    is_language_map: bool = False
    is_index_map: bool = False


class TermTable:
    """The active context of one entity type, with lookups that never rebuild it."""

    def __init__(
        self,
        mappings: dict[str, Any],
        vocab: str | None,
        *,
        classes: tuple[str, ...] = (),
        ranges: dict[str, str] | None = None,
    ) -> None:
        self._mappings = mappings
        self.vocab = vocab
        self.prefixes = {key: m["@id"] for key, m in mappings.items() if m and m.get("_prefix")}
        self.classes = classes  # the entity type and every ancestor class in the ontology
        self.ranges = ranges or {}  # attribute short name → its ontology range (XSD local name...)
        aliases = {key: m["@id"] for key, m in mappings.items() if m and m["@id"].startswith("@")}
        self.id_keys = ("@id", *sorted(k for k, v in aliases.items() if v == "@id"))
        self._terms: dict[str, Term | None] = {}
        self._types: dict[str, str] = {}
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
        if entity_type is None or not known:
            return cls(dict(active["mappings"]), active.get("@vocab"))
        ancestors = [c for c in ontology.classes.values() if ontology.is_subclass(entity_type, c.name)]
        ranges = {name: prop.range for name, prop in ontology.attributes(entity_type).items()}
        return cls(
            dict(active["mappings"]),
            active.get("@vocab"),
            classes=tuple(f"<{c.iri}>" for c in ancestors if c.name != entity_type),
            ranges=ranges,
        )

    @classmethod
    def build_core(cls) -> TermTable:
        """The table of the NGSI-LD core context alone."""
        processor = jsonld.JsonLdProcessor()
        options = {"documentLoader": document_loader(), "processingMode": "json-ld-1.1", "base": ""}
        active = processor.process_context(processor._get_initial_context(options), CORE_CONTEXT_URL, options)
        return cls(dict(active["mappings"]), active.get("@vocab"))

    def terms(self) -> list[Term]:
        """The terms the context defines (not the cached look-ups of other keys)."""
        return [term for key, term in self._terms.items() if term is not None and key in self._mappings]

    @staticmethod
    def _make(iri: str, mapping: dict[str, Any] | None) -> Term:
        mapping = mapping or {}
        container = mapping.get("@container") or ()
        coerce = mapping.get("@type")
        is_keyword = iri.startswith("@")
        datatype = f"<{coerce}>" if coerce and not coerce.startswith("@") else None
        return Term(
            iri,
            None if is_keyword else iri_text(iri),
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

    def type_node(self, name: str) -> str:
        """The class IRI a ``type`` value names (cached: a city has few types)."""
        try:
            return self._types[name]
        except KeyError:
            iri = self.expand(name, vocab=True)
            if iri is None or not ABSOLUTE_IRI.match(iri) or iri.startswith("_:"):
                raise Unsupported(f"type {name!r} does not expand to an IRI") from None
            node = iri_text(iri)
            if len(self._types) < _CACHE_LIMIT:
                self._types[name] = node
            return node

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
