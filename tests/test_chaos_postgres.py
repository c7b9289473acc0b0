"""Chaos, outbox side: the PostgreSQL outbox loses its connections (a loopback TCP proxy in front
of the test session's PostgreSQL resets them all, and refuses new ones for a moment) again and again while
entities are put and drained, in one process that is never restarted.

A put caught by an outage fails with ``OutboxError`` and stores nothing (the sender keeps its data
and sends it again); the outbox opens new sessions by itself, the claims move to the new session,
and the drainers wait and go on. In the end the broker and the graph hold exactly the latest
version of every entity, none lost, no entity sent back to an older version, the DLQ empty."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from broker_double import BrokerDouble
from chaos.pipeline import sink_drainers
from chaos.profile import scale
from chaos.proxy import TcpProxy
from chaos.seeds import reported, seeds
from chaos.state import assert_broker, assert_graph, assert_in_order
from test_chaos_broker import entity

from contextbridge import BrokerClient, Drainer, DrainSettings, Outbox, OutboxError, RetryPolicy, open_outbox
from contextbridge.sinks.graph import EmbeddedStore

ENTITIES, VERSIONS, CUTS, ROUNDS = scale(120, 1000), scale(4, 6), scale(4, 12), scale(1, 3)
FAST = RetryPolicy(initial=0.01, maximum=0.2, jitter=0.02)


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    """A schema name of this test's own in the test database; every schema it begins with is
    dropped afterwards."""
    name = f"cb_chaos_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        found = connection.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (name + "%",)
        ).fetchall()
        for (schema_name,) in found:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')


def server(url: str) -> tuple[str, int]:
    """The ``(host, port)`` of the database at ``url``."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def through(proxy: TcpProxy, url: str) -> str:
    """The test database's URL, through the proxy."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}").geturl()


async def put_until_stored(outbox: Outbox, batch: list[dict[str, Any]]) -> int:
    """Put ``batch`` until the outbox takes it (a sender resending what was not acknowledged, in
    order); how many tries failed. Only ``OutboxError`` is expected: anything else fails the test."""
    failures = 0
    while True:
        try:
            await outbox.put(batch, feed="chaos")
            return failures
        except OutboxError:
            failures += 1
            await asyncio.sleep(0.05)


async def pending(outbox: Outbox) -> int | None:
    """Entries still to deliver to either sink; None while the outbox cannot tell."""
    try:
        return await outbox.pending("broker") + await outbox.pending("graph")
    except OutboxError:
        return None


def test_lost_postgres_connections_lose_and_duplicate_nothing(schema: str, postgres_url: str) -> None:
    for index, seed in enumerate(seeds("postgres-cuts", rounds=ROUNDS)):
        with reported(seed):
            scenario(postgres_url, schema + f"_{index}", random.Random(seed))


def scenario(url: str, schema: str, rng: random.Random) -> None:
    double = BrokerDouble()
    double.faults.latency = 0.002

    async def main() -> None:
        with TcpProxy(server(url)) as proxy:
            outbox = await asyncio.to_thread(
                open_outbox, through(proxy, url), sinks=("broker", "graph"), schema=schema
            )
            store = EmbeddedStore()
            try:
                async with BrokerClient("http://orion", transport=double.transport()) as client:
                    drainers = sink_drainers(outbox, client, store, batch_size=10, retry=FAST)
                    running = [asyncio.create_task(drainer.run(until_empty=False)) for drainer in drainers]

                    def alive() -> None:
                        ended = [task.exception() for task in running if task.done()]
                        assert not ended, f"a drainer ended: {ended!r}"

                    async def cutter() -> None:
                        for _ in range(CUTS):
                            await asyncio.sleep(rng.uniform(0.1, 0.4))
                            await asyncio.to_thread(proxy.outage, rng.uniform(0.0, 0.3))

                    cutting = asyncio.create_task(cutter())
                    latest: dict[str, dict[str, Any]] = {}
                    failed_puts = 0
                    for version in range(1, VERSIONS + 1):
                        numbers = list(range(ENTITIES))
                        rng.shuffle(numbers)
                        for start in range(0, ENTITIES, 20):
                            batch = [entity(n, version) for n in numbers[start : start + 20]]
                            failed_puts += await put_until_stored(outbox, batch)
                            latest.update((item["id"], item) for item in batch)
                            await asyncio.sleep(rng.random() * 0.02)
                            alive()
                    await cutting
                    while await pending(outbox) != 0:
                        alive()
                        await asyncio.sleep(0.05)
                    alive()
                    for drainer in drainers:
                        drainer.stop()
                    await asyncio.gather(*running)
                assert_broker(double, latest)
                assert_in_order(double, lambda sent: sent["v"]["value"])
                await assert_graph(store, latest)
                assert await outbox.dead_letters() == []
                outbox_failures = [
                    d.stats.last_error for d in drainers if "outbox" in (d.stats.last_error or "")
                ]
                print(
                    f"cuts: {proxy.cuts}, connections refused: {proxy.refused}, failed puts: {failed_puts},"
                    f" drainers that saw the outbox fail: {len(outbox_failures)}"
                )
                assert proxy.cuts == CUTS and (failed_puts or outbox_failures), (
                    "no outage reached contextbridge"
                )
                assert double.duplicate_ids == 0
            finally:
                await store.close()
                await outbox.close()

    asyncio.run(asyncio.wait_for(main(), scale(60, 900)))


def test_one_outage_the_outbox_and_its_drainer_recover_by_themselves(schema: str, postgres_url: str) -> None:
    """The smallest case, for a quick diagnosis: one outage between two puts."""
    double = BrokerDouble()

    async def main() -> None:
        with TcpProxy(server(postgres_url)) as proxy:
            outbox = await asyncio.to_thread(
                open_outbox, through(proxy, postgres_url), sinks=("broker",), schema=schema
            )
            try:
                async with BrokerClient("http://orion", transport=double.transport()) as client:
                    drainer = Drainer(outbox, client, DrainSettings(retry=FAST))
                    running = asyncio.create_task(drainer.run(until_empty=False))
                    try:
                        await outbox.put([entity(1, 1)], feed="chaos")
                        await asyncio.to_thread(proxy.outage, 0.3)
                        assert await put_until_stored(outbox, [entity(2, 1)]) < 20
                        for _ in range(50):
                            if len(double.entities()) == 2:
                                break
                            await asyncio.sleep(0.1)
                        assert not running.done(), f"the drainer ended: {running.exception()!r}"
                        assert_broker(double, {e["id"]: e for e in (entity(1, 1), entity(2, 1))})
                    finally:
                        drainer.stop()
                        await running
            finally:
                await outbox.close()

    asyncio.run(asyncio.wait_for(main(), 30))
