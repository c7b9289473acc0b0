"""The broker double answers as Orion-LD does: the cases where a replay of Orion-LD's own
functional tests found it answering otherwise (Orion-LD's answer is the expected one)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from broker_double import ERRORS, BrokerDouble

API = "http://orion/ngsi-ld/v1"
JSON = {"Content-Type": "application/json"}
LD = {"Content-Type": "application/ld+json"}
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"


def spot(number: int = 1, **attributes: Any) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:ParkingSpot:{number}", "type": "ParkingSpot", **attributes}


def send(
    double: BrokerDouble, method: str, path: str, body: Any, headers: dict[str, str] = JSON
) -> httpx.Response:
    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=double.transport()) as client:
            return await client.request(method, API + path, json=body, headers=headers)

    return asyncio.run(main())


@pytest.mark.parametrize(
    "attribute",
    [
        {"refDevice": {"type": "Relationship", "object": "not a uri"}},
        {"refDevice": {"type": "Relationship", "object": ["urn:ngsi-ld:Device:1", 7]}},
        {"location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.8]}}},
        {"location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.8, 95.0]}}},
        {"status": {"type": "Property", "value": "free", "observedAt": "yesterday"}},
        {"status": {"type": "Property", "value": "free", "observedAt": "2024-13-45T10:00:00Z"}},
        {"status": None},
    ],
)
def test_what_orion_ld_refuses_is_refused(attribute: dict[str, Any]) -> None:
    response = send(BrokerDouble(), "POST", "/entities", spot(**attribute))
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ERRORS + "BadRequestData"


@pytest.mark.parametrize(
    "attribute",
    [
        {"temperature": {"value": 1}},
        {"temperature": 12.5},
        {"refDevice": {"object": "urn:ngsi-ld:Device:1"}},
        {"location": {"type": "Point", "coordinates": [-3.8, 43.46]}},
        {"name": {"languageMap": {"es": "Plaza"}}},
        {"category": {"type": "VocabularyProperty", "vocab": "onStreet"}},
        {"category": {"vocab": ["onStreet", "forDisabled"]}},
        {"status": {"type": "Property", "value": "free", "observedAt": "2024-05-01T10:00:00.000Z"}},
    ],
)
def test_concise_attributes_and_vocabulary_properties_are_taken(attribute: dict[str, Any]) -> None:
    double = BrokerDouble()
    assert send(double, "POST", "/entities", spot(**attribute)).status_code == 201
    assert send(double, "POST", "/entityOperations/upsert", [spot(2, **attribute)]).status_code == 201


def test_an_upsert_cannot_change_an_entitys_type() -> None:
    double = BrokerDouble()
    assert send(double, "POST", "/entityOperations/upsert", [spot(1), spot(2)]).status_code == 201
    other = {"id": "urn:ngsi-ld:ParkingSpot:1", "type": "Device"}
    response = send(double, "POST", "/entityOperations/upsert", [other, spot(2)])
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["success"] == ["urn:ngsi-ld:ParkingSpot:2"]
    assert [error["entityId"] for error in body["errors"]] == ["urn:ngsi-ld:ParkingSpot:1"]
    assert double.entities()["urn:ngsi-ld:ParkingSpot:1"]["type"] == "ParkingSpot"
    # options=replace lets it through (batchEntitiesFinalCheck.cpp)
    response = send(double, "POST", "/entityOperations/upsert?options=replace", [other])
    assert response.status_code == 204


def test_an_upsert_replaces_an_existing_entity_by_default() -> None:
    double = BrokerDouble()
    send(double, "POST", "/entityOperations/upsert", [spot(1, a={"type": "Property", "value": 1})])
    send(double, "POST", "/entityOperations/upsert", [spot(1, b={"type": "Property", "value": 2})])
    assert "a" not in double.entities()["urn:ngsi-ld:ParkingSpot:1"]
    send(
        double,
        "POST",
        "/entityOperations/upsert?options=update",
        [spot(1, c={"type": "Property", "value": 3})],
    )
    assert {"b", "c"} <= set(double.entities()["urn:ngsi-ld:ParkingSpot:1"])


def test_a_batch_item_that_breaks_the_context_rules_fails_alone() -> None:
    double = BrokerDouble()
    items = [{**spot(1), "@context": CORE}, spot(2)]  # JSON-LD: the second has no @context
    response = send(double, "POST", "/entityOperations/upsert", items, LD)
    assert response.status_code == 207, response.text
    assert [error["entityId"] for error in response.json()["errors"]] == ["urn:ngsi-ld:ParkingSpot:2"]
    assert list(double.entities()) == ["urn:ngsi-ld:ParkingSpot:1"]


def test_batch_create_is_served() -> None:
    double = BrokerDouble()
    response = send(double, "POST", "/entityOperations/create", [spot(1), spot(2)])
    assert response.status_code == 201 and response.json() == [
        "urn:ngsi-ld:ParkingSpot:1",
        "urn:ngsi-ld:ParkingSpot:2",
    ]
    response = send(double, "POST", "/entityOperations/create", [spot(2), spot(3)])
    assert response.status_code == 207
    body = response.json()
    assert body["success"] == ["urn:ngsi-ld:ParkingSpot:3"]
    assert body["errors"][0]["entityId"] == "urn:ngsi-ld:ParkingSpot:2"
    assert body["errors"][0]["error"]["type"] == ERRORS + "BadRequestData"


def test_an_unsupported_media_type_is_bad_request_data_415() -> None:
    response = send(BrokerDouble(), "POST", "/entities", spot(1), {"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["type"] == ERRORS + "BadRequestData"


def test_a_tenant_needs_a_multi_tenant_broker() -> None:
    tenant = {**JSON, "NGSILD-Tenant": "santander"}
    response = send(BrokerDouble(), "POST", "/entityOperations/upsert", [spot(1)], tenant)
    assert response.status_code == 400  # Orion-LD without -multiservice
    assert (
        send(
            BrokerDouble(multiservice=True), "POST", "/entityOperations/upsert", [spot(1)], tenant
        ).status_code
        == 201
    )
