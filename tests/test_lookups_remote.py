"""Remote lookups: HTTP with ETag refresh on a real loopback server, SQL on the real PostgreSQL,
and reloads that swap tables while translation goes on."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from broker_double import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contextbridge import ConfigError, DeliveryError, Mapping, RemoteRefused, Translator, load_mapping
from contextbridge.language.lookups import HttpSource, SqlSource


class Inventory:
    """A loopback inventory server: serves ``csv`` with an ETag, answers 304 to a matching
    If-None-Match; ``delay`` slows every answer, ``status`` forces an error answer."""

    def __init__(self) -> None:
        self.csv = "sensor,street\n1,Calle A\n"
        self.version = 1
        self.delay = 0.0
        self.status: int | None = None
        self.requests: list[str | None] = []  # the If-None-Match of each request
        self.app = Starlette(routes=[Route("/sensors.csv", self.sensors)])

    def update(self, csv: str) -> None:
        self.csv, self.version = csv, self.version + 1

    async def sensors(self, request: Request) -> Response:
        import asyncio

        self.requests.append(request.headers.get("if-none-match"))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status is not None:
            return Response("down", status_code=self.status)
        etag = f'"v{self.version}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(self.csv, media_type="text/csv", headers={"ETag": etag})


@pytest.fixture
def inventory() -> Iterator[tuple[Inventory, str]]:
    server = Inventory()
    with serve(server.app) as url:
        yield server, f"{url}/sensors.csv"


def _http_mapping(write: Callable[..., Path], url: str, interval: float = 0.05) -> Mapping:
    return load_mapping(
        write(f"""
        id: thin
        source: {{format: ndjson}}
        lookups:
          sensors: {{http: {{url: "{url}", interval: {interval}}}, key: sensor}}
        entity:
          id: "urn:ngsi-ld:ParkingSpot:{{sensor}}"
          type: ParkingSpot
          lookup: {{sensors: "{{sensor}}"}}
          attributes:
            street: {{from: sensors.street}}
        """)
    )


def _street(translator: Translator, sensor: str = "1") -> Any:
    return translator.translate_record({"sensor": sensor})[0]["street"]["value"]


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_http_source_sends_the_etag_and_keeps_rows_on_304(inventory: tuple[Inventory, str]) -> None:
    server, url = inventory
    source = HttpSource(url, interval=None)
    rows = source.fetch()
    assert rows is not None and list(rows) == [{"sensor": "1", "street": "Calle A"}]
    assert source.fetch() is None
    server.update("sensor,street\n1,Calle B\n")
    rows = source.fetch()
    assert rows is not None and list(rows) == [{"sensor": "1", "street": "Calle B"}]
    assert server.requests == [None, '"v1"', '"v1"']


def test_http_errors_are_delivery_errors_with_the_url(inventory: tuple[Inventory, str]) -> None:
    server, url = inventory
    server.status = 503
    with pytest.raises(DeliveryError, match="answered 503") as caught:
        HttpSource(url).fetch()
    assert caught.value.url == url and caught.value.status == 503


def test_a_refused_lookup_fetch_is_a_configuration_fault(inventory: tuple[Inventory, str]) -> None:
    server, url = inventory
    server.status = 404
    with pytest.raises(RemoteRefused, match="answered 404") as caught:
        HttpSource(url).fetch()
    assert caught.value.url == url and caught.value.status == 404


def test_http_lookup_refreshes_in_the_background(
    inventory: tuple[Inventory, str], write_mapping: Callable[..., Path]
) -> None:
    server, url = inventory
    mapping = _http_mapping(write_mapping, url)
    translator = Translator(mapping)  # first fetch, blocking
    assert _street(translator) == "Calle A"
    mapping.lookups.start_refresh()
    try:
        _wait(lambda: server.requests.count('"v1"') >= 2)  # 304s: nothing changes
        assert mapping.lookups.status()["sensors"].version == 1
        server.update("sensor,street\n1,Calle B\n2,Calle C\n")
        _wait(lambda: _street(translator) == "Calle B")
        assert _street(translator, "2") == "Calle C"
        # a failed reload keeps the table and is reported
        server.status = 500
        failures = mapping.lookups.status()["sensors"].failures
        _wait(lambda: mapping.lookups.status()["sensors"].failures > failures)
        status = mapping.lookups.status()["sensors"]
        assert status.rows == 2 and "answered 500" in (status.last_error or "")
        assert _street(translator) == "Calle B"
        server.status = None
        _wait(lambda: mapping.lookups.status()["sensors"].last_error is None)
    finally:
        mapping.lookups.stop()


def test_a_slow_reload_never_blocks_translation(
    inventory: tuple[Inventory, str], write_mapping: Callable[..., Path]
) -> None:
    server, url = inventory
    mapping = _http_mapping(write_mapping, url, interval=0.01)
    translator = Translator(mapping)
    server.delay = 1.0
    server.update("sensor,street\n1,Calle B\n")
    mapping.lookups.start_refresh()
    try:
        _wait(lambda: len(server.requests) >= 2)  # a reload is in flight, for a second
        started = time.perf_counter()
        streets = {_street(translator) for _ in range(2000)}
        assert time.perf_counter() - started < 0.5
        assert streets == {"Calle A"}
        _wait(lambda: _street(translator) == "Calle B")
    finally:
        mapping.lookups.stop()


def test_an_unreachable_remote_lookup_is_a_config_error_at_start(write_mapping: Callable[..., Path]) -> None:
    mapping = _http_mapping(write_mapping, "http://127.0.0.1:9/sensors.csv")
    with pytest.raises(ConfigError, match=r"lookup 'sensors' \(http://127.0.0.1:9/sensors.csv\) could not"):
        Translator(mapping)


def test_reloads_during_translation_swap_whole_tables(
    inventory: tuple[Inventory, str], write_mapping: Callable[..., Path]
) -> None:
    """Tables A (every street 'A') and B (every street 'B') alternate while records are translated:
    each record sees one whole table, never a mix, never a missing row."""
    server, url = inventory
    table_a = "sensor,street\n" + "".join(f"{i},A\n" for i in range(2000))
    table_b = "sensor,street\n" + "".join(f"{i},B\n" for i in range(2000))
    server.update(table_a)
    mapping = _http_mapping(write_mapping, url)
    translator = Translator(mapping)
    stop = threading.Event()
    swaps = 0

    def reload_forever() -> None:
        nonlocal swaps
        while not stop.is_set():
            server.update(table_b if swaps % 2 == 0 else table_a)
            mapping.lookups.reload("sensors")
            swaps += 1

    reloader = threading.Thread(target=reload_forever)
    reloader.start()
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline or swaps < 4:
            record_streets = {
                entity["street"]["value"]
                for entity in translator.translate_record({"sensor": str(len(seen) % 2000)})
            }
            assert len(record_streets) == 1
            seen |= record_streets
    finally:
        stop.set()
        reloader.join()
    assert seen == {"A", "B"} and translator.stats.rejected == 0


@pytest.fixture
def pg_table(postgres_url: str) -> Iterator[tuple[str, psycopg.Connection[Any]]]:
    schema = f"lookup_{uuid.uuid4().hex[:10]}"
    conn = psycopg.connect(postgres_url, autocommit=True, connect_timeout=5)
    conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(
        f"CREATE TABLE {schema}.sensors (network text, sensor integer, street text, lat numeric, lon numeric,"
        " installed date, PRIMARY KEY (network, sensor))"
    )
    conn.execute(
        f"INSERT INTO {schema}.sensors VALUES ('parking', 3101, 'Calle Daoíz y Velarde', 43.46297, -3.80356,"
        " '2015-03-01'), ('env', 3101, 'Calle Castilla', 43.45, -3.82, NULL)"
    )
    try:
        yield schema, conn
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


def test_sql_lookup_on_postgresql(
    pg_table: tuple[str, psycopg.Connection[Any]], write_mapping: Callable[..., Path], postgres_url: str
) -> None:
    schema, conn = pg_table
    mapping = load_mapping(
        write_mapping(f"""
        id: thin
        source: {{format: ndjson}}
        lookups:
          sensors:
            sql: {{url: "{postgres_url}", query: "SELECT * FROM {schema}.sensors", interval: 0.05}}
            key: [network, sensor]
        entity:
          id: "urn:ngsi-ld:ParkingSpot:{{sensor}}"
          type: ParkingSpot
          lookup: {{sensors: {{key: [parking, "{{sensor}}"], on_miss: partial}}}}
          attributes:
            street:   {{from: sensors.street}}
            location: {{geo: point, lon: sensors.lon, lat: sensors.lat}}
            installed: {{from: sensors.installed}}
        """)
    )
    translator = Translator(mapping)
    [entity] = translator.translate_record({"sensor": 3101})
    assert entity["street"]["value"] == "Calle Daoíz y Velarde"
    assert entity["location"]["value"]["coordinates"] == [-3.80356, 43.46297]
    assert entity["installed"]["value"] == "2015-03-01"
    assert translator.translate_record({"sensor": 3102})[0].keys() == {"id", "type"}
    mapping.lookups.start_refresh()
    try:
        conn.execute(
            f"INSERT INTO {schema}.sensors VALUES ('parking', 3102, 'Calle Nueva', 43.4, -3.8, NULL)"
        )
        _wait(lambda: "street" in translator.translate_record({"sensor": 3102})[0])
    finally:
        mapping.lookups.stop()


def test_sql_errors_are_delivery_errors_without_the_password(postgres_url: str) -> None:
    url = urlsplit(postgres_url)
    with_password = urlunsplit(url._replace(netloc=f"{url.username}:secret@{url.hostname}:{url.port}"))
    source = SqlSource(with_password, "SELECT * FROM no_such_table_here")
    with pytest.raises(DeliveryError, match="lookup query failed") as caught:
        list(source.fetch())
    assert "secret" not in str(caught.value)


def test_a_query_past_max_rows_is_refused_and_the_old_table_kept(
    pg_table: tuple[str, psycopg.Connection[Any]], write_mapping: Callable[..., Path], postgres_url: str
) -> None:
    schema, conn = pg_table
    mapping = load_mapping(
        write_mapping(f"""
        id: thin
        source: {{format: ndjson}}
        lookups:
          sensors:
            sql: {{url: "{postgres_url}", query: "SELECT * FROM {schema}.sensors WHERE network = 'parking'"}}
            key: sensor
            max_rows: 3
        entity:
          id: "urn:ngsi-ld:ParkingSpot:{{sensor}}"
          type: ParkingSpot
          lookup: {{sensors: "{{sensor}}"}}
          attributes:
            street: {{from: sensors.street}}
        """)
    )
    translator = Translator(mapping)
    conn.execute(
        f"INSERT INTO {schema}.sensors SELECT 'parking', n, 'Calle ' || n, 43, -3, NULL"
        " FROM generate_series(1, 100000) AS n WHERE n <> 3101"
    )
    with pytest.raises(ConfigError, match="more than max_rows=3"):
        mapping.lookups.reload("sensors")
    status = mapping.lookups.status()["sensors"]
    assert status.rows == 1 and status.failures == 1 and "max_rows" in (status.last_error or "")
    assert _street(translator, "3101") == "Calle Daoíz y Velarde"
    # the server-side cursor and its connection were released at once
    active = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND query LIKE '%contextbridge_lookup%'"
    ).fetchone()
    assert active == (0,)


def test_http_headers_and_json_by_content_type(write_mapping: Callable[..., Path]) -> None:
    seen: list[str | None] = []

    async def zones(request: Request) -> Response:
        seen.append(request.headers.get("authorization"))
        return Response('[{"zone": "A", "rate": 2.5}]', media_type="application/json")

    with serve(Starlette(routes=[Route("/zones", zones)])) as url:
        mapping = load_mapping(
            write_mapping(f"""
            id: thin
            source: {{format: ndjson}}
            lookups:
              tariffs: {{http: {{url: "{url}/zones", headers: {{Authorization: "Bearer t0k"}}}}, key: zone}}
            entity:
              id: "urn:ngsi-ld:ParkingSpot:{{sensor}}"
              type: ParkingSpot
              lookup: {{tariffs: "{{zone}}"}}
              attributes:
                rate: {{from: tariffs.rate}}
            """)
        )
        [entity] = Translator(mapping).translate_record({"sensor": "1", "zone": "A"})
    assert entity["rate"]["value"] == 2.5 and seen == ["Bearer t0k"]


def test_refresh_is_a_no_op_without_remote_tables(write_mapping: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("sensor,street\n1,A\n", encoding="utf-8")
    mapping = load_mapping(
        write_mapping("""
        id: thin
        source: {format: ndjson}
        lookups:
          sensors: {csv: s.csv, key: sensor}
        entity:
          id: "urn:ngsi-ld:ParkingSpot:{sensor}"
          type: ParkingSpot
          lookup: {sensors: "{sensor}"}
          attributes:
            street: {from: sensors.street}
        """)
    )
    mapping.lookups.start_refresh()
    assert mapping.lookups.remote == [] and not any(t.name == "lookup-refresh" for t in threading.enumerate())
    mapping.lookups.stop()
    assert mapping.lookups.status()["sensors"].rows == 1
