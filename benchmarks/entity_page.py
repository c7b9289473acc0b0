"""The console's entity page: ``GET /entities/{id}`` and a week of ``/history``, small city against large.

    python benchmarks/entity_page.py [--quick]

Measured in the same run, on the embedded store, through the service's HTTP app: the latency of
one entity's document (its triples, most specific type, referrers and kept history: four queries)
and of a week of its hourly history, in a small city (the baseline) and in a city twenty times
larger (its history too: eight days of hourly values of every car park). Each query starts from the entity's IRI, so the
target is a ratio of at least 0.5 (no query scans the graph).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
import httpx
from harness import Measure, table
from pyoxigraph import NamedNode, RdfFormat

from contextbridge.runtime.config import ApiKey, ServiceConfig
from contextbridge.service import Service, create_app
from contextbridge.service.app import lifespan
from contextbridge.sinks.graph import EmbeddedStore, history_graph

KEY = "benchmark-key-0123456789"
PARKING = "https://smartdatamodels.org/dataModel.Parking/"
SOSA = "http://www.w3.org/ns/sosa/"
TARGET = "urn:ngsi-ld:OffStreetParking:bench:0"
HOURS = 24 * 8


def city(sites: int) -> list[dict[str, Any]]:
    """``sites`` car parks with ten spots each pointing at their car park."""
    entities: list[dict[str, Any]] = []
    for site in range(sites):
        site_id = f"urn:ngsi-ld:OffStreetParking:bench:{site}"
        lon, lat = -3.81 + (site % 100) * 0.001, 43.46 + (site // 100) * 0.001
        entities.append(
            {
                "id": site_id,
                "type": "OffStreetParking",
                "availableSpotNumber": {
                    "type": "Property",
                    "value": site % 40,
                    "observedAt": "2026-11-25T10:00:00Z",
                },
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
            }
        )
        for spot in range(10):
            entities.append(
                {
                    "id": f"urn:ngsi-ld:ParkingSpot:bench:{site}-{spot}",
                    "type": "ParkingSpot",
                    "status": {"type": "Property", "value": "free" if spot % 2 else "occupied"},
                    "refParkingSite": {"type": "Relationship", "object": site_id},
                }
            )
    return entities


def history(sites: int, hours: int) -> str:
    """Every car park's free spots, hourly, for ``hours`` hours back from now (N-Triples)."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    lines = []
    for site in range(sites):
        for hour in range(hours):
            node = f"<urn:bench:obs:{site}:{hour}>"
            at = (now - timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines += [
                f"{node} <{SOSA}hasFeatureOfInterest> <urn:ngsi-ld:OffStreetParking:bench:{site}> .",
                f"{node} <{SOSA}observedProperty> <{PARKING}availableSpotNumber> .",
                f'{node} <{SOSA}hasSimpleResult> "{(site + hour) % 40}"^^<http://www.w3.org/2001/XMLSchema#integer> .',
                f'{node} <{SOSA}resultTime> "{at}"^^<http://www.w3.org/2001/XMLSchema#dateTime> .',
            ]
    return "\n".join(lines) + "\n"


async def measure(sites: int, hours: int, repeat: int, folder: Path) -> tuple[float, float, int]:
    """Best seconds of the entity's document and of a week of its history; triples in the store."""
    store = EmbeddedStore(folder / "graph")
    entities = city(sites)
    for start in range(0, len(entities), 2000):
        await store.upsert(entities[start : start + 2000])
    store._store.bulk_load(
        history(sites, hours).encode(), format=RdfFormat.N_TRIPLES, to_graph=NamedNode(history_graph(None))
    )
    triples = len(store._store)
    service = Service(settings=ServiceConfig(api_keys=(ApiKey("bench", KEY, None),)), store=store)
    app = create_app(service)
    path = "/entities/" + quote(TARGET, safe="")
    async with (
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", headers={"X-API-Key": KEY}
        ) as client,
    ):

        async def best(call: Callable[[], Awaitable[httpx.Response]]) -> float:
            fastest = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                answer = await call()
                fastest = min(fastest, time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
            return fastest

        document = await best(lambda: client.get(path))
        week = await best(lambda: client.get(path + "/history", params={"since": "P7D"}))
        points = (await client.get(path + "/history", params={"since": "P7D"})).json()["series"][0]["points"]
        assert len(points) == 168, len(points)  # a week, hourly
    await store.close()
    return document, week, triples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller large city")
    args = parser.parse_args()
    small, large = (50, 1000) if args.quick else (100, 2000)
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        base = asyncio.run(measure(small, HOURS, 7, Path(first)))
        big = asyncio.run(measure(large, HOURS, 7, Path(second)))
    print(f"small city: {base[2]:,} triples; large city: {big[2]:,} triples")
    for index, name in ((0, "entity document"), (1, "a week of history")):
        baseline = Measure(f"{name}, small city", 1, base[index])
        row = Measure(f"{name}, large city", 1, big[index])
        print(
            table(
                f"{name} (requests/s; target: large ≥ 0.5× small)",
                [row],
                baseline=baseline,
                unit="requests/s",
            )
        )


if __name__ == "__main__":
    main()
