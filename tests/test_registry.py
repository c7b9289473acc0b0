"""The device registry: its store (SQLite and PostgreSQL), its HTTP API, its commands, and mappings
reading it like a lookup table."""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from test_service import KEYS, PORTO, SANTANDER, SANTANDER_READ
from typer.testing import CliRunner

from contextbridge import Device, DeviceError, RecordError, Translator, load_mapping, open_registry
from contextbridge.cli import app as cli
from contextbridge.runtime.config import ServiceConfig
from contextbridge.service import Service, create_app
from contextbridge.service.app import lifespan
from contextbridge.sinks.graph import EmbeddedStore
from contextbridge.storage.devices import DeviceRegistry, parse_device

runner = CliRunner()


def sensor(number: int, **attributes: Any) -> Device:
    return Device(f"s{number}", "ParkingSpot", None, {"street": f"Calle {number}", **attributes})


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeviceRegistry]:
    if request.param == "sqlite":
        found = open_registry(tmp_path / "state")
        yield found
        found.close()
        return
    schema = f"cb_registry_{uuid.uuid4().hex[:10]}"
    postgres = request.getfixturevalue("postgres_url")
    found = open_registry(postgres, schema=schema)
    yield found
    found.close()
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_create_replace_page_and_remove(registry: DeviceRegistry) -> None:
    assert registry.put(sensor(1)) is True
    assert registry.put(sensor(1, latitude=43.46)) is False  # replaced
    assert registry.put_many([sensor(n) for n in range(2, 252)] + [sensor(1, latitude=43.47)]) == 250
    assert registry.get("s1") == sensor(1, latitude=43.47)
    page, count = registry.list(limit=100, offset=200)
    assert count == 251 and len(page) == 51 and page == sorted(page, key=lambda d: d.id)
    assert registry.remove("s1") is True and registry.remove("s1") is False and registry.get("s1") is None
    rows = {row["id"]: row for row in registry.rows()}
    assert rows["s2"] == {"street": "Calle 2", "id": "s2", "entity_id": None, "entity_type": "ParkingSpot"}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, None),
        ({"id": ""}, "id"),
        ({"id": "a b"}, "id"),
        ({"id": "x", "entity_id": "not a uri"}, "entity_id"),
        ({"id": "x", "attributes": {"id": 1}}, "attributes"),
        ({"id": "x", "colour": "red"}, None),
    ],
)
def test_a_bad_device_names_its_field(document: dict[str, Any], field: str | None) -> None:
    with pytest.raises(DeviceError) as raised:
        parse_device(document)
    assert raised.value.field == field


def serve(registry: DeviceRegistry, body: Callable[[httpx.AsyncClient], Any]) -> None:
    async def main() -> None:
        store = EmbeddedStore()
        service = Service(settings=ServiceConfig(api_keys=KEYS), store=store, registry=registry)
        application = create_app(service)
        async with lifespan(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                await body(client)
        await store.close()

    asyncio.run(main())


def test_the_http_api(tmp_path: Path) -> None:
    registry = open_registry(tmp_path / "state")
    writer, reader = {"X-API-Key": SANTANDER, "NGSILD-Tenant": "santander"}, {"X-API-Key": SANTANDER_READ}
    reader["NGSILD-Tenant"] = "santander"

    async def body(client: httpx.AsyncClient) -> None:
        device = {"id": "3101", "entity_type": "ParkingSpot", "attributes": {"latitude": 43.46297}}
        assert (await client.post("/devices", json=device)).status_code == 401
        assert (await client.post("/devices", json=device, headers=reader)).status_code == 403
        created = await client.post("/devices", json=device, headers=writer)
        assert created.status_code == 201 and created.headers["location"] == "/devices/3101"
        assert (await client.post("/devices", json=device, headers=writer)).status_code == 409
        bad = await client.post("/devices", json={"id": "x", "attributes": "north"}, headers=writer)
        assert bad.status_code == 400 and bad.json()["detail"].startswith("attributes:")
        assert (await client.get("/devices/x", headers=reader)).status_code == 404  # nothing stored
        replaced = await client.put("/devices/3101", json={"attributes": {"latitude": 43.5}}, headers=writer)
        assert replaced.status_code == 200 and replaced.json()["attributes"] == {"latitude": 43.5}
        assert (await client.put("/devices/3102", json={}, headers=writer)).status_code == 201
        mismatch = await client.put("/devices/3103", json={"id": "other"}, headers=writer)
        assert mismatch.status_code == 400
        for number in range(3200, 3260):
            await client.put(f"/devices/{number}", json={"attributes": {"n": number}}, headers=writer)
        page = (await client.get("/devices", params={"limit": 25, "offset": 50}, headers=reader)).json()
        assert page["count"] == 62 and len(page["devices"]) == 12 and page["devices"][0]["id"] == "3248"
        assert (await client.get("/devices", params={"limit": "lots"}, headers=reader)).status_code == 400
        assert (await client.delete("/devices/3101", headers=writer)).status_code == 204
        assert (await client.delete("/devices/3101", headers=writer)).status_code == 404

    serve(registry, body)
    registry.close()


def test_the_commands(tmp_path: Path) -> None:
    state = ["--state", str(tmp_path / "state")]
    added = runner.invoke(cli, ["devices", "add", "3101", "--type", "ParkingSpot", "--set", "latitude=43.46", "--set", "street=Calle Daoíz", *state])  # fmt: skip
    assert added.exit_code == 0, added.output
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("id,entity_type,street,zone\n3102,ParkingSpot,Calle A,Centro\n3103,,Calle B,\n")
    imported = runner.invoke(cli, ["devices", "import", str(inventory), *state])
    assert imported.exit_code == 0 and "imported 2 devices (2 new, 0 replaced)" in imported.output
    shown = runner.invoke(cli, ["devices", "show", "3101", *state])
    assert '"latitude": 43.46' in shown.stdout and '"street": "Calle Daoíz"' in shown.stdout
    listed = runner.invoke(cli, ["devices", "list", *state])
    assert [line[:14] for line in listed.stdout.splitlines()] == [
        '{"id":"3101","',
        '{"id":"3102","',
        '{"id":"3103","',
    ]
    broken = tmp_path / "broken.csv"
    broken.write_text("id,street\n3104,Calle C\n,Calle D\n")
    refused = runner.invoke(cli, ["devices", "import", str(broken), *state])
    assert refused.exit_code != 0 and "line 3" in str(refused.exception)
    assert runner.invoke(cli, ["devices", "show", "3104", *state]).exit_code == 1  # none of that file
    assert runner.invoke(cli, ["devices", "remove", "3101", *state]).exit_code == 0
    assert runner.invoke(cli, ["devices", "remove", "3101", *state]).exit_code == 1


def test_a_mapping_reads_the_registry_like_a_lookup(tmp_path: Path) -> None:
    registry = open_registry(tmp_path / "state")
    registry.put(
        Device("3101", "ParkingSpot", None, {"latitude": 43.46297, "longitude": -3.80356, "offset": 1})
    )
    registry.close()
    mapping = tmp_path / "thin.yaml"
    mapping.write_text(
        textwrap.dedent("""\
        id: thin-sensors
        source: {format: ndjson}
        lookups:
          devices: {registry: state, key: id, interval: 60}
        entities:
          - id: "urn:ngsi-ld:ParkingSpot:santander:{sensor}"
            type: ParkingSpot
            lookup: {devices: "{sensor}"}
            attributes:
              location: {geo: point, lon: devices.longitude, lat: devices.latitude}
              status: {from: state}
        """)
    )
    translator = Translator(load_mapping(mapping))
    records = [{"sensor": "3101", "state": "free"}, {"sensor": "9999", "state": "free"}]
    spot, refused = list(translator.translate(records, source="thin.ndjson"))
    assert spot["location"]["value"] == {"type": "Point", "coordinates": [-3.80356, 43.46297]}
    assert isinstance(refused, RecordError) and "9999" in str(refused)  # unknown: dead-lettered with why


def test_unknown_devices_can_register_themselves(tmp_path: Path) -> None:
    open_registry(tmp_path / "state").close()
    mapping = tmp_path / "thin.yaml"
    mapping.write_text(
        textwrap.dedent("""\
        id: thin-sensors
        source: {format: ndjson}
        lookups:
          devices: {registry: state, key: id}
        entities:
          - id: "urn:ngsi-ld:ParkingSpot:santander:{sensor}"
            type: ParkingSpot
            lookup: {devices: {key: "{sensor}", on_miss: register}}
            attributes:
              status: {from: state}
              name: {from: devices.name}
        """)
    )
    loaded = load_mapping(mapping)
    translator = Translator(loaded)
    [spot] = translator.translate([{"sensor": "7001", "state": "free"}], source="thin.ndjson")
    assert isinstance(spot, dict) and "name" not in spot  # passed through, not enriched yet
    loaded.lookups.reload("devices")  # the refresh registers it
    registry = open_registry(tmp_path / "state")
    assert registry.get("7001") == Device("7001")
    registry.put(Device("7001", attributes={"name": "Plaza Porticada 1"}))  # the installer fills it in
    registry.close()
    loaded.lookups.reload("devices")
    [spot] = translator.translate([{"sensor": "7001", "state": "occupied"}], source="thin.ndjson")
    assert spot["name"]["value"] == "Plaza Porticada 1"  # type: ignore[index]


# --- tenants ---------------------------------------------------------------------------------------


def test_each_tenant_has_its_own_devices(registry: DeviceRegistry) -> None:
    assert registry.put(sensor(1, latitude=43.46), tenant="santander") is True
    assert registry.put(sensor(1, latitude=41.15), tenant="porto") is True  # the same id, another device
    assert registry.get("s1", tenant="santander") == sensor(1, latitude=43.46)
    assert registry.get("s1", tenant="porto") == sensor(1, latitude=41.15)
    assert registry.get("s1") is None  # the default tenant has none
    assert registry.list(tenant="porto")[1] == 1
    assert registry.remove("s1", tenant="porto") is True
    assert registry.get("s1", tenant="santander") is not None
    assert [row["latitude"] for row in registry.rows(tenant="santander")] == [43.46]


def test_a_key_reads_and_changes_only_its_tenants_devices(tmp_path: Path) -> None:
    registry = open_registry(tmp_path / "state")
    registry.put(Device("3101", "ParkingSpot", None, {"latitude": 43.46297}), tenant="santander")
    porto = {"X-API-Key": PORTO, "NGSILD-Tenant": "porto"}
    reader = {"X-API-Key": SANTANDER_READ, "NGSILD-Tenant": "santander"}

    async def body(client: httpx.AsyncClient) -> None:
        # porto's write key, on its own tenant, finds no such device and cannot remove it
        assert (await client.delete("/devices/3101", headers=porto)).status_code == 404
        assert (await client.get("/devices", headers=porto)).json()["count"] == 0
        for sent, status in (
            ({"X-API-Key": PORTO, "NGSILD-Tenant": "santander"}, 403),  # not its tenant
            ({"X-API-Key": PORTO}, 201),  # the default tenant, one of its own: a device of its own
        ):
            response = await client.put("/devices/3101", json={"attributes": {"latitude": 0}}, headers=sent)
            assert response.status_code == status, response.text
        # santander's devices are as they were, and its reader lists them alone
        listed = (await client.get("/devices", headers=reader)).json()
        assert [device["id"] for device in listed["devices"]] == ["3101"]
        assert listed["devices"][0]["attributes"] == {"latitude": 43.46297}

    serve(registry, body)
    assert registry.get("3101", tenant="santander") == Device(
        "3101", "ParkingSpot", None, {"latitude": 43.46297}
    )
    registry.close()


def test_a_feeds_mapping_reads_the_devices_of_its_tenant(tmp_path: Path) -> None:
    registry = open_registry(tmp_path / "state")
    registry.put(Device("3101", None, None, {"name": "Santander's"}), tenant="santander")
    registry.put(Device("3101", None, None, {"name": "Porto's"}), tenant="porto")
    registry.close()
    mapping = tmp_path / "thin.yaml"
    mapping.write_text(
        textwrap.dedent("""\
        id: thin-sensors
        source: {format: ndjson}
        lookups:
          devices: {registry: state, key: id}
        entities:
          - id: "urn:ngsi-ld:ParkingSpot:x:{sensor}"
            type: ParkingSpot
            lookup: {devices: "{sensor}"}
            attributes:
              name: {from: devices.name}
        """)
    )
    for tenant, name in (("porto", "Porto's"), ("santander", "Santander's")):
        loaded = load_mapping(mapping)
        loaded.lookups.use_tenant(tenant)
        loaded.lookups.ensure_loaded()
        (spot,) = Translator(loaded).translate([{"sensor": "3101"}], source="thin.ndjson")
        assert spot["name"]["value"] == name  # type: ignore[index]


def test_a_registry_from_before_tenants_becomes_the_default_tenants(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    with sqlite3.connect(tmp_path / "state" / "registry.sqlite3") as connection:
        connection.execute(
            "CREATE TABLE devices (id TEXT PRIMARY KEY, entity_type TEXT, entity_id TEXT,"
            " attributes TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL)"
        )
        connection.execute("INSERT INTO devices VALUES ('3101', 'ParkingSpot', NULL, '{\"n\": 1}', 0)")
    connection.close()
    registry = open_registry(tmp_path / "state")
    assert registry.get("3101") == Device("3101", "ParkingSpot", None, {"n": 1})
    registry.close()
    registry = open_registry(tmp_path / "state")  # once only
    assert registry.list()[1] == 1
    registry.close()
