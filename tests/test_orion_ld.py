"""The broker client against a real Orion-LD (``CONTEXTBRIDGE_ORION_URL``, e.g. from
examples/docker-compose.yml); skipped when it is not set. Each test uses its own ids and
deletes what it created."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import pytest

from contextbridge.broker import BrokerClient
from contextbridge.delivery import Drainer, DrainSettings
from contextbridge.outbox import open_outbox
from contextbridge.retry import RetryPolicy

URL = os.environ.get("CONTEXTBRIDGE_ORION_URL")
pytestmark = pytest.mark.skipif(
    not URL, reason="CONTEXTBRIDGE_ORION_URL is not set: no real Orion-LD to test"
)
RUN = uuid.uuid4().hex[:8]


def entity(number: int, value: Any = 1) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:TestSensor:{RUN}:{number}", "type": "TestSensor",
            "reading": {"type": "Property", "value": value}}  # fmt: skip


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 60))


async def cleanup(broker: BrokerClient, count: int) -> None:
    for number in range(count):
        if await broker.get_entity(entity(number)["id"]) is not None:
            await broker.delete_entity(entity(number)["id"])


def test_upsert_create_update_and_partial_failure() -> None:
    async def scenario() -> None:
        async with BrokerClient(URL or "") as broker:
            try:
                created = await broker.upsert([entity(0), entity(1)])
                assert created.ok
                updated = await broker.upsert([entity(0, 2), entity(1, 2)])
                assert updated.ok
                bad = {
                    "id": f"urn:ngsi-ld:TestSensor:{RUN}:bad",
                    "type": "TestSensor",
                    "reading": {"type": "Relationship"},
                }
                partial = await broker.upsert([entity(2), bad])
                assert partial.success == (entity(2)["id"],)
                assert [f.entity_id for f in partial.errors] == [bad["id"]]
                assert partial.errors[0].problem["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")
                got = await broker.get_entity(entity(0)["id"])
                assert got is not None and got["reading"]["value"] == 2
                page = await broker.query(type="TestSensor", count=True, limit=1000)
                assert {e["id"] for e in page.entities} >= {entity(n)["id"] for n in range(3)}
            finally:
                await cleanup(broker, 3)

    run(scenario())


def test_delivery_through_the_outbox(tmp_path: Any) -> None:
    async def scenario() -> None:
        outbox = open_outbox(tmp_path)
        await outbox.put([entity(n, n) for n in range(50)])
        async with BrokerClient(URL or "", batch_size=20) as broker:
            try:
                stats = await Drainer(outbox, broker, DrainSettings(retry=RetryPolicy(attempts=5))).run()
                assert stats.delivered == 50
                got = await broker.get_entity(entity(49)["id"])
                assert got is not None and got["reading"]["value"] == 49
            finally:
                await cleanup(broker, 50)
                await outbox.close()

    run(scenario())
