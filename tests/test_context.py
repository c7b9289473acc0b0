"""The generated @context: deterministic, core context last, and expanding to the ontology's IRIs.

The SDM examples used are the NGSI-LD normalized ones (``example-normalized.jsonld``); the
``example-normalized.json`` files are NGSI-v2 payloads (``"type": "Number"``), not JSON-LD.
Keys inside a Property's value (e.g. ``streetAddress`` in ``address``) are structured JSON
values (range ``json``), not attributes, and are not checked against the ontology.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contextbridge import ConfigError, Ontology, OntologyError, context_document, default_ontology
from contextbridge.entities.jsonld import (
    CORE_CONTEXT_URL,
    build_context,
    core_terms,
    document_loader,
    dumps,
    expand,
    type_context,
)

SDM_DIR = Path(__file__).resolve().parent / "data" / "sdm"
NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB = NGSI_LD + "default-context/"
ATTRIBUTE_KEYS = {
    "@id",
    "@type",
    NGSI_LD + "hasValue",
    NGSI_LD + "hasObject",
    NGSI_LD + "observedAt",
    NGSI_LD + "unitCode",
    NGSI_LD + "datasetId",
}
EXAMPLES = sorted(SDM_DIR.glob("*/*/examples/example-normalized.jsonld"))


def entity(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    data.pop("@context", None)
    return data


def test_the_context_is_deterministic() -> None:
    first = dumps(context_document(Ontology.load()))
    second = dumps(context_document(Ontology.load()))
    assert first.encode() == second.encode()
    assert list(build_context(default_ontology())) == sorted(build_context(default_ontology()))


def test_the_core_context_comes_last_and_its_terms_are_never_redefined() -> None:
    document = context_document(default_ontology())
    terms, core = document["@context"]
    assert core == CORE_CONTEXT_URL
    assert terms["@version"] == 1.1
    assert not set(terms) & set(core_terms())
    for name in default_ontology().classes:
        scoped = terms.get(name, {})
        assert not (isinstance(scoped, dict) and set(scoped.get("@context", {})) & set(core_terms()))


def test_type_scoped_terms_give_each_type_its_subject_iri() -> None:
    document = context_document(default_ontology())
    for type_name, subject in (("WeatherObserved", "Weather"), ("AirQualityObserved", "Environment")):
        body = {
            "id": f"urn:ngsi-ld:{type_name}:1",
            "type": type_name,
            "temperature": {"type": "Property", "value": 20.5, "unitCode": "CEL"},
        }
        expanded = expand(body, document)[0]
        assert f"https://smartdatamodels.org/dataModel.{subject}/temperature" in expanded


def test_the_flat_context_of_a_type_has_no_scoped_contexts() -> None:
    flat = type_context(default_ontology(), "WeatherObserved")
    assert all(isinstance(value, str) for value in flat.values())
    assert flat["temperature"] == "https://smartdatamodels.org/dataModel.Weather/temperature"
    with pytest.raises(OntologyError, match="Spaceship"):
        type_context(default_ontology(), "Spaceship")


def _check_expanded(expanded: dict[str, Any], type_name: str) -> list[str]:
    onto = default_ontology()
    cls = onto.cls(type_name)
    assert cls is not None and expanded["@type"] == [cls.iri]
    wrong = []
    for key, values in expanded.items():
        if key.startswith("@"):
            continue
        if onto.attribute(type_name, key) is None:
            wrong.append(key)
        for value in values:  # sub-attributes: the keys of each attribute node
            wrong += [sub for sub in value if sub not in ATTRIBUTE_KEYS and sub not in onto.properties]
    return wrong


@pytest.mark.skipif(not EXAMPLES, reason="no offline Smart Data Models examples")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.parent.name)
@pytest.mark.parametrize("flat", [False, True], ids=["type-scoped", "flat-per-type"])
def test_sdm_examples_expand_to_ontology_iris(path: Path, flat: bool) -> None:
    body = entity(path)
    document = context_document(default_ontology(), entity_type=body["type"] if flat else None)
    expanded = expand(body, document)[0]
    assert _check_expanded(expanded, body["type"]) == []


# Terms the city adds where SDM's own context has none; SDM's context leaves them to the default vocabulary.
CITY_ONLY = {"typeOfLocation", "parkingPermit"}


@pytest.mark.skipif(not EXAMPLES, reason="no offline Smart Data Models examples")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.parent.name)
def test_sdm_examples_expand_as_with_smart_data_models_own_context(path: Path) -> None:
    body = entity(path)
    subject_url = (
        "https://raw.githubusercontent.com/smart-data-models/" + path.parts[-4] + "/master/context.jsonld"
    )
    subject = json.loads((path.parents[2] / "context.jsonld").read_text())
    theirs = expand(body, [subject_url, CORE_CONTEXT_URL], loader=document_loader({subject_url: subject}))[0]
    ours = expand(body, context_document(default_ontology()))[0]
    keys = {key for key in theirs if not key.startswith(DEFAULT_VOCAB)}
    assert keys == {key for key in ours if key.rsplit("#", 1)[-1] not in CITY_ONLY}


def test_remote_contexts_are_refused_offline() -> None:
    body = {"id": "urn:ngsi-ld:Thing:1", "type": "Thing", "@context": "https://example.org/context.jsonld"}
    with pytest.raises(ConfigError, match=r"example\.org"):
        expand(body)
    loaded = document_loader()(CORE_CONTEXT_URL, {})
    assert loaded["document"]["@context"]["@protected"] is True


def test_an_ontology_that_contradicts_the_core_context_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wrong.ttl"
    path.write_text("""\
@prefix city: <https://contextbridge.dev/ontology/city#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<https://example.org/Lamp> a owl:Class ; city:ngsiName "Lamp" .
<https://example.org/status> a owl:DatatypeProperty ; city:ngsiName "status" ;
    rdfs:domain <https://example.org/Lamp> ; rdfs:range xsd:string .
""")
    with pytest.raises(OntologyError, match="core context"):
        build_context(Ontology.load(path))


EXPECTED = sorted((Path(__file__).resolve().parent.parent / "mappings" / "expected").glob("*.ndjson"))


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.stem)
@pytest.mark.parametrize("flat", [False, True], ids=["type-scoped", "flat-per-type"])
def test_every_entity_of_every_example_expands_to_ontology_iris(path: Path, flat: bool) -> None:
    entities = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert entities
    for body in entities:
        document = context_document(default_ontology(), entity_type=body["type"] if flat else None)
        expanded = expand(body, document)[0]
        assert _check_expanded(expanded, body["type"]) == [], body["id"]
