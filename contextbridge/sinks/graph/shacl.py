"""The city graph validated with pySHACL against the Smart Data Models shapes (and a vendor's).

    violations = await validate_store(store, ontology, tenant="default")

The same shapes the translator's compiled check runs (:mod:`contextbridge.entities.constraints`), read by a
full SHACL processor: what the graph holds (also what came from other providers through Orion-LD
notifications) is checked, not only what contextbridge translated. Each result becomes a
:class:`~contextbridge.entities.constraints.Violation` named with the shape's rule and origin.
"""

from __future__ import annotations

from typing import Any

import pyshacl
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, SH

from contextbridge.entities.constraints import Violation
from contextbridge.entities.ontology import CITY, Ontology
from contextbridge.entities.shapes import shapes_graph
from contextbridge.sinks.graph.base import GraphStore
from contextbridge.sinks.graph.results import format_result

ALL_TRIPLES = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


def shacl_violations(data: Graph, shapes: Graph) -> list[Violation]:
    """Every SHACL result of ``data`` against ``shapes``, sorted by entity and shape."""
    _, results, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=False)
    found = []
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        shape = results.value(result, SH.sourceShape)
        value = results.value(result, SH.value)
        name = shapes.value(shape, SH.name)
        rule = shapes.value(shape, CITY.rule)
        message = results.value(result, SH.resultMessage) or shapes.value(shape, SH.message)
        source = shapes.value(shape, DCTERMS.source)
        what = (
            repr(value.toPython())
            if isinstance(value, Literal)
            else ("missing" if value is None else str(value))
        )
        found.append(
            Violation(
                str(focus),
                str(name) if name is not None else str(results.value(result, SH.resultPath)),
                str(rule) if rule is not None else "shacl",
                f"{what}: {message}",
                str(source) if source is not None else f"<{shape}>",
                str(shape) if isinstance(shape, URIRef) else None,
            )
        )
    return sorted(found, key=lambda v: (v.entity_id or "", v.shape or "", v.message))


async def validate_store(
    store: GraphStore, ontology: Ontology, *, tenant: str | None = None
) -> list[Violation]:
    """The violations of a tenant's graph (None: every tenant's) in ``store``."""
    result = await store.query(ALL_TRIPLES, tenant=tenant, limit=1 << 40)
    data = Graph().parse(data=format_result(result, "ntriples"), format="nt")
    return shacl_violations(data, shapes_graph(ontology))


def violation_key(violation: Violation) -> tuple[Any, ...]:
    """What the compiled check and pySHACL must agree on: the entity and the shape it breaks."""
    return violation.entity_id, violation.shape
