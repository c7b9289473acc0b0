"""Delivery throughput to the broker double on loopback, against raw httpx in the same run.

    $ python benchmarks/delivery.py [--entities 50000] [--runs 3] [--sweep]

The broker double (tests/broker_double.py) runs under uvicorn in a separate process, so it does
not share the interpreter lock with the client. Measured, in entities per second, each run
against the baseline of the same run, and reported as the median of ``--runs`` runs:
- baseline:   raw httpx posting the same batches (orjson bodies, same concurrency);
- client:     BrokerClient (packing by count and bytes, dedup per id, error translation);
- SQLite:     the outbox in a state directory (synchronous=FULL, the default): ``put`` alone (in
              chunks of 1000, as ``sync`` does), the drain alone (Drainer: claim, send, ack),
              both one after the other ("put, then drain": the whole path of one entity), and
              both at once ("put ∥ drain": a feed being translated while the drainer sends);
              and the drain into a sink that takes everything at once (the outbox's own capacity);
- PostgreSQL: the same with one worker, then with two workers (two outboxes on one schema, each
              with its own drainer, the concurrency split between them so that the requests in
              flight are as many as the baseline's) — on a throwaway server the benchmark starts
              (tests/services.py), or the one ``CONTEXTBRIDGE_TEST_POSTGRES`` names.
Ratios are time relative to the baseline measured just before each path, on a shared machine
whose load varies (target: within 1.5×); the CPU time per entity of this process is steadier.
``--sweep`` also measures batch sizes and concurrencies (how the defaults were chosen).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(Path(__file__).resolve().parent)]

from loopback import broker_double  # noqa: E402
from services import ServiceUnavailable, postgres_server  # noqa: E402

from contextbridge.delivery.drainer import Drainer, DrainSettings  # noqa: E402
from contextbridge.delivery.sink import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, BatchResult  # noqa: E402
from contextbridge.entities.updates import REPLACE, UpdatePolicy  # noqa: E402
from contextbridge.outbox import Outbox  # noqa: E402
from contextbridge.outbox.postgres import PostgresOutbox  # noqa: E402
from contextbridge.outbox.sqlite import SqliteOutbox  # noqa: E402
from contextbridge.sinks.broker import BrokerClient  # noqa: E402

POSTGRES = os.environ.get("CONTEXTBRIDGE_TEST_POSTGRES", "")  # else a throwaway server, see __main__
CHUNK = 1000  # entities per put
Items = list[dict[str, Any]]
Rate = tuple[float, float]  # entities/s, and CPU µs per entity in this process (all its threads)


def now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def rate(count: int, start: tuple[float, float], end: tuple[float, float]) -> Rate:
    return count / (end[0] - start[0]), 1e6 * (end[1] - start[1]) / count


def entities(count: int, version: int) -> Items:
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


async def baseline(url: str, items: Items, batch: int, concurrency: int) -> Rate:
    batches = [items[i : i + batch] for i in range(0, len(items), batch)]
    queue: asyncio.Queue[Items] = asyncio.Queue()
    for part in batches:
        queue.put_nowait(part)
    started = now()
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
    return rate(len(items), started, now())


async def client_only(url: str, items: Items, batch: int, concurrency: int) -> Rate:
    started = now()
    async with BrokerClient(url, batch_size=batch) as broker:
        queue = list(reversed(broker.batches(items)))

        async def worker() -> None:
            while queue:
                result = await broker.upsert(queue.pop())
                assert result.ok

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return rate(len(items), started, now())


async def put_all(outbox: Outbox, items: Items) -> None:
    for start in range(0, len(items), CHUNK):
        await outbox.put(items[start : start + CHUNK])


async def drain(url: str, outboxes: list[Outbox], batch: int, concurrency: int) -> int:
    """Drain with one drainer per outbox (a worker each), the concurrency split between them."""
    share = max(1, concurrency // len(outboxes))
    async with BrokerClient(url, batch_size=batch) as broker:
        settings = DrainSettings(batch_size=batch, concurrency=share)
        stats = await asyncio.gather(*(Drainer(outbox, broker, settings).run() for outbox in outboxes))
    return sum(s.delivered for s in stats)


async def put_then_drain(
    url: str, items: Items, batch: int, concurrency: int, outboxes: list[Outbox]
) -> dict[str, Rate]:
    """Put everything, then drain: the rates of each step and of both."""
    started = now()
    await put_all(outboxes[0], items)
    put = now()
    assert await drain(url, outboxes, batch, concurrency) == len(items)
    done = now()
    n = len(items)
    return {
        "put": rate(n, started, put),
        "drain": rate(n, put, done),
        "put, then drain": rate(n, started, done),
    }


async def put_while_draining(
    url: str, items: Items, batch: int, concurrency: int, outboxes: list[Outbox]
) -> Rate:
    """Put and drain at the same time (the drainer stops once everything put is delivered)."""
    share = max(1, concurrency // len(outboxes))
    started = now()
    async with BrokerClient(url, batch_size=batch) as broker:
        settings = DrainSettings(batch_size=batch, concurrency=share, poll=0.01)
        drainers = [Drainer(outbox, broker, settings) for outbox in outboxes]
        running = asyncio.gather(*(drainer.run(until_empty=False) for drainer in drainers))
        await put_all(outboxes[0], items)
        while await outboxes[0].pending("broker"):
            await asyncio.sleep(0.005)
        for drainer in drainers:
            drainer.stop()
        stats = await running
    assert sum(s.delivered for s in stats) == len(items), stats
    return rate(len(items), started, now())


class NullBatch:
    def __init__(self, entities: Sequence[Any]) -> None:
        self.ids = tuple(entity["id"] for entity in entities)


class NullSink:
    """A sink that takes everything at once: what is left is the outbox's and the drainer's cost."""

    def batches(self, entities: Sequence[Any]) -> list[NullBatch]:
        return [NullBatch(entities)]

    async def upsert(
        self, batch: NullBatch, *, tenant: str | None = None, policy: UpdatePolicy = REPLACE
    ) -> BatchResult:
        return BatchResult(success=batch.ids)


async def drain_alone(items: Items, batch: int, concurrency: int, outbox: Outbox) -> Rate:
    """The drain into ``NullSink``: how fast the outbox alone hands out and settles entities."""
    await put_all(outbox, items)
    started = now()
    stats = await Drainer(outbox, NullSink(), DrainSettings(batch_size=batch, concurrency=concurrency)).run()
    assert stats.delivered == len(items), stats
    return rate(len(items), started, now())


def postgres_outboxes(count: int) -> list[Outbox] | None:
    schema = f"cb_bench_{time.time_ns()}"
    if not POSTGRES:
        return None
    try:
        return [PostgresOutbox(POSTGRES, schema=schema) for _ in range(count)]
    except Exception as error:  # the benchmark runs without PostgreSQL too
        print(f"(PostgreSQL outbox skipped: {error})")
        return None


async def close(outboxes: list[Outbox]) -> None:
    for outbox in outboxes:
        await outbox.close()
    if isinstance(outboxes[0], PostgresOutbox):
        import psycopg

        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{outboxes[0].schema}" CASCADE')


async def one_run(
    url: str, fresh: Callable[[], Items], batch: int, concurrency: int
) -> dict[str, tuple[Rate, float]]:
    """Each path with the baseline measured just before it (the load of a shared machine varies
    over a run): name -> ((entities/s, CPU µs/entity), baseline entities/s)."""
    rates: dict[str, tuple[Rate, float]] = {}

    async def base() -> float:
        return (await baseline(url, fresh(), batch, concurrency))[0]

    measured = await baseline(url, fresh(), batch, concurrency)
    rates["raw httpx (baseline)"] = (measured, measured[0])
    rates["BrokerClient"] = (await client_only(url, fresh(), batch, concurrency), await base())
    with tempfile.TemporaryDirectory() as tmp:
        outbox: list[Outbox] = [SqliteOutbox(Path(tmp) / "a")]
        before = await base()
        steps = await put_then_drain(url, fresh(), batch, concurrency, outbox)
        rates.update({f"SQLite {step}": (rate, before) for step, rate in steps.items()})
        await close(outbox)
        outbox = [SqliteOutbox(Path(tmp) / "c")]
        rates["SQLite drain, no broker (null sink)"] = (
            await drain_alone(fresh(), batch, concurrency, outbox[0]),
            before,
        )
        await close(outbox)
        outbox = [SqliteOutbox(Path(tmp) / "b")]
        before = await base()
        rates["SQLite put ∥ drain"] = (
            await put_while_draining(url, fresh(), batch, concurrency, outbox),
            before,
        )
        await close(outbox)
    for workers in (1, 2):
        if (pg := postgres_outboxes(workers)) is None:
            break
        before = await base()
        steps = await put_then_drain(url, fresh(), batch, concurrency, pg)
        rates.update({f"PostgreSQL {workers}w {step}": (rate, before) for step, rate in steps.items()})
        await close(pg)
        if (pg := postgres_outboxes(workers)) is not None:
            before = await base()
            rate = await put_while_draining(url, fresh(), batch, concurrency, pg)
            rates[f"PostgreSQL {workers}w put ∥ drain"] = (rate, before)
            await close(pg)
    return rates


async def main(count: int, runs: int, sweep: bool, url: str) -> None:
    batch, concurrency = DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
    version = 0

    def fresh() -> Items:
        nonlocal version
        version += 1  # a new version each time: the outbox never skips them as unchanged
        return entities(count, version)

    await baseline(url, fresh(), batch, concurrency)  # warm up: every later run updates (204)
    print(f"{count} entities, batch {batch}, concurrency {concurrency}, loopback, broker double (uvicorn)")
    results = []
    for run in range(1, runs + 1):
        rates = await one_run(url, fresh, batch, concurrency)
        print(
            f"run {run}: "
            + ", ".join(f"{name} {r:.0f} ({base:.0f})" for name, ((r, _), base) in rates.items()),
            flush=True,
        )
        results.append({name: (r, base / r, cpu) for name, ((r, cpu), base) in rates.items()})
    print(f"\nmedian of {runs} runs")
    print(f"{'path':<36}{'entities/s':>12}{'× baseline':>12}{'CPU µs/entity':>15}")
    for name in results[0]:
        medians = [statistics.median(r[name][i] for r in results) for i in range(3)]
        print(f"{name:<36}{medians[0]:>12.0f}{medians[1]:>12.2f}{medians[2]:>15.1f}")
    print(
        "(× baseline: time relative to raw httpx measured just before (in brackets in the runs' lines),\n"
        " median of the runs' ratios; CPU: of this process and its threads, not of the broker double's\n"
        " nor of PostgreSQL's processes)"
    )
    if sweep:
        print("\nsweep (BrokerClient, entities/s):")
        for size in (50, 100, 200, 500):
            sweep_rates = [(await client_only(url, fresh(), size, c))[0] for c in (1, 2, 4, 8)]
            print(
                f"  batch {size:>4}: "
                + "  ".join(f"c{c}={r:>6.0f}" for c, r in zip((1, 2, 4, 8), sweep_rates, strict=True))
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=50000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if not POSTGRES:
            try:
                POSTGRES = stack.enter_context(postgres_server())
            except ServiceUnavailable as error:  # the benchmark runs without PostgreSQL too
                print(f"(PostgreSQL outbox skipped: {error})")
        url = stack.enter_context(broker_double())
        asyncio.run(main(args.entities, args.runs, args.sweep, url))
