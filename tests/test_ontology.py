"""The city ontology: coverage of the example types, per-class IRIs, units, consistency."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from contextbridge import Ontology, OntologyError, default_ontology
from contextbridge.entities.ontology import BUNDLED

ROOT = Path(__file__).resolve().parent.parent
SDM = "https://smartdatamodels.org/"
EXAMPLE_TYPES = [
    "AirQualityObserved",
    "Device",
    "NoiseLevelObserved",
    "OffStreetParking",
    "OnStreetParking",
    "ParkingSpot",
    "Streetlight",
    "TrafficFlowObserved",
    "Vehicle",
    "WasteContainer",
    "WaterQualityObserved",
    "WeatherObserved",
]
PREFIXES = """\
@prefix city: <https://contextbridge.dev/ontology/city#> .
@prefix ex: <https://example.org/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "small.ttl"
    path.write_text(PREFIXES + body)
    return path


def test_the_bundled_ontology_loads_and_is_consistent() -> None:
    onto = default_ontology()
    assert onto.consistency_problems() == []
    assert default_ontology() is onto


def test_the_top_level_ontologies_folder_is_the_bundled_one() -> None:
    assert (ROOT / "ontologies" / "city.ttl").resolve() == (BUNDLED / "city.ttl").resolve()


@pytest.mark.parametrize("name", EXAMPLE_TYPES)
def test_every_example_type_is_a_class_with_its_smart_data_models_iri(name: str) -> None:
    cls = default_ontology().cls(name)
    assert cls is not None
    assert cls.iri.startswith(SDM) and cls.iri.endswith("/" + name)
    assert cls.label and cls.comment


def test_observations_and_devices_sit_under_sosa_and_saref() -> None:
    onto = default_ontology()
    assert onto.is_subclass("WeatherObserved", "sosa:Observation")
    assert onto.is_subclass("AirQualityObserved", "sosa:Observation")
    assert onto.is_subclass("Device", "saref:Device")
    assert onto.is_subclass("OffStreetParking", "ParkingSite")
    assert onto.is_subclass("ParkingSpot", "ParkingSpot")
    assert not onto.is_subclass("Device", "sosa:Observation")


def test_one_short_name_has_the_iri_of_its_class_subject() -> None:
    onto = default_ontology()
    weather = onto.attribute("WeatherObserved", "temperature")
    air = onto.attribute("AirQualityObserved", "temperature")
    assert weather is not None and air is not None
    assert weather.iri == SDM + "dataModel.Weather/temperature"
    assert air.iri == SDM + "dataModel.Environment/temperature"
    assert onto.attribute("WeatherObserved", air.iri) is None  # the Environment IRI is not allowed there
    assert onto.attribute("AirQualityObserved", air.iri) == air


def test_core_terms_are_declared_with_the_iri_the_core_context_gives_them() -> None:
    onto = default_ontology()
    status, location = onto.attribute("ParkingSpot", "status"), onto.attribute("ParkingSpot", "location")
    assert status is not None and status.iri == "https://uri.etsi.org/ngsi-ld/status"
    assert location is not None and location.iri == "https://uri.etsi.org/ngsi-ld/location"
    assert location.kind == "GeoProperty" and location.range == "json"
    description = onto.attribute("WeatherObserved", "description")
    assert description is not None and description.iri == "http://purl.org/dc/terms/description"


def test_attributes_know_kind_range_unit_and_domains() -> None:
    onto = default_ontology()
    temperature = onto.attribute("WeatherObserved", "temperature")
    assert temperature is not None
    assert (temperature.kind, temperature.range, temperature.unit) == ("Property", "double", "CEL")
    assert temperature.domains == ("WeatherObserved",)
    ref_device = onto.attribute("WeatherObserved", "refDevice")
    assert ref_device is not None and (ref_device.kind, ref_device.range) == ("Relationship", "Device")
    date = onto.attribute("WeatherObserved", "dateObserved")
    assert date is not None and date.range == "dateTime"
    no2 = onto.attribute("AirQualityObserved", "no2")
    assert no2 is not None and no2.unit == "GQ"


@pytest.mark.parametrize(
    ("type_name", "attribute"),
    [
        ("WeatherObserved", "relativeHumidity"),
        ("OffStreetParking", "occupancy"),
        ("Device", "batteryLevel"),
        ("WasteContainer", "fillingLevel"),
    ],
)
def test_smart_data_models_fractions_are_in_unit_one(type_name: str, attribute: str) -> None:
    prop = default_ontology().attribute(type_name, attribute)
    assert prop is not None and prop.unit == "C62"


def test_a_bus_position_is_a_vehicle_with_location_speed_and_line() -> None:
    onto = default_ontology()
    for name in ("location", "speed", "heading", "line", "serviceStatus", "fleetVehicleId"):
        assert onto.attribute("Vehicle", name) is not None, name
    assert onto.is_subclass("Vehicle", "sosa:Platform")


def test_unknown_types_and_attributes_answer_none() -> None:
    onto = default_ontology()
    assert onto.cls("Spaceship") is None
    assert onto.attribute("Spaceship", "temperature") is None
    assert onto.attribute("ParkingSpot", "temperature") is None


def test_a_property_without_range_or_domain_is_a_problem(tmp_path: Path) -> None:
    onto = Ontology.load(
        write(
            tmp_path,
            """
ex:Thing a owl:Class ; rdfs:label "thing" ; rdfs:comment "A thing." ; city:ngsiName "Thing" .
ex:size a owl:DatatypeProperty ; city:ngsiName "size" ; city:ngsiType "Property" ; rdfs:domain ex:Thing .
ex:mass a owl:DatatypeProperty ; city:ngsiName "mass" ; city:ngsiType "Property" ; rdfs:range xsd:double .
ex:part a owl:DatatypeProperty ; city:ngsiName "part" ; city:ngsiType "Relationship" ;
    rdfs:domain ex:Thing ; rdfs:range ex:Thing .
""",
        )
    )
    problems = "\n".join(onto.consistency_problems())
    assert "<https://example.org/size>: no rdfs:range" in problems
    assert "<https://example.org/mass>: no rdfs:domain" in problems
    assert "<https://example.org/part>: a Relationship must be an owl:ObjectProperty" in problems


def test_a_class_disjoint_with_its_own_subclass_is_a_clash(tmp_path: Path) -> None:
    onto = Ontology.load(
        write(
            tmp_path,
            """
ex:Sensor a owl:Class ; rdfs:label "sensor" ; rdfs:comment "A sensor." ; city:ngsiName "Sensor" .
ex:Thermometer a owl:Class ; rdfs:label "thermometer" ; rdfs:comment "One." ; city:ngsiName "Thermometer" ;
    rdfs:subClassOf ex:Sensor ; owl:disjointWith ex:Sensor .
""",
        )
    )
    problems = onto.consistency_problems()
    assert any(problem.startswith("OWL-RL:") for problem in problems), problems


def test_unreadable_ontologies_raise_ontology_error(tmp_path: Path) -> None:
    with pytest.raises(OntologyError, match=r"small\.ttl"):
        Ontology.load(write(tmp_path, "this is not turtle"))
    with pytest.raises(OntologyError, match="No such file"):
        Ontology.load(tmp_path / "missing.ttl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(OntologyError, match="no ontology file"):
        Ontology.load(tmp_path / "empty")


def test_the_committed_ontology_is_what_the_generator_writes() -> None:
    pytest.importorskip("pysmartdatamodels")
    spec = importlib.util.spec_from_file_location("build_ontology", ROOT / "scripts" / "build_ontology.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run scripts/build_ontology.py"
