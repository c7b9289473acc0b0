"""Runaway SPARQL queries are stopped, not abandoned: each runs in a worker process killed at its
time limit, and no key or tenant can hold every query slot, so the other tenants' queries are
answered as fast as ever while one key floods the endpoint."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

import httpx
from test_service import EVERYWHERE, KEYS, PORTO, headers, notify, weather

from contextbridge.runtime.config import ServiceConfig
from contextbridge.service import Service, create_app
from contextbridge.service.app import lifespan
from contextbridge.sinks.graph import EmbeddedStore

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
SIMPLE = "SELECT ?s WHERE { ?s a ?type } LIMIT 5"
TIMEOUT = 3.0


def test_runaway_queries_from_one_key_do_not_slow_another_tenant(tmp_path: Path) -> None:
    async def main() -> None:
        service = Service(settings=ServiceConfig(api_keys=KEYS, sparql_timeout=TIMEOUT), state_dir=tmp_path)
        app = create_app(service)
        async with lifespan(app):
            store = service.graph
            assert isinstance(store, EmbeddedStore) and store._pool is not None
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", timeout=60
            ) as client:
                assert (await notify(client, weather(1, 3.0), key=PORTO, tenant="porto")).status_code == 204

                async def simple() -> float:
                    started = time.perf_counter()
                    response = await client.get(
                        "/sparql", params={"query": SIMPLE}, headers=headers(PORTO, "porto")
                    )
                    assert response.status_code == 200, response.text
                    return time.perf_counter() - started

                usual = statistics.median([await simple() for _ in range(5)])
                flood = [
                    asyncio.create_task(
                        client.get(
                            "/sparql", params={"query": RUNAWAY}, headers=headers(EVERYWHERE, "santander")
                        )
                    )
                    for _ in range(20)
                ]
                await asyncio.sleep(0.5)  # the flood is running
                assert not all(task.done() for task in flood)
                during = [await simple() for _ in range(3)]
                assert statistics.median(during) < usual + 1.0, (usual, during)  # each answered (200)
                answers = await asyncio.gather(*flood)
                kinds = sorted(response.json()["type"].rsplit("/", 1)[1] for response in answers)
                assert {response.status_code for response in answers} == {503}
                assert kinds.count("query-timeout") == 2 and kinds.count("query-busy") == 18, kinds
                # the runaway workers are gone (killed at the limit), replaced by fresh ones
                assert len(store._pool.killed) == 2
                await asyncio.sleep(0.2)
                for pid in store._pool.killed:
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        continue
                    raise AssertionError(f"query worker {pid} still runs")
                assert await simple() < usual + 1.0

    asyncio.run(main())
