"""Delivery throughput to the broker double on loopback, against raw httpx in the same run.

    $ python benchmarks/delivery.py [--entities 20000] [--sweep]

The broker double (tests/broker_double.py) runs under uvicorn in a separate process, so it does
not share the interpreter lock with the client. Measured, in entities per second:
- baseline: raw httpx posting the same batches (orjson bodies, same concurrency);
- client:   BrokerClient (packing by count and bytes, dedup per id, error translation);
- outbox:   the whole path: put into the outbox, then Drainer (claim, send, ack), SQLite with
            synchronous=FULL (the default) and NORMAL, and PostgreSQL when reachable.
Ratios are against the baseline of the same run (target: client and outbox within 1.5×).
``--sweep`` also measures batch sizes and concurrencies (how the defaults were chosen).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from contextbridge.broker import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, BrokerClient  # noqa: E402
from contextbridge.delivery import Drainer, DrainSettings  # noqa: E402
from contextbridge.outbox.postgres import PostgresOutbox  # noqa: E402
from contextbridge.outbox.sqlite import SqliteOutbox  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def entities(count: int, version: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"urn:ngsi-ld:ParkingSpot:bench:{n}",
            "type": "ParkingSpot",
            "status": {
                "type": "Property",
                "value": "free" if (n + version) % 2 else "occupied",
                "observedAt": "2024-05-01T10:00:00Z",
            },
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.80, 43.46]}},
            "batteryLevel": {"type": "Property", "value": 0.5 + version / 100, "unitCode": "C62"},
        }
        for n in range(count)
    ]


async def baseline(url: str, items: list[dict[str, Any]], batch: int, concurrency: int) -> float:
    batches = [items[i : i + batch] for i in range(0, len(items), batch)]
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for part in batches:
        queue.put_nowait(part)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url) as http:

        async def worker() -> None:
            while not queue.empty():
                part = queue.get_nowait()
                response = await http.post(
                    "/ngsi-ld/v1/entityOperations/upsert",
                    content=orjson.dumps(part),
                    headers={"Content-Type": "application/json"},
                )
                assert response.status_code in (201, 204, 207), response.status_code

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(items) / (time.perf_counter() - started)


async def client_only(url: str, items: list[dict[str, Any]], batch: int, concurrency: int) -> float:
    started = time.perf_counter()
    async with BrokerClient(url, batch_size=batch) as broker:
        queue = list(reversed(broker.batches(items)))

        async def worker() -> None:
            while queue:
                result = await broker.upsert(queue.pop())
                assert result.ok

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(items) / (time.perf_counter() - started)


async def through_outbox(
    url: str, items: list[dict[str, Any]], batch: int, concurrency: int, outbox: Any
) -> float:
    started = time.perf_counter()
    for start in range(0, len(items), 1000):
        await outbox.put(items[start : start + 1000])
    async with BrokerClient(url, batch_size=batch) as broker:
        stats = await Drainer(outbox, broker, DrainSettings(batch_size=batch, concurrency=concurrency)).run()
    assert stats.delivered == len(items), stats
    elapsed = time.perf_counter() - started
    await outbox.close()
    return len(items) / elapsed


def postgres_outbox() -> Any:
    try:
        return PostgresOutbox(POSTGRES, schema=f"cb_bench_{int(time.time())}")
    except Exception as error:  # the benchmark runs without PostgreSQL too
        print(f"(PostgreSQL outbox skipped: {error})")
        return None


def drop_schema(outbox: Any) -> None:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{outbox.schema}" CASCADE')


async def main(count: int, sweep: bool, url: str) -> None:
    batch, concurrency = DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
    version = 0

    def fresh() -> list[dict[str, Any]]:
        nonlocal version
        version += 1  # a new version each time: the outbox never skips them as unchanged
        return entities(count, version)

    await baseline(url, fresh(), batch, concurrency)  # warm up: every later run updates (204)
    print(f"{count} entities, batch {batch}, concurrency {concurrency}, loopback, broker double (uvicorn)")
    base = max([await baseline(url, fresh(), batch, concurrency) for _ in range(3)])
    client = max([await client_only(url, fresh(), batch, concurrency) for _ in range(3)])
    rows = [("raw httpx (baseline)", base), ("BrokerClient", client)]
    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("FULL", "NORMAL"):
            outbox = SqliteOutbox(Path(tmp) / sync, synchronous=sync)
            rows.append(
                (
                    f"outbox SQLite {sync} + drainer",
                    await through_outbox(url, fresh(), batch, concurrency, outbox),
                )
            )
    if (pg := postgres_outbox()) is not None:
        rows.append(
            ("outbox PostgreSQL + drainer", await through_outbox(url, fresh(), batch, concurrency, pg))
        )
        drop_schema(pg)
    print(f"{'path':<34}{'entities/s':>12}{'× baseline':>12}{'× client':>10}")
    for name, rate in rows:
        print(f"{name:<34}{rate:>12.0f}{base / rate:>12.2f}{client / rate:>10.2f}")
    print(
        "(× baseline: time relative to raw httpx; × client: the outbox overhead, time relative to BrokerClient)"
    )
    if sweep:
        print("\nsweep (BrokerClient, entities/s):")
        for size in (50, 100, 200, 500):
            rates = [await client_only(url, fresh(), size, c) for c in (1, 2, 4, 8)]
            print(
                f"  batch {size:>4}: "
                + "  ".join(f"c{c}={r:>6.0f}" for c, r in zip((1, 2, 4, 8), rates, strict=True))
            )


def serve(port: int) -> None:
    from broker_double import BrokerDouble
    from broker_double import serve as run

    with run(BrokerDouble(), port=port):
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=20000)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        sys.exit(0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    break
            except OSError:
                time.sleep(0.05)
        asyncio.run(main(args.entities, args.sweep, f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.wait(10)
