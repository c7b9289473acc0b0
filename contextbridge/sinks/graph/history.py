"""Partial entities and past values in the city graph: the SPARQL of a merge, history observations.

    targets = attribute_instances(converter, partial)     # what a merge replaces
    text = observations(converter, entity)                # N-Triples of its values as observations

A merge replaces the attribute instances an entity carries (per attribute and ``datasetId``) and
keeps the rest. Its nodes are named under a label of its own content (``<id/.well-known/genid/
m<hash>-N>``): never the walk numbers of the nodes it keeps, the same ones when it is delivered again.

History (docs/city-graph.md, "History"): each value of an attribute at its ``observedAt`` (or the
entity's) is a ``sosa:Observation`` in ``urn:contextbridge:graph:history:<tenant>``, its IRI derived
from the entity id, attribute, datasetId and time (a redelivery writes the same triples)::

    <urn:contextbridge:observation:…> a sosa:Observation ;
        sosa:hasFeatureOfInterest <entity id> ; sosa:observedProperty <attribute IRI> ;
        sosa:hasSimpleResult "41.5"^^xsd:double ; sosa:resultTime "…"^^xsd:dateTime ;
        ngsi-ld:datasetId <…> .                                        # when the instance has one

An attribute value without any ``observedAt`` has no time to be kept at: it is not recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from contextbridge.entities.rdf import Converter
from contextbridge.entities.rdf.literals import FALSE, TRUE, iri, json_literal, number_literal, quote, typed
from contextbridge.entities.updates import NOT_ATTRIBUTES

SOSA = "http://www.w3.org/ns/sosa/"
XSD_DATETIME = "<http://www.w3.org/2001/XMLSchema#dateTime>"
XSD_ANYURI = "<http://www.w3.org/2001/XMLSchema#anyURI>"
OBSERVATION = "urn:contextbridge:observation:"
_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
_DATASET = "<https://uri.etsi.org/ngsi-ld/datasetId>"
_FOI, _PROPERTY, _RESULT, _TIME = (f"<{SOSA}{name}>" for name in
                                   ("hasFeatureOfInterest", "observedProperty", "hasSimpleResult", "resultTime"))  # fmt: skip


def merge_label(entity: Mapping[str, Any]) -> str:
    """The label of a merge's nodes: from the partial entity's content."""
    return (
        "m"
        + hashlib.blake2b(orjson.dumps(entity, option=orjson.OPT_SORT_KEYS), digest_size=6).hexdigest()
        + "-"
    )


def attribute_instances(converter: Converter, entity: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    """The (entity IRI, attribute IRI, datasetId IRI or None) of each attribute instance ``entity`` carries."""
    table = converter.table_of(entity)
    subject = iri(str(entity["id"]))
    found = []
    for key, value in entity.items():
        term = None if key in NOT_ATTRIBUTES else table.term(key)
        if term is None or term.predicate is None:
            continue
        for instance in value if isinstance(value, list) else [value]:
            dataset = instance.get("datasetId") if isinstance(instance, Mapping) else None
            found.append((subject, term.predicate, iri(dataset) if isinstance(dataset, str) else None))
    return found


def observations(converter: Converter, entity: Mapping[str, Any]) -> str:
    """The N-Triples of each attribute value of ``entity`` as an observation at its time."""
    table = converter.table_of(entity)
    entity_id = str(entity["id"])
    subject = iri(entity_id)
    default_time = entity.get("observedAt")
    out: list[str] = []
    for key, value in entity.items():
        term = None if key in NOT_ATTRIBUTES else table.term(key)
        if term is None or term.predicate is None:
            continue
        for instance in value if isinstance(value, list) else [value]:
            if not isinstance(instance, Mapping):
                continue
            when = instance.get("observedAt") or default_time
            result = _result(instance)
            if not isinstance(when, str) or result is None:
                continue
            dataset = instance.get("datasetId")
            dataset = dataset if isinstance(dataset, str) else None
            key_text = "\x1f".join((entity_id, term.predicate, dataset or "", when))
            node = iri(OBSERVATION + hashlib.blake2b(key_text.encode(), digest_size=16).hexdigest())
            out.append(
                f"{node} {_TYPE} <{SOSA}Observation> .\n{node} {_FOI} {subject} .\n"
                f"{node} {_PROPERTY} {term.predicate} .\n{node} {_RESULT} {result} .\n"
                f"{node} {_TIME} {typed(when, XSD_DATETIME)} .\n"
            )
            if dataset is not None:
                out.append(f"{node} {_DATASET} {iri(dataset)} .\n")
    return "".join(out)


def _result(instance: Mapping[str, Any]) -> str | None:
    """The value of an attribute instance as one typed literal (None: nothing to record)."""
    kind = instance.get("type")
    if kind == "Relationship":
        target = instance.get("object")
        return typed(target, XSD_ANYURI) if isinstance(target, str) else None
    value = instance.get("value")
    if isinstance(value, bool):
        return TRUE if value else FALSE
    if isinstance(value, int | float):
        return number_literal(value, None)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, dict) and "@value" in value:
        datatype = value.get("@type")
        inner = value["@value"]
        return typed(str(inner), iri(datatype) if isinstance(datatype, str) else None)
    if value is None:
        return None
    return json_literal(value)  # a structured value, a GeoJSON geometry


def retention_update(graph: str, entity_ids: Iterable[str], keep: float, *, now: float) -> str:
    """Drop the observations of ``entity_ids`` older than ``keep`` seconds before ``now``."""
    cutoff = datetime.fromtimestamp(now - keep, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = " ".join(iri(entity_id) for entity_id in entity_ids)
    return (
        f"DELETE {{ GRAPH <{graph}> {{ ?o ?p ?v }} }} WHERE {{ GRAPH <{graph}> {{ VALUES ?e {{ {values} }} "
        f"?o {_FOI} ?e ; {_TIME} ?t . FILTER(?t < {typed(cutoff, XSD_DATETIME)}) ?o ?p ?v }} }}"
    )
