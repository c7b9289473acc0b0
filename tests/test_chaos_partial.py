"""Chaos, partial readings: whole states (replace) and partial ones (merge) of many entities arrive
mixed, in random order of kinds, while Orion-LD (the double, on loopback) answers with random,
seeded faults — 5xx, 429, partial 207s, requests applied then failed, connections cut before or
after the body. In the end the broker and the city graph hold, for every entity, the same attribute
instances with the same values: those the versions give when applied in order (a whole state
replaces the entity, a partial one its attribute instances, per attribute and datasetId)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from chaos.fault_broker import Faults, FaultyBroker
from chaos.pipeline import drained
from chaos.profile import scale
from chaos.seeds import reported, seeds
from chaos.state import assert_broker

from contextbridge import BrokerClient, UpdatePolicy, merge_entities, open_outbox
from contextbridge.entities.updates import REPLACE
from contextbridge.sinks.graph import EmbeddedStore
from contextbridge.sinks.graph.sparql import with_prefixes

ENTITIES, VERSIONS, ROUNDS = scale(80, 800), scale(6, 10), scale(1, 4)
FAULTS = Faults(
    server_error=0.07,
    applied_then_500=0.07,
    too_many=0.05,
    partial=0.08,
    drop_before_body=0.07,
    drop_after_body=0.07,
)
MERGE = UpdatePolicy(merge=True)
ATTRIBUTES = ("temperature", "relativeHumidity", "atmosphericPressure", "windSpeed")


def version(number: int, value: int, names: tuple[str, ...]) -> dict[str, Any]:
    entity: dict[str, Any] = {"id": f"urn:ngsi-ld:WeatherObserved:chaos-{number}", "type": "WeatherObserved"}
    for name in names:
        if name == "temperature":  # two instances: a partial version may carry one of them
            entity[name] = [
                {"type": "Property", "value": value + 0.5, "datasetId": f"urn:ngsi-ld:Dataset:{d}"}
                for d in ("a", "b")
            ]
        else:
            entity[name] = {"type": "Property", "value": value}
    return entity


async def put_versions(outbox: Any, rng: random.Random) -> dict[str, dict[str, Any]]:
    """Every version of every entity, whole or partial at random, in small writes with the drainers
    at work; what each entity is once they are all applied in order."""
    state: dict[str, dict[str, Any]] = {}
    for value in range(1, VERSIONS + 1):
        numbers = list(range(ENTITIES))
        rng.shuffle(numbers)
        for start in range(0, ENTITIES, 20):
            whole = rng.random() < 0.4
            batch = []
            for number in numbers[start : start + 20]:
                names = (
                    ATTRIBUTES[: rng.randrange(1, 5)]
                    if whole
                    else tuple(rng.sample(ATTRIBUTES, rng.randrange(1, 3)))
                )
                entity = version(number, value, names)
                if not whole and "temperature" in entity and rng.random() < 0.5:
                    entity["temperature"] = entity["temperature"][rng.randrange(2)]  # one dataset only
                batch.append(entity)
                older = state.get(entity["id"])
                state[entity["id"]] = entity if whole or older is None else merge_entities(older, entity)
            await outbox.put(batch, feed="chaos", policy=REPLACE if whole else MERGE)
            await asyncio.sleep(rng.random() * 0.02)
    return state


def instances(entity: dict[str, Any]) -> set[tuple[str, str | None, float]]:
    found = set()
    for name, value in entity.items():
        if name not in ("id", "type"):
            for item in value if isinstance(value, list) else [value]:
                found.add((name, item.get("datasetId"), float(item["value"])))
    return found


async def graph_instances(store: EmbeddedStore) -> dict[str, set[tuple[str, str | None, float]]]:
    query = with_prefixes(
        "SELECT ?e ?a ?d ?v WHERE { ?e a <https://smartdatamodels.org/dataModel.Weather/WeatherObserved> ; "
        "?a ?n . ?n ngsi-ld:hasValue ?v . OPTIONAL { ?n ngsi-ld:datasetId ?d } }"
    )
    found: dict[str, set[tuple[str, str | None, float]]] = {}
    for e, a, d, v in (await store.query(query, limit=1_000_000)).rows:
        name = str(a.value).rsplit("/", 1)[-1]  # type: ignore[union-attr]
        found.setdefault(str(e.value), set()).add((name, d.value if d is not None else None, float(v.value)))  # type: ignore[union-attr]
    return found


def test_random_broker_faults_with_partial_and_whole_versions_end_in_the_same_state(tmp_path: Path) -> None:
    for index, seed in enumerate(seeds("partial-faults", rounds=ROUNDS)):
        with reported(seed):
            scenario(tmp_path / f"round-{index}", random.Random(seed))


def scenario(state: Path, rng: random.Random) -> None:
    broker = FaultyBroker(random.Random(rng.random()), FAULTS)

    async def main() -> None:
        outbox = open_outbox(state, sinks=("broker", "graph"))
        store = EmbeddedStore()
        try:
            with broker as url:
                async with BrokerClient(url, timeout=5) as client:
                    expected = await drained(outbox, client, store, lambda: put_versions(outbox, rng))
            assert_broker(broker.double, expected)
            graph = await graph_instances(store)
            assert graph == {entity_id: instances(entity) for entity_id, entity in expected.items()}
            assert {i: instances(e) for i, e in broker.double.entities().items()} == graph
            assert await outbox.dead_letters() == []
            merged = {status.sink: status.merged for status in await outbox.status()}
            print(f"partial versions merged in the outbox: {merged}")
        finally:
            await store.close()
            await outbox.close()

    asyncio.run(asyncio.wait_for(main(), scale(90, 900)))
    print(f"faults injected: {dict(broker.injected)}")
    assert set(broker.injected) == set(vars(FAULTS)), (
        f"faults not injected: {set(vars(FAULTS)) - set(broker.injected)}"
    )
    assert broker.double.duplicate_ids == 0
