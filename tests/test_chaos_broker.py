"""Chaos, broker side: Orion-LD (the double, on loopback) answering with random, seeded faults —
5xx, 429 with Retry-After, partial 207s, connections closed before or after the request body —
while new versions of many entities keep arriving. In the end the broker holds exactly the latest
version of every entity it accepts, the city graph exactly the latest version of every entity,
and the dead-letter queue exactly the entities the broker always refuses, with its ProblemDetails."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from chaos.fault_broker import REFUSED, Faults, FaultyBroker, poisoned
from chaos.pipeline import drained
from chaos.profile import scale
from chaos.seeds import reported, seeds
from chaos.state import assert_broker, assert_dead_letters, assert_graph, assert_in_order

from contextbridge import BrokerClient, open_outbox
from contextbridge.sinks.graph import EmbeddedStore

ENTITIES, VERSIONS, ROUNDS = scale(150, 1500), scale(4, 6), scale(1, 4)
FAULTS = Faults(
    server_error=0.07,
    applied_then_500=0.07,
    too_many=0.05,
    partial=0.08,
    drop_before_body=0.07,
    drop_after_body=0.07,
)


def entity(number: int, version: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Sensor:chaos-{number}",
        "type": "Sensor",
        "v": {"type": "Property", "value": version, "observedAt": f"2026-11-25T10:{version:02d}:00Z"},
        "name": {"type": "Property", "value": f"sensor {number}"},
    }


async def put_versions(outbox: Any, rng: random.Random) -> dict[str, dict[str, Any]]:
    """Every version of every entity, in small writes with the drainers at work; the latest of each."""
    latest: dict[str, dict[str, Any]] = {}
    for version in range(1, VERSIONS + 1):
        numbers = list(range(ENTITIES))
        rng.shuffle(numbers)
        for start in range(0, ENTITIES, 25):
            batch = [entity(n, version) for n in numbers[start : start + 25]]
            await outbox.put(batch, feed="chaos")
            latest.update((item["id"], item) for item in batch)
            await asyncio.sleep(rng.random() * 0.02)
    return latest


def test_random_broker_faults_end_in_the_exact_state(tmp_path: Path) -> None:
    for index, seed in enumerate(seeds("broker-faults", rounds=ROUNDS)):
        with reported(seed):
            scenario(tmp_path / f"round-{index}", random.Random(seed))


def scenario(state: Path, rng: random.Random) -> None:
    broker = FaultyBroker(random.Random(rng.random()), FAULTS)
    numbers = rng.sample(range(ENTITIES), max(4, ENTITIES // 12))
    reasons: dict[str, dict[str, Any]] = {}
    for position, number in enumerate(numbers):  # one in three refused whole-batch, the others in a 207
        entity_id = entity(number, 1)["id"]
        if position % 3 == 0:
            broker.poison(entity_id)
            reasons[entity_id] = poisoned(entity_id)
        else:
            broker.refuse(entity_id)
            reasons[entity_id] = dict(REFUSED)

    async def main() -> None:
        outbox = open_outbox(state, sinks=("broker", "graph"))
        store = EmbeddedStore()
        try:
            with broker as url:
                async with BrokerClient(url, timeout=5) as client:
                    latest = await drained(outbox, client, store, lambda: put_versions(outbox, rng))
            assert_broker(broker.double, {i: e for i, e in latest.items() if i not in reasons})
            assert_in_order(broker.double, lambda sent: sent["v"]["value"])
            await assert_graph(store, latest)
            assert_dead_letters(await outbox.dead_letters(sink="broker", limit=100_000), reasons, latest)
            assert await outbox.dead_letters(sink="graph") == []
        finally:
            await store.close()
            await outbox.close()

    asyncio.run(asyncio.wait_for(main(), scale(60, 900)))
    print(
        f"faults injected: {dict(broker.injected)}; requests the double answered: {len(broker.double.requests)}"
    )
    assert set(broker.injected) == set(vars(FAULTS)), (
        f"faults not injected: {set(vars(FAULTS)) - set(broker.injected)}"
    )
    assert broker.double.duplicate_ids == 0
