"""NGSI-LD entities as RDF: the NGSI-LD property-graph view (JSON-LD to-RDF) or the direct view.

    from contextbridge.entities.rdf import Converter
    quads = Converter(view="ngsi-ld").quads(entity, graph=NamedNode("urn:contextbridge:graph:tenant:default"))

See ``converter`` for the NGSI-LD view, ``direct`` for the simplified one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pyoxigraph import BlankNode, DefaultGraph, NamedNode, Quad

from contextbridge.entities.rdf.converter import VIEWS, Converter, View, reference_quads
from contextbridge.entities.rdf.direct import to_wkt

__all__ = ["VIEWS", "Converter", "View", "entity_to_quads", "reference_quads", "to_wkt"]


@functools.cache
def _default_converter(view: View) -> Converter:
    return Converter(view=view)


def entity_to_quads(
    entity: Mapping[str, Any],
    *,
    graph: NamedNode | BlankNode | DefaultGraph | None = None,
    view: View = "ngsi-ld",
    converter: Converter | None = None,
) -> list[Quad]:
    """The quads of one entity with the bundled ontology (or ``converter``'s)."""
    return (converter or _default_converter(view)).quads(entity, graph=graph)
