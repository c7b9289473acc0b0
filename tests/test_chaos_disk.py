"""Chaos, disk side: the SQLite outbox's disk fills up (a small tmpfs mount) while Orion-LD is down
and entities keep coming. Each put that does not fit fails whole with SQLite's "database or disk is
full" as an ``OutboxError`` naming the outbox, and stores nothing of its batch; everything put
before stays, and the drainers wait for the disk and go on. Once space returns and the broker is
back, the refused batches are sent again, and Orion-LD ends with
exactly the latest version of every entity it accepts, the graph with exactly the latest version of
every entity, the dead-letter queue with exactly the entity Orion-LD refuses."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from broker_double import BrokerDouble, serve
from chaos.disk import small_disk
from chaos.fault_broker import REFUSED
from chaos.pipeline import translated
from chaos.profile import scale
from chaos.seeds import reported, seeds
from chaos.state import assert_broker, assert_dead_letters, assert_graph
from processes import Served
from test_chaos_kill import config
from test_serve_feeds import HOOK_KEY

from contextbridge import (
    BrokerClient,
    Drainer,
    DrainSettings,
    GraphSink,
    Outbox,
    OutboxError,
    RetryPolicy,
    load_mapping,
    open_outbox,
)
from contextbridge.sinks.graph import EmbeddedStore

SENSORS, VERSIONS, BATCH = scale(80, 400), scale(6, 10), 20
FAST = RetryPolicy(initial=0.01, maximum=0.1, jitter=0.01)
REFUSED_ID = "urn:ngsi-ld:Sensor:disk-3"
# The default lease: the claims a drainer lost track of on the full disk must be freed by the
# drainer itself (``Outbox.abandon``, tried again until it succeeds), not by their lease running out.
LEASE = 300.0


def entity(number: int, version: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Sensor:disk-{number}",
        "type": "Sensor",
        "v": {"type": "Property", "value": version, "observedAt": f"2026-11-25T10:{version:02d}:00Z"},
        # a reading of a few kilobytes (a vendor's raw frame): the disk fills after a few hundred
        "frame": {"type": "Property", "value": f"{number:04d}{version:02d}" * 400},
    }


def test_a_full_disk_refuses_puts_whole_and_loses_nothing_accepted(tmp_path: Path) -> None:
    [seed] = seeds("disk-full")[:1]
    with reported(seed), small_disk(tmp_path / "disk", kib=scale(2048, 16384)) as disk:
        asyncio.run(asyncio.wait_for(scenario(disk, random.Random(seed)), scale(60, 600)))


async def scenario(disk: Any, rng: random.Random) -> None:
    double = BrokerDouble()
    double.refuse_ids.add(REFUSED_ID)
    double.faults.down_for(3600)  # down until the disk is full: nothing leaves the outbox
    store = EmbeddedStore()
    outbox = open_outbox(disk.path / "state", sinks=("broker", "graph"))
    try:
        async with BrokerClient("http://orion", transport=double.transport()) as client:
            drainers = [
                Drainer(
                    outbox, client, DrainSettings(sink="broker", batch_size=BATCH, lease=LEASE, retry=FAST)
                ),
                Drainer(
                    outbox,
                    GraphSink(store, batch_size=BATCH),
                    DrainSettings(sink="graph", lease=LEASE, retry=FAST),
                ),
            ]
            running = [asyncio.create_task(drainer.run(until_empty=False)) for drainer in drainers]

            def alive() -> None:
                ended = [task.exception() for task in running if task.done()]
                assert not ended, f"a drainer ended: {ended!r}"

            try:
                latest: dict[str, dict[str, Any]] = {}
                refused: list[list[dict[str, Any]]] = []  # batches the outbox could not take, to send again
                errors: list[OutboxError] = []
                for version in range(1, VERSIONS + 1):
                    numbers = list(range(SENSORS))
                    rng.shuffle(numbers)
                    for start in range(0, SENSORS, BATCH):
                        batch = [entity(n, version) for n in numbers[start : start + BATCH]]
                        before = await waiting_for_broker(outbox)
                        try:
                            await outbox.put(batch, feed="chaos")
                        except OutboxError as error:
                            errors.append(error)
                            refused.append(batch)
                            assert await waiting_for_broker(outbox) == before, (
                                "a refused put stored part of its batch"
                            )
                            continue
                        latest.update((item["id"], item) for item in batch)
                        alive()
                assert errors, f"the disk never filled ({disk.free_kib()} KiB free)"
                assert latest, "the disk was full from the start: nothing accepted to keep"
                where = str(disk.path / "state" / "outbox.sqlite3")
                assert {(str(error), error.outbox) for error in errors} == {
                    (f"outbox {where}: database or disk is full", where)
                }
                print(f"puts refused: {len(errors)} of {VERSIONS * SENSORS // BATCH}")

                disk.grow(kib=65536)  # space returns
                double.faults.down_until = 0.0  # and the broker
                for batch in refused:  # the sender sends again what was not acknowledged, in order
                    await outbox.put(batch, feed="chaos")
                    latest.update((item["id"], item) for item in batch)
                for _ in range(600):
                    alive()
                    if await held(outbox) == (0, 0):
                        break
                    await asyncio.sleep(0.05)
                alive()
                assert await held(outbox) == (0, 0), f"not delivered in 30 s: pending {await held(outbox)}"
            finally:
                for drainer in drainers:
                    drainer.stop()
                await asyncio.gather(*running, return_exceptions=True)
        assert_broker(double, {i: e for i, e in latest.items() if i != REFUSED_ID})
        await assert_graph(store, latest)
        assert_dead_letters(await outbox.dead_letters(sink="broker"), {REFUSED_ID: REFUSED}, latest)
        assert await outbox.dead_letters(sink="graph") == []
    finally:
        await store.close()
        await outbox.close()


async def held(outbox: Outbox) -> tuple[int, int]:
    return await outbox.pending("broker"), await outbox.pending("graph")


async def waiting_for_broker(outbox: Outbox) -> int:
    """While the broker is down, this changes with puts only (the graph drains meanwhile)."""
    return await outbox.pending("broker")


def test_serve_on_a_full_disk_answers_503_and_delivers_everything_once_space_returns(tmp_path: Path) -> None:
    """The same through a real ``contextbridge serve`` (only its outbox on the small disk): a webhook
    request that cannot be stored is answered 503 ``not-stored`` naming the full disk (the sender
    keeps it); everything answered 202 is delivered by the running service once space returns
    (its broker backoff capped at 2 s by ``broker.retry_max``: no restart needed)."""
    double = BrokerDouble()
    double.faults.down_for(3600)
    graph = tmp_path / "graph"
    graph.mkdir()
    with small_disk(tmp_path / "state", kib=2048) as disk, serve(double) as broker_url:
        (disk.path / "graph").symlink_to(graph)  # only the outbox on the small disk
        path = config(tmp_path, broker_url)
        served = Served(path, disk.path, {})
        accepted: list[list[dict[str, Any]]] = []
        refused: list[list[dict[str, Any]]] = []
        problem: dict[str, Any] = {}
        try:
            for number in range(200):
                batch = [reading(number, n) for n in range(100)]
                answer = httpx.post(served.url + "/feeds/hook", json=batch, headers={"X-Api-Key": HOOK_KEY})
                if answer.status_code == 202:
                    accepted.append(batch)
                    continue
                assert answer.status_code == 503, answer.text
                problem = answer.json()
                refused.append(batch)
                break
            assert refused, "the disk never filled"
            assert problem["type"].endswith("not-stored") and "full" in problem["detail"], problem
            disk.grow(kib=65536)
            double.faults.down_until = 0.0
            for batch in refused:
                answer = httpx.post(served.url + "/feeds/hook", json=batch, headers={"X-Api-Key": HOOK_KEY})
                assert answer.status_code == 202, answer.text
            latest = translated(
                load_mapping(tmp_path / "hook.yaml"), [(orjson.dumps(b), {}) for b in accepted + refused]
            )
            assert delivered_within(double, latest, 30), "not delivered by the running service"
        finally:
            code, stderr = served.stop()
        print(f"requests stored before the disk filled: {len(accepted)}")
        assert code == 0, stderr
    assert_broker(double, latest)

    async def check() -> None:
        store = EmbeddedStore(graph)
        try:
            await assert_graph(store, latest)
        finally:
            await store.close()

    asyncio.run(check())


def reading(request: int, number: int) -> dict[str, Any]:
    return {"sensor": f"d{request}-{number}", "t": number / 10, "time": "2026-11-25T10:00:00Z"}


def delivered_within(double: BrokerDouble, latest: dict[str, Any], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while double.entities() != latest:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True
