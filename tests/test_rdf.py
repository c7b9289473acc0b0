"""NGSI-LD → RDF: the direct conversion gives the graph JSON-LD processing (pyld) gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rdflib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld
from rdflib.compare import isomorphic

from contextbridge import Converter, EntityError, context_document, default_ontology
from contextbridge.entities.jsonld import document_loader
from contextbridge.entities.rdf import entity_to_quads, to_wkt

SDM = Path(__file__).resolve().parent / "data" / "sdm"
EXAMPLES = sorted(SDM.glob("*/*/examples/example-normalized.jsonld"))
ONTOLOGY = default_ontology()
CONVERTER = Converter(ONTOLOGY)
NGSI = "https://uri.etsi.org/ngsi-ld/"


def reference_graph(entity: dict[str, Any]) -> rdflib.Graph:
    """pyld's to_rdf of the entity expanded with the flat context of its type."""
    data = {k: v for k, v in entity.items() if k != "@context"}
    known = entity["type"] if entity["type"] in ONTOLOGY.classes else None
    data["@context"] = context_document(ONTOLOGY, entity_type=known)["@context"]
    text = jsonld.to_rdf(data, {"documentLoader": document_loader(), "format": "application/n-quads"})
    return rdflib.Graph().parse(data=text, format="nt")


def converted_graph(entity: dict[str, Any], converter: Converter = CONVERTER) -> rdflib.Graph:
    return rdflib.Graph().parse(data=converter.ntriples(entity), format="nt")


def assert_same_graph(entity: dict[str, Any]) -> None:
    expected, got = reference_graph(entity), converted_graph(entity)
    assert len(got) == len(expected)
    assert isomorphic(got, expected), f"{got.serialize(format='nt')}\n---\n{expected.serialize(format='nt')}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.parent.name)
def test_smart_data_model_examples_give_the_json_ld_graph(path: Path) -> None:
    entity = json.loads(path.read_text(encoding="utf-8"))
    assert_same_graph(entity)


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 10


def test_attribute_shapes() -> None:
    entity = {
        "id": "urn:ngsi-ld:WeatherObserved:1",
        "type": "WeatherObserved",
        "temperature": {
            "type": "Property",
            "value": 20.5,
            "observedAt": "2024-05-01T10:00:00Z",
            "unitCode": "CEL",
            "datasetId": "urn:ngsi-ld:Dataset:raw",
        },
        "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:7"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.8, 43.46]}},
        "name": {"type": "LanguageProperty", "languageMap": {"es": "Faro", "en": "Lighthouse"}},
        "dateObserved": {
            "type": "Property",
            "value": {"@type": "DateTime", "@value": "2024-05-01T10:00:00Z"},
        },
    }
    graph = converted_graph(entity)
    subject = rdflib.URIRef(entity["id"])
    temperature = graph.value(
        subject, rdflib.URIRef("https://smartdatamodels.org/dataModel.Weather/temperature")
    )
    assert graph.value(temperature, rdflib.URIRef(NGSI + "hasValue")) == rdflib.Literal(
        "2.05E1", datatype=rdflib.XSD.double
    )
    assert (temperature, rdflib.URIRef(NGSI + "datasetId"), rdflib.URIRef("urn:ngsi-ld:Dataset:raw")) in graph
    observed = graph.value(temperature, rdflib.URIRef(NGSI + "observedAt"))
    assert observed.datatype == rdflib.URIRef(NGSI + "DateTime")
    assert (None, rdflib.URIRef(NGSI + "hasObject"), rdflib.URIRef("urn:ngsi-ld:Device:7")) in graph
    assert_same_graph(entity)


def test_unknown_attributes_and_types_use_the_default_vocabulary() -> None:
    entity = {"id": "urn:x:1", "type": "Lamppost", "colour": {"type": "Property", "value": "green"}}
    graph = converted_graph(entity)
    assert (
        rdflib.URIRef("urn:x:1"),
        rdflib.RDF.type,
        rdflib.URIRef(NGSI + "default-context/Lamppost"),
    ) in graph
    assert (rdflib.URIRef("urn:x:1"), rdflib.URIRef(NGSI + "default-context/colour"), None) in graph
    assert_same_graph(entity)


def test_inferred_types_add_the_ancestor_classes() -> None:
    entity = {"id": "urn:ngsi-ld:WeatherObserved:1", "type": "WeatherObserved"}
    graph = converted_graph(entity, Converter(ONTOLOGY, infer_types=True))
    assert (None, rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/sosa/Observation")) in graph


def test_out_of_shape_json_ld_falls_back_to_the_reference() -> None:
    converter = Converter(ONTOLOGY)
    entity = {"id": "urn:x:1", "type": "Device", "dataset": {"a": {"value": 1}}}  # an @index map
    assert isomorphic(converted_graph(entity, converter), reference_graph(entity))
    assert converter.fallbacks == 1


def test_an_invalid_identifier_is_an_entity_error() -> None:
    with pytest.raises(EntityError, match="urn:x:1"):
        CONVERTER.ntriples(
            {"id": "urn:x:1", "type": "Device", "r": {"type": "Relationship", "object": "urn:a<b"}}
        )


def test_quads_are_pyoxigraph_terms_in_the_graph() -> None:
    import pyoxigraph

    graph = pyoxigraph.NamedNode("urn:g")
    quads = entity_to_quads({"id": "urn:x:1", "type": "Device"}, graph=graph)
    assert [q.graph_name for q in quads] == [graph]


def test_direct_view() -> None:
    entity = json.loads(
        (SDM / "dataModel.Weather/WeatherObserved/examples/example-normalized.jsonld").read_text()
    )
    graph = converted_graph(entity, Converter(ONTOLOGY, view="direct"))
    subject = rdflib.URIRef(entity["id"])
    weather = "https://smartdatamodels.org/dataModel.Weather/"
    assert graph.value(subject, rdflib.URIRef(weather + "temperature")) == rdflib.Literal(
        "3.3E0", datatype=rdflib.XSD.double
    )
    assert graph.value(subject, rdflib.URIRef(weather + "refDevice")) == rdflib.URIRef(
        "urn:ngsi-ld:Device:device-0A3478"
    )
    location = graph.value(subject, rdflib.URIRef(NGSI + "location"))
    assert str(location) == "POINT(-4.754444444 41.640833333)"
    assert all(not isinstance(o, rdflib.BNode) for o in graph.objects())


def test_wkt() -> None:
    assert to_wkt({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}) == (
        "POLYGON((0 0, 1 0, 1 1, 0 0))"
    )
    assert to_wkt({"type": "Point", "coordinates": "x"}) is None


# -- random entities ----------------------------------------------------------------------------

ENTITY_TYPES = sorted(name for name in ONTOLOGY.classes if ":" not in name)
text = st.text(max_size=12)
names = st.from_regex(r"[a-z][A-Za-z0-9_]{0,10}", fullmatch=True)
iris = st.from_regex(r"urn:ngsi-ld:[A-Z][a-z]{1,6}:[A-Za-z0-9._-]{1,8}", fullmatch=True)
floats = st.floats(allow_nan=False, allow_infinity=False)
numbers = st.one_of(st.integers(-(10**25), 10**25), floats, st.sampled_from([0.0, -0.0, 1.0, 1e21, 2.5e-7]))
datetimes = st.from_regex(
    r"20[0-9]{2}-0[1-9]-[12][0-9]T[01][0-9]:[0-5][0-9]:[0-5][0-9](\.[0-9]{1,3})?Z", fullmatch=True
)
scalars = st.one_of(numbers, st.booleans(), text)
position = st.lists(st.floats(-180, 180), min_size=2, max_size=2)
geometries = st.one_of(
    st.builds(lambda p: {"type": "Point", "coordinates": p}, position),
    st.builds(
        lambda ps: {"type": "LineString", "coordinates": ps}, st.lists(position, min_size=2, max_size=4)
    ),
    st.builds(
        lambda ring: {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
        st.lists(position, min_size=3, max_size=4),
    ),
)
# Structured values: keys from the default vocabulary, city terms and core terms alike.
keys = st.one_of(names, st.sampled_from(["value", "coordinates", "temperature", "name", "unitCode"]))
structured = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(keys, inner, max_size=3),
        st.builds(lambda t, d: {"type": t, **d}, names, st.dictionaries(keys, inner, max_size=2)),
    ),
    max_leaves=8,
)
languages = st.sampled_from(["en", "es", "fr", "en-GB", "zh-Hant"])


def _property(value: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"type": st.just("Property"), "value": value},
        optional={
            "observedAt": datetimes,
            "unitCode": st.sampled_from(["CEL", "P1", "KMH"]),
            "datasetId": iris,
            "source": st.fixed_dictionaries({"type": st.just("Property"), "value": text}),
            "providedBy": st.fixed_dictionaries({"type": st.just("Relationship"), "object": iris}),
        },
    )


def _attribute(kind: str, rng: str) -> st.SearchStrategy[Any]:
    if kind == "Relationship":
        return st.fixed_dictionaries(
            {
                "type": st.just("Relationship"),
                "object": st.one_of(iris, st.lists(iris, min_size=1, max_size=3)),
            },
            optional={"observedAt": datetimes, "datasetId": iris},
        )
    if kind == "GeoProperty":
        return st.fixed_dictionaries({"type": st.just("GeoProperty"), "value": geometries})
    if kind == "LanguageProperty":
        return st.fixed_dictionaries(
            {"type": st.just("LanguageProperty"), "languageMap": st.dictionaries(languages, text, min_size=1)}
        )
    values = {
        "double": numbers,
        "integer": st.integers(-1000, 1000),
        "boolean": st.booleans(),
        "dateTime": st.one_of(datetimes, st.builds(lambda v: {"@type": "DateTime", "@value": v}, datetimes)),
        "json": structured,
    }.get(rng, st.one_of(text, st.lists(text, max_size=3)))
    return st.one_of(_property(values), st.lists(_property(values), min_size=1, max_size=2))


@st.composite
def entities(draw: st.DrawFn) -> dict[str, Any]:
    entity_type = draw(st.sampled_from(ENTITY_TYPES))
    attributes = ONTOLOGY.attributes(entity_type)
    chosen = (
        draw(st.lists(st.sampled_from(sorted(attributes)), max_size=6, unique=True)) if attributes else []
    )
    entity: dict[str, Any] = {"id": draw(iris), "type": entity_type}
    for name in chosen:
        prop = attributes[name]
        entity[name] = draw(_attribute(prop.kind, prop.range))
    extra = draw(
        st.dictionaries(names.filter(lambda n: n not in entity), _attribute("Property", "json"), max_size=2)
    )
    entity.update(extra)
    other = draw(
        st.sampled_from(
            [
                {},
                {"settings": {"type": "JsonProperty", "json": {"b": [1, 2], "a": "x"}}},
                {"category": {"type": "VocabProperty", "vocab": "Lighthouse"}},
                {"readings": {"type": "ListProperty", "valueList": [1, 2.5, "x"]}},
            ]
        )
    )
    entity.update({k: v for k, v in other.items() if k not in entity})
    return entity


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entities())
def test_random_entities_give_the_json_ld_graph(entity: dict[str, Any]) -> None:
    converter = Converter(ONTOLOGY)
    converter._tables = CONVERTER._tables  # share the term tables: they are built once per type
    try:
        expected = reference_graph(entity)
    except jsonld.JsonLdError:  # not JSON-LD at all: the converter refuses it too
        with pytest.raises(EntityError):
            converter.ntriples(entity)
        return
    got = rdflib.Graph().parse(data=converter.ntriples(entity), format="nt")
    assert converter.fallbacks == 0
    assert len(got) == len(expected)
    assert isomorphic(got, expected)
