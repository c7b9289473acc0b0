"""keyValues and concise entities back to normalized; content negotiation. Pure functions."""

from __future__ import annotations

import pytest

from contextbridge import default_ontology, validate_entity
from contextbridge.service.keyvalues import normalized
from contextbridge.service.negotiation import choose

ONTOLOGY = default_ontology()
POINT = {"type": "Point", "coordinates": [-3.8, 43.46]}


def test_each_keyvalues_attribute_gets_its_ngsi_ld_type() -> None:
    entity = {
        "id": "urn:ngsi-ld:ParkingSpot:santander:1",
        "type": "ParkingSpot",
        "status": "free",
        "refParkingSite": "urn:ngsi-ld:ParkingSite:santander:9",
        "name": "urn:ngsi-ld:looks-like-a-relationship",
        "location": POINT,
        "category": ["onStreet", "forDisabled"],
        "address": {"streetAddress": "Calle Alta 4", "addressLocality": "Santander"},
        "missing": None,
        "modifiedAt": "2024-05-01T10:00:00Z",
    }
    found = normalized(entity, ONTOLOGY)
    assert found == {
        "id": "urn:ngsi-ld:ParkingSpot:santander:1",
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "free"},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:ParkingSite:santander:9"},
        "name": {"type": "Property", "value": "urn:ngsi-ld:looks-like-a-relationship"},
        "location": {"type": "GeoProperty", "value": POINT},
        "category": {"type": "Property", "value": ["onStreet", "forDisabled"]},
        "address": {"type": "Property", "value": entity["address"]},
    }
    assert validate_entity(found) == []


def test_a_relationship_of_the_ontology_that_is_not_a_uri_stays_a_property() -> None:
    found = normalized({"id": "urn:x:1", "type": "ParkingSpot", "refParkingSite": "site 9"}, ONTOLOGY)
    assert found["refParkingSite"] == {"type": "Property", "value": "site 9"}


def test_normalized_attributes_are_kept_as_they_are() -> None:
    entity = {
        "id": "urn:x:1",
        "type": "WeatherObserved",
        "temperature": [
            {"type": "Property", "value": 1.0, "datasetId": "urn:ngsi-ld:Dataset:a"},
            {"type": "Property", "value": 2.0, "datasetId": "urn:ngsi-ld:Dataset:b"},
        ],
        "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:1"},
    }
    assert normalized(entity, ONTOLOGY) == entity


@pytest.mark.parametrize(
    ("concise", "expected"),
    [
        ({"value": 3, "unitCode": "CEL"}, {"type": "Property", "value": 3, "unitCode": "CEL"}),
        ({"object": "urn:x:2"}, {"type": "Relationship", "object": "urn:x:2"}),
        ({"value": POINT}, {"type": "GeoProperty", "value": POINT}),
        ({"languageMap": {"es": "Hola"}}, {"type": "LanguageProperty", "languageMap": {"es": "Hola"}}),
        (
            {"value": 3, "accuracy": 0.1, "source": {"object": "urn:x:3"}},
            {
                "type": "Property",
                "value": 3,
                "accuracy": {"type": "Property", "value": 0.1},
                "source": {"type": "Relationship", "object": "urn:x:3"},
            },
        ),
    ],
)
def test_concise_attributes(concise: dict[str, object], expected: dict[str, object]) -> None:
    assert normalized({"id": "urn:x:1", "type": "T", "a": concise}, ONTOLOGY)["a"] == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "a/json"),
        ("", "a/json"),
        ("*/*", "a/json"),
        ("text/*", "text/csv"),
        ("text/csv;q=0.4, a/xml;q=0.5", "a/xml"),
        ("text/csv, */*;q=0.1", "text/csv"),
        ("a/*;q=0, text/csv;q=0.2", "text/csv"),
        ("text/csv;q=0, */*", "a/json"),
        ("image/png", None),
        ("a/json;q=0", None),
    ],
)
def test_negotiation(accept: str | None, expected: str | None) -> None:
    assert choose(["a/json", "a/xml", "text/csv"], accept) == expected
