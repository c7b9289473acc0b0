"""Who holds a claim in the PostgreSQL outbox: an id never given twice, so a dead worker's claims
are freed at once even when its backend pid now belongs to another session."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from contextbridge import Outbox, OutboxError, open_outbox
from contextbridge.outbox.postgres import PostgresOutbox


def entity(number: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Thing:{number}", "type": "Thing", "n": {"type": "Property", "value": number}}


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    name = f"cb_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_claims_of_a_dead_worker_are_freed_though_its_pid_is_reused(postgres_url: str, schema: str) -> None:
    async def scenario() -> None:
        worker: Outbox = open_outbox(postgres_url, schema=schema)
        other: Outbox = open_outbox(postgres_url, schema=schema)
        try:
            await worker.put([entity(n) for n in range(5)])
            assert len(await worker.claim("broker", limit=10, lease=300)) == 5
            # The worker dies: its sessions end. The server gives its backend pid to another
            # session, here an unrelated client that stays connected.
            with psycopg.connect(postgres_url, autocommit=True) as stranger:
                (pid,) = stranger.execute("SELECT pg_backend_pid()").fetchone() or (0,)
                with psycopg.connect(postgres_url, autocommit=True) as admin:
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                        (worker.owner,),  # type: ignore[attr-defined]
                    )
                    # what a pid-named claim would look like now: owned by a live session
                    admin.execute(
                        f'UPDATE "{schema}".deliveries SET owner = %s WHERE owner = %s',
                        (str(pid), worker.owner),  # type: ignore[attr-defined]
                    )
                started = time.monotonic()
                claimed = await other.claim("broker", limit=10, lease=300)
                assert len(claimed) == 5, "the dead worker's claims wait for their 300 s lease"
                assert time.monotonic() - started < 5
        finally:
            await other.close()
            await asyncio.wait_for(worker.close(), 30)

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_worker_whose_session_is_lost_keeps_its_claims(postgres_url: str, schema: str) -> None:
    async def scenario() -> None:
        worker: Outbox = PostgresOutbox(postgres_url, schema=schema, connections=1)
        other: Outbox = open_outbox(postgres_url, schema=schema)
        try:
            await worker.put([entity(1)])
            mine = await worker.claim("broker", limit=10, lease=300)
            with psycopg.connect(postgres_url, autocommit=True) as admin:  # a lost connection
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                    (worker.owner,),  # type: ignore[attr-defined]
                )
            with pytest.raises(OutboxError):  # the drainer's retry comes next
                await worker.renew("broker", mine, lease=300)
            assert await worker.renew("broker", mine, lease=300) == mine  # reconnected, same owner
            assert await other.claim("broker", limit=10, lease=300) == []
        finally:
            await other.close()
            await worker.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
