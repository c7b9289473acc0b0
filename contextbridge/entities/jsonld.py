"""The JSON-LD @context derived from the ontology, and offline JSON-LD expansion.

Two shapes, one source (the ontology):

* ``context_document(onto)`` — the city context for every JSON-LD 1.1 processor (pyld, the
  city graph, other providers). A short name with one IRI in the whole ontology is a plain
  term; a short name whose IRI depends on the entity type (``temperature`` in
  WeatherObserved vs AirQualityObserved) is defined in the type-scoped context of each class
  that uses it.
* ``context_document(onto, entity_type="WeatherObserved")`` — a flat context for one type, for
  Orion-LD: its own JSON-LD code reads only ``@id``/``@type`` of each term and ignores scoped
  contexts, so the broker client groups a batch by entity type and links that type's context.

Short names that are core NGSI-LD terms (``status``, ``location``, ``description``...) are left
out: the core context is ``@protected`` and comes last, so they always expand to the core IRI,
which is the IRI the ontology declares for them. Both shapes end with the core context URL::

    doc = context_document(default_ontology())
    expand({"id": "urn:ngsi-ld:WeatherObserved:1", "type": "WeatherObserved",
            "temperature": {"type": "Property", "value": 20.5}}, doc)
"""

from __future__ import annotations

import copy
import functools
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pyld import jsonld

from contextbridge.entities.ontology import Ontology
from contextbridge.errors import ConfigError, OntologyError

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
CORE_CONTEXT_PATH = Path(__file__).parent.parent / "data" / "ngsi-ld-core-context-v1.8.jsonld"

DocumentLoader = Callable[[str, Any], dict[str, Any]]


class RemoteContextRefused(ConfigError):
    """A @context URL is neither the bundled core context nor one given to the loader."""

    def __init__(self, url: str, allowed: list[str]) -> None:
        self.url = url
        super().__init__(f"@context {url!r} is not available offline (known: {', '.join(allowed) or 'none'})")


@functools.cache
def core_context() -> dict[str, Any]:
    """The bundled NGSI-LD core context document (v1.8)."""
    document: dict[str, Any] = json.loads(CORE_CONTEXT_PATH.read_text(encoding="utf-8"))
    return document


def core_terms() -> dict[str, str]:
    """Core term → expanded IRI, resolving the core context's own prefixes."""
    context = core_context()["@context"]
    out = {}
    for term, value in context.items():
        iri = value.get("@id") if isinstance(value, dict) else value
        if term.startswith("@") or not isinstance(iri, str):
            continue
        prefix, _, rest = iri.partition(":")
        if isinstance(context.get(prefix), str) and not rest.startswith("//"):
            iri = context[prefix] + rest
        out[term] = iri
    return out


def _terms(ontology: Ontology) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(terms with one IRI everywhere, per class: the terms whose IRI depends on the class)."""
    core = core_terms()
    iris: dict[str, set[str]] = defaultdict(set)
    for cls in ontology.classes:
        for name, prop in ontology.attributes(cls).items():
            if name in core:
                if core[name] != prop.iri:  # the generated context would silently lie about this IRI
                    raise OntologyError(
                        f"{cls}.{name} is <{prop.iri}>, but the core context expands it to <{core[name]}>"
                    )
                continue
            iris[name].add(prop.iri)
    flat = {name: next(iter(found)) for name, found in iris.items() if len(found) == 1}
    scoped = {
        cls: {
            name: prop.iri
            for name, prop in ontology.attributes(cls).items()
            if name in iris and name not in flat
        }
        for cls in ontology.classes
    }
    return flat, scoped


def _entity_classes(ontology: Ontology) -> dict[str, str]:
    # Upper classes (sosa:Observation...) are named by CURIE: they are not NGSI-LD entity types.
    return {name: cls.iri for name, cls in ontology.classes.items() if ":" not in name}


def build_context(ontology: Ontology) -> dict[str, Any]:
    """The city's terms (JSON-LD 1.1, type-scoped where a short name's IRI depends on the type)."""
    flat, scoped = _terms(ontology)
    terms: dict[str, Any] = {"@version": 1.1, **flat}
    for name, iri in _entity_classes(ontology).items():
        own = scoped.get(name)
        terms[name] = {"@id": iri, "@context": dict(sorted(own.items()))} if own else iri
    return dict(sorted(terms.items()))


def type_context(ontology: Ontology, entity_type: str) -> dict[str, Any]:
    """A flat context (no scoped contexts) valid for entities of ``entity_type``: what Orion-LD reads."""
    if entity_type not in ontology.classes:
        raise OntologyError(f"unknown entity type {entity_type!r}")
    flat, scoped = _terms(ontology)
    terms = {**flat, **_entity_classes(ontology), **scoped[entity_type]}
    return dict(sorted(terms.items()))


def context_document(ontology: Ontology, *, entity_type: str | None = None) -> dict[str, Any]:
    """``{"@context": [city terms, core context URL]}``; the core context last, as NGSI-LD requires."""
    terms = build_context(ontology) if entity_type is None else type_context(ontology, entity_type)
    return {"@context": [terms, CORE_CONTEXT_URL]}


def dumps(document: Mapping[str, Any]) -> str:
    """Stable JSON text of a context document (sorted keys, fixed layout)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def document_loader(allowed: Mapping[str, dict[str, Any]] | None = None) -> DocumentLoader:
    """A pyld document loader that serves ``allowed`` and the core context, and nothing else."""
    documents = {CORE_CONTEXT_URL: core_context(), **(allowed or {})}

    def load(url: str, options: Any = None) -> dict[str, Any]:
        if url not in documents:
            raise RemoteContextRefused(url, sorted(documents))
        return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(documents[url])}

    return load


def expand(
    entity: Mapping[str, Any],
    context: Any = None,
    *,
    loader: DocumentLoader | None = None,
) -> list[dict[str, Any]]:
    """Expand ``entity`` offline; ``context`` (a document or a @context value) replaces its own."""
    data = dict(entity)
    if context is not None:
        data["@context"] = (
            context["@context"] if isinstance(context, Mapping) and "@context" in context else context
        )
    try:
        result: list[dict[str, Any]] = jsonld.expand(data, {"documentLoader": loader or document_loader()})
    except jsonld.JsonLdError as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ConfigError):
            cause = getattr(cause, "cause", None) or cause.__cause__
        if isinstance(cause, ConfigError):
            raise cause from exc
        raise ConfigError(f"JSON-LD expansion failed: {exc}") from exc
    return result
