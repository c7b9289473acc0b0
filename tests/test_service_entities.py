"""``GET /entities/{id}`` and ``/entities/{id}/history``: one entity of the tenant's graph and the
past values its feed keeps, read from the graph store (never the broker), for the console's
entity page; and the console's tile server setting (``service.console.tiles``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pyoxigraph import NamedNode, RdfFormat
from test_service import EVERYWHERE, PORTO, SANTANDER, assert_problem, headers, make_store, notify, run

from contextbridge import GraphStore, MappingError, load_config
from contextbridge.runtime.config import TileConfig
from contextbridge.service.webconsole import content_security_policy
from contextbridge.sinks.graph import EmbeddedStore, EndpointStore, history_graph

__all__ = ["make_store"]  # the fixture: each test runs on the embedded store and a real Oxigraph server

SPOT = "urn:ngsi-ld:ParkingSpot:santander:3107"
SITE = "urn:ngsi-ld:OffStreetParking:santander:1"
SOSA = "http://www.w3.org/ns/sosa/"
XSD = "http://www.w3.org/2001/XMLSchema#"
PARKING = "https://smartdatamodels.org/dataModel.Parking/"
NOW = datetime.now(UTC).replace(microsecond=0)


def spot() -> dict[str, Any]:
    return {
        "id": SPOT,
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "free", "observedAt": "2026-11-25T10:00:00Z"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.8099, 43.4623]}},
        "refParkingSite": {"type": "Relationship", "object": SITE},
    }


def site() -> dict[str, Any]:
    return {
        "id": SITE,
        "type": "OffStreetParking",
        "availableSpotNumber": {"type": "Property", "value": 12, "observedAt": "2026-11-25T10:00:00Z"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.81, 43.46]}},
    }


def observation(
    number: int, entity: str, attribute: str, value: float, at: datetime, dataset: str = ""
) -> str:
    node = f"<urn:contextbridge:observation:{number}>"
    lines = [
        f"{node} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{SOSA}Observation> .",
        f"{node} <{SOSA}hasFeatureOfInterest> <{entity}> .",
        f"{node} <{SOSA}observedProperty> <{attribute}> .",
        f'{node} <{SOSA}hasSimpleResult> "{value}"^^<{XSD}double> .',
        f'{node} <{SOSA}resultTime> "{at.strftime("%Y-%m-%dT%H:%M:%SZ")}"^^<{XSD}dateTime> .',
    ]
    if dataset:
        lines.append(f"{node} <https://uri.etsi.org/ngsi-ld/datasetId> <{dataset}> .")
    return "\n".join(lines) + "\n"


HISTORY = "".join(  # the site's free spots every hour of the last two days, and one reading a month ago
    observation(hour, SITE, PARKING + "availableSpotNumber", 40 - hour % 24, NOW - timedelta(hours=hour))
    for hour in range(48)
) + observation(99, SITE, PARKING + "availableSpotNumber", 3, NOW - timedelta(days=30))


async def keep_history(store: GraphStore, triples: str, tenant: str) -> None:
    """Past values in the tenant's history graph, as a feed that keeps history writes them."""
    graph = history_graph(tenant)
    if isinstance(store, EmbeddedStore):
        store._store.load(triples, format=RdfFormat.N_TRIPLES, to_graph=NamedNode(graph))
    else:
        assert isinstance(store, EndpointStore)
        await store._update(f"INSERT DATA {{ GRAPH <{graph}> {{ {triples} }} }}")


def entity_path(ident: str, suffix: str = "") -> str:
    return "/entities/" + quote(ident, safe="") + suffix


def test_an_entity_with_its_attributes_relationships_place_and_history(
    make_store: Callable[[], GraphStore],
) -> None:
    stores: list[GraphStore] = []

    def store() -> GraphStore:
        stores.append(make_store())
        return stores[-1]

    async def body(client: httpx.AsyncClient) -> None:
        assert (await notify(client, spot(), site())).status_code == 204
        await keep_history(stores[0], HISTORY, "santander")
        answer = await client.get(entity_path(SPOT), headers=headers(SANTANDER, "santander"))
        assert answer.status_code == 200, answer.text
        entity = answer.json()
        assert entity["id"] == SPOT and entity["type"] == PARKING + "ParkingSpot"
        by_name = {attribute["name"]: attribute for attribute in entity["attributes"]}
        assert by_name["status"] == {
            "name": "status",
            "iri": "https://uri.etsi.org/ngsi-ld/status",
            "kind": "Property",
            "value": "free",
            "observedAt": "2026-11-25T10:00:00Z",
        }
        assert by_name["refParkingSite"]["kind"] == "Relationship"
        assert by_name["refParkingSite"]["object"] == SITE
        assert by_name["location"]["kind"] == "GeoProperty"
        assert entity["location"] == {"lat": 43.4623, "lon": -3.8099}
        assert entity["history"] == []

        parent = (await client.get(entity_path(SITE), headers=headers(SANTANDER, "santander"))).json()
        assert parent["referencedBy"] == [
            {"id": SPOT, "name": "refParkingSite", "iri": PARKING + "refParkingSite"}
        ]
        assert [item["value"] for item in parent["attributes"] if item["name"] == "availableSpotNumber"] == [
            12
        ]
        [kept] = parent["history"]
        assert kept["name"] == "availableSpotNumber" and kept["count"] == 49

        day = await client.get(
            entity_path(SITE, "/history"),
            params={"attribute": "availableSpotNumber", "since": "PT23H30M"},
            headers=headers(EVERYWHERE, "santander"),
        )
        assert day.status_code == 200, day.text
        [series] = day.json()["series"]
        assert series["iri"] == PARKING + "availableSpotNumber" and series["numeric"]
        times = [point[0] for point in series["points"]]
        assert len(times) == 24 and times == sorted(times)  # the hours of the last day, oldest first
        assert series["points"][-1] == [NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), 40.0]

        month = await client.get(
            entity_path(SITE, "/history"),
            params={"attribute": PARKING + "availableSpotNumber", "since": "P31D"},
            headers=headers(SANTANDER, "santander"),
        )
        assert len(month.json()["series"][0]["points"]) == 49
        since = (NOW - timedelta(hours=2)).isoformat()
        recent = await client.get(
            entity_path(SITE, "/history"), params={"since": since}, headers=headers(SANTANDER, "santander")
        )
        assert len(recent.json()["series"][0]["points"]) == 3

        other = await client.get(entity_path(SITE, "/history"), headers=headers(PORTO, "porto"))
        assert other.status_code == 200 and other.json()["series"] == []  # porto keeps none of it
        assert_problem(await client.get(entity_path(SITE), headers=headers(PORTO, "porto")), 404, "not-found")
        assert_problem(
            await client.get(entity_path(SITE), headers=headers(PORTO, "santander")), 403, "forbidden"
        )
        assert_problem(await client.get(entity_path(SITE)), 401, "unauthorized")

    run(body, store)


def test_bad_requests_are_problems() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        sent = headers(SANTANDER, "santander")
        assert_problem(await client.get(entity_path("not an iri"), headers=sent), 400, "bad-request")
        assert_problem(await client.get(entity_path('urn:x:"}'), headers=sent), 400, "bad-request")
        assert_problem(await client.get(entity_path(SPOT), headers=sent), 404, "not-found")
        for params in ({"since": "yesterday"}, {"since": "P"}, {"attribute": "a b"}, {"attribute": "x>y"}):
            answer = await client.get(entity_path(SPOT, "/history"), params=params, headers=sent)
            assert_problem(answer, 400, "bad-request")

    run(body)


def test_the_console_settings_name_the_tile_server_and_the_policy_allows_it() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        answer = await client.get("/console/settings")  # public: no secret in it
        tiles = answer.json()["tiles"]
        assert (
            tiles["url"] == "http://127.0.0.1:9/{z}/{x}/{y}.png" and tiles["origin"] == "http://127.0.0.1:9"
        )
        assert "img-src 'self' data: http://127.0.0.1:9;" in answer.headers["content-security-policy"]
        page = await client.get("/")
        assert "img-src 'self' data: http://127.0.0.1:9;" in page.headers["content-security-policy"]

    run(body, tiles=TileConfig(url="http://127.0.0.1:9/{z}/{x}/{y}.png", attribution="test tiles"))

    async def none(client: httpx.AsyncClient) -> None:
        assert (await client.get("/console/settings")).json() == {"tiles": None}
        assert "img-src 'self' data:;" in (await client.get("/")).headers["content-security-policy"]

    run(none, tiles=None)


def test_the_tiles_setting(tmp_path: Path) -> None:
    def tiles(value: str | None) -> TileConfig | None:
        path = tmp_path / "contextbridge.yaml"
        console = "{}" if value is None else f"\n    tiles: {value}"
        path.write_text(f"service:\n  console: {console}\n")
        return load_config(path).service.tiles

    assert tiles(None) == TileConfig()  # OpenStreetMap's standard tiles, credited
    assert TileConfig().origin == "https://tile.openstreetmap.org"
    assert tiles("false") is None
    assert tiles(f'"{TileConfig().url}"') == TileConfig()  # named: still credited
    found = tiles('"https://{s}.tiles.example.org/city/{z}/{x}/{y}.png"')
    assert found is not None and found.origin == "https://*.tiles.example.org" and found.attribution == ""
    found = tiles("{url: 'http://127.0.0.1:8081/{z}/{x}/{y}.png', attribution: Ayuntamiento, max_zoom: 20}")
    assert found == TileConfig("http://127.0.0.1:8081/{z}/{x}/{y}.png", "Ayuntamiento", None, 20)
    with pytest.raises(MappingError, match=r"contextbridge\.yaml:3.*not an http\(s\) URL template"):
        tiles('"https://tiles.example.org/{z}/{x}.png"')
    with pytest.raises(MappingError, match=r"contextbridge\.yaml:3"):
        tiles('"ftp://tiles.example.org/{z}/{x}/{y}.png"')
    policy = content_security_policy(TileConfig())
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in policy and "connect-src 'self'" in policy
