"""``GET /status`` and ``/status/events``: what the console's dashboard reads of the running feeds,
the sinks and the health, as each key may see it; and the rates it computes."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from broker_double import BrokerDouble, serve
from test_service import EVERYWHERE, KEYS, PORTO, SANTANDER, assert_problem, headers, run

from contextbridge import load_config
from contextbridge.runtime.config import ServiceConfig, TileConfig
from contextbridge.service import Service, create_app
from contextbridge.service.app import lifespan
from contextbridge.service.status import RateSampler
from contextbridge.service.webconsole import CONSOLE_DIR, SECURITY_HEADERS, content_security_policy
from contextbridge.sinks.graph import EmbeddedStore

ROOT = Path(__file__).resolve().parent.parent
PARKING_RECORDS, PARKING_ENTITIES, PARKING_REJECTED = 26, 48, 2  # examples/santander/parking.json


def api_keys_yaml() -> str:
    """The keys of ``test_service.KEYS`` as a configuration's ``service.api_keys``."""
    lines = []
    for key in KEYS:
        tenants = '"*"' if key.tenants is None else orjson.dumps(sorted(key.tenants)).decode()
        lines.append(
            f"    - {{name: {key.name}, key: {key.key}, tenants: {tenants}, write: {str(key.write).lower()}}}"
        )
    return "\n".join(lines)


def write_config(tmp_path: Path, feeds: str, *, broker: str | None = None) -> Path:
    """A configuration in ``tmp_path`` with ``feeds`` (YAML list items), the test keys and a broker."""
    path = tmp_path / "contextbridge.yaml"
    path.write_text(
        f"feeds:\n{feeds}\n"
        + (f"broker: {{url: {broker}}}\n" if broker else "")
        + f"service:\n  api_keys:\n{api_keys_yaml()}\n"
    )
    return path


def parking_feeds(tmp_path: Path) -> str:
    """Santander's parking for the santander tenant, and its copy for porto (files: read once)."""
    for name in ("santander", "porto"):
        (tmp_path / name).mkdir(exist_ok=True)
        shutil.copy(ROOT / "examples/santander/parking.json", tmp_path / name / "parking.json")
    shutil.copy(ROOT / "mappings/santander-parking.yaml", tmp_path / "parking.yaml")
    return (
        "  - {id: parking, tenant: santander, mapping: parking.yaml, source: {file: santander/parking.json}}\n"
        "  - {id: porto-parking, tenant: porto, mapping: parking.yaml, source: {file: porto/parking.json}}"
    )


@dataclass
class Console:
    """A configured service and a client of it."""

    client: httpx.AsyncClient
    service: Service
    config: Path
    double: BrokerDouble | None = None
    seen: list[Any] = field(default_factory=list)

    async def until(self, check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError("not reached in time")
            await asyncio.sleep(0.05)

    async def status(self, key: str = EVERYWHERE, tenant: str | None = None) -> dict[str, Any]:
        response = await self.client.get("/status", headers=headers(key, tenant))
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def settled(self) -> dict[str, Any]:
        """The status once every feed has read its file and every sink has nothing waiting."""

        async def done() -> bool:
            status = await self.status()
            feeds_done = all(feed["records"] == PARKING_RECORDS for feed in status["feeds"])
            sinks_done = all(sink["pending"] == 0 for sink in status["sinks"])
            await self.service.adapter.read_status()  # type: ignore[union-attr]  # no 5 s wait
            return feeds_done and sinks_done and bool(status["sinks"])

        await self.until(done)
        return await self.status()


@contextlib.asynccontextmanager
async def configured(
    tmp_path: Path, feeds: str, *, double: BrokerDouble | None = None
) -> AsyncIterator[Console]:
    """The service of a configuration with ``feeds`` (and the broker double, served on loopback)."""
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(serve(double)) if double is not None else None
        path = write_config(tmp_path, feeds, broker=broker)
        store = EmbeddedStore(None)
        service = Service.from_config(load_config(path), state_dir=tmp_path / "state")
        service.store = store
        app = create_app(service)
        try:
            async with lifespan(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                    yield Console(client, service, path, double)
        finally:
            await store.close()


def test_status_shows_each_feed_and_sink_to_the_keys_of_its_tenant(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with configured(
            tmp_path, parking_feeds(tmp_path), double=BrokerDouble(multiservice=True)
        ) as console:
            status = await console.settled()
            assert {feed["id"] for feed in status["feeds"]} == {"parking", "porto-parking"}
            parking = next(feed for feed in status["feeds"] if feed["id"] == "parking")
            assert parking["source"] == "files" and parking["tenant"] == "santander"
            assert (parking["records"], parking["entities"], parking["rejected"]) == (
                PARKING_RECORDS,
                PARKING_ENTITIES,
                PARKING_REJECTED,
            )
            assert parking["stored"] == PARKING_ENTITIES and parking["messages"] == 1
            assert sum(parking["rejects"].values()) == PARKING_REJECTED
            assert all(reason.startswith("transform") for reason in parking["rejects"])
            assert parking["last_message"] <= status["time"] <= time.time()
            sinks = {sink["sink"]: sink for sink in status["sinks"]}
            assert set(sinks) == {"graph", "broker"}
            for sink in sinks.values():  # both tenants' entities, each delivered once
                assert sink["delivered_since_start"] == 2 * PARKING_ENTITIES, sink
                assert (sink["pending"], sink["in_flight"], sink["dead_letters"]) == (0, 0, 0)
            assert len(console.double.entities("santander")) == PARKING_ENTITIES  # type: ignore[union-attr]
            assert status["health"] == {name: {"status": "ok"} for name in ("graph", "outbox", "broker")}

            mine = await console.status(SANTANDER, "santander")  # a key sees the feeds of its tenants only
            assert [feed["id"] for feed in mine["feeds"]] == ["parking"]
            assert [feed["id"] for feed in (await console.status(PORTO))["feeds"]] == ["porto-parking"]
            assert_problem(await console.client.get("/status"), 401, "unauthorized")
            assert_problem(await console.client.get("/status", headers=headers(SANTANDER)), 403, "forbidden")

            # A sink serves every tenant: its last error, which may name anyone's entity, is the operator's.
            console.service.adapter.delivery["broker"].last_error = "urn:ngsi-ld:ParkingSpot:porto:1: 400"  # type: ignore[union-attr]
            errors = {sink["sink"]: sink["last_error"] for sink in (await console.status())["sinks"]}
            assert errors["broker"] == "urn:ngsi-ld:ParkingSpot:porto:1: 400"
            mine = await console.status(SANTANDER, "santander")  # shared sinks: their names only
            assert [sink["last_error"] for sink in mine["sinks"]] == [None, None]
            assert all(set(sink.values()) == {sink["sink"], None} for sink in mine["sinks"])

    asyncio.run(scenario())


def test_health_tells_when_the_broker_is_down(tmp_path: Path) -> None:
    double = BrokerDouble(multiservice=True)

    async def scenario() -> None:
        async with configured(tmp_path, parking_feeds(tmp_path), double=double) as console:
            await console.settled()
            double.faults.fail(50, status=503)  # every answer, retries included
            console.service.board._health = None  # the cached reading is two seconds old at most
            health = (await console.status())["health"]
            assert health["broker"]["status"] == "error" and health["broker"]["detail"]
            assert health["graph"] == {"status": "ok"}

    asyncio.run(scenario())


def test_the_event_stream_sends_the_status_again_and_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with configured(tmp_path, parking_feeds(tmp_path)) as console:
            await console.settled()
            key = KEYS[0]  # santander's
            events = console.service.board.events(console.service, key, 0.5)
            started = time.monotonic()
            first, second = [await anext(events) for _ in range(2)]
            await events.aclose()  # type: ignore[attr-defined]
            assert time.monotonic() - started >= 0.5
            for event in (first, second):
                name, data, end = event.split(b"\n", 2)
                assert name == b"event: status" and end == b"\n"
                document = orjson.loads(data.removeprefix(b"data: "))
                assert [feed["id"] for feed in document["feeds"]] == ["parking"]
            assert (
                orjson.loads(second.split(b"\n")[1][6:])["time"]
                > orjson.loads(first.split(b"\n")[1][6:])["time"]
            )
            bad = await console.client.get("/status/events?interval=0.01", headers=headers(EVERYWHERE))
            assert_problem(bad, 400, "bad-request")
            assert_problem(
                await console.client.get("/status/events?interval=nan", headers=headers(EVERYWHERE)),
                400,
                "bad-request",
            )

    asyncio.run(scenario())


def test_without_feeds_the_stream_sends_one_event_and_ends() -> None:
    async def scenario() -> None:
        store = EmbeddedStore(None)
        service = Service(settings=ServiceConfig(api_keys=KEYS), store=store)
        app = create_app(service)
        async with lifespan(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                response = await client.get("/status/events", headers=headers(SANTANDER, "santander"))
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                assert response.headers["cache-control"] == "no-store"
                (event,) = response.content.split(b"\n\n")[:-1]
                document = orjson.loads(event.split(b"\ndata: ")[1])
                assert (document["feeds"], document["sinks"]) == ([], [])
                assert document["health"] == {"graph": {"status": "ok"}}
        await store.close()

    asyncio.run(scenario())


@dataclass
class FakeTranslation:
    records: int = 0


@dataclass
class FakeFeed:
    id: str
    translation: FakeTranslation = field(default_factory=FakeTranslation)


def test_the_rate_is_records_per_second_over_the_window() -> None:
    sampler = RateSampler(window=10)
    feed = FakeFeed("parking")
    sampler.sample([feed], now=100.0)  # type: ignore[list-item]
    assert sampler.rate("parking") is None  # one sample: no rate yet
    assert sampler.rate("unknown") is None
    for second in range(1, 21):
        feed.translation.records += 5 if second <= 10 else 1  # a burst, then a trickle
        sampler.sample([feed], now=100.0 + second)  # type: ignore[list-item]
    rate = sampler.rate("parking")
    assert rate is not None and 1.0 <= rate <= 1.5  # the burst has left the window
    for second in range(21, 40):
        sampler.sample([feed], now=100.0 + second)  # type: ignore[list-item]
    assert sampler.rate("parking") == 0.0  # nothing read for a whole window


def test_the_console_page_and_files_are_public_and_locked_down() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        page = await client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.text == (CONSOLE_DIR / "index.html").read_text()
        script = await client.get("/console/console.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        policy = content_security_policy(TileConfig())  # the default: OpenStreetMap's tiles
        expected = {**SECURITY_HEADERS, "Content-Security-Policy": policy}
        for response in (page, script):
            assert {name: response.headers[name] for name in SECURITY_HEADERS} == expected
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "img-src 'self' data: https://tile.openstreetmap.org;" in policy
        assert "unsafe-inline" not in policy
        missing = await client.get("/console/nothing-here.js")
        assert_problem(missing, 404, "not-found")
        escape = await client.get("/console/..%2F..%2Fapp.py")
        assert escape.status_code == 404

    run(body)
