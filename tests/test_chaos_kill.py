"""Chaos, process side: a real ``contextbridge serve`` is fed readings through its webhook and
killed with SIGKILL at seeded random moments — while requests are being stored, while the outbox
drains to Orion-LD (the double, answering a little slowly) and to the city graph — then started
again on the same state directory, several times. The sender resends what was not answered 202,
as any webhook sender does. In the end Orion-LD holds exactly the latest version of every entity
it accepts, the graph exactly the latest version of every entity, and the dead-letter queue
exactly the entity Orion-LD refuses and the one record the mapping rejects."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from broker_double import BrokerDouble, serve
from chaos.fault_broker import REFUSED
from chaos.pipeline import translated
from chaos.profile import scale
from chaos.seeds import reported, seeds
from chaos.state import assert_broker, assert_dead_letters, assert_graph, assert_in_order
from processes import Served
from test_serve_feeds import HOOK_KEY, HOOK_MAPPING

from contextbridge import load_mapping, open_outbox
from contextbridge.sinks.graph import EmbeddedStore

SENSORS, VERSIONS, BATCH, KILLS = scale(60, 300), scale(6, 12), 10, scale(4, 12)
REFUSED_ID = "urn:ngsi-ld:WeatherObserved:santander:k7"
BAD = {"sensor": "broken", "t": "warm", "time": "2026-11-25T10:00:00Z"}  # t is no number: rejected


def config(tmp_path: Path, broker: str) -> Path:
    (tmp_path / "hook.yaml").write_text(HOOK_MAPPING)
    path = tmp_path / "contextbridge.yaml"
    path.write_text(f"""
feeds:
  - id: hook
    mapping: hook.yaml
    source: {{webhook: {{api_key: "{HOOK_KEY}"}}}}
broker:
  url: {broker}
  retry_max: 2
""")
    return path


def batches() -> list[list[dict[str, Any]]]:
    """Every version of every sensor, version after version, in requests of ``BATCH`` readings."""
    readings = [
        {"sensor": f"k{n}", "t": round(version + n / 100, 2), "time": f"2026-11-25T10:{version:02d}:00Z"}
        for version in range(1, VERSIONS + 1)
        for n in range(SENSORS)
    ]
    return [readings[start : start + BATCH] for start in range(0, len(readings), BATCH)]


def post(served: Served, batch: list[dict[str, Any]] | dict[str, Any]) -> bool:
    """Send one request; True once it is answered 202 (stored), False if the process died meanwhile."""
    try:
        answer = httpx.post(
            served.url + "/feeds/hook", json=batch, headers={"X-Api-Key": HOOK_KEY}, timeout=10
        )
    except httpx.TransportError:
        return False
    assert answer.status_code == 202, answer.text
    return True


def test_serve_killed_at_random_moments_ends_in_the_exact_state(tmp_path: Path) -> None:
    for index, seed in enumerate(seeds("serve-sigkill")):
        with reported(seed):
            scenario(tmp_path / f"round-{index}", random.Random(seed))


def scenario(tmp_path: Path, rng: random.Random) -> None:
    tmp_path.mkdir(parents=True)
    double = BrokerDouble()
    double.faults.latency = 0.02  # delivery still under way when the kills come
    double.refuse_ids.add(REFUSED_ID)
    state = tmp_path / "state"
    todo = batches()
    sent = 0  # requests answered 202
    killed_with_data_waiting = 0
    with serve(double) as broker_url:
        path = config(tmp_path, broker_url)
        for kill in range(KILLS):
            served = Served(path, state, {})
            if kill == 0:
                assert post(served, BAD)
            timer = threading.Timer(rng.uniform(0.05, 1.0), served.process.send_signal, (signal.SIGKILL,))
            timer.start()
            while sent < len(todo) and post(served, todo[sent]):
                sent += 1
            timer.join()
            assert served.process.wait(10) == -signal.SIGKILL
            served.process.communicate()
            killed_with_data_waiting += sent < len(todo) or len(double.entities()) < SENSORS - 1
        served = Served(path, state, {})
        try:
            while sent < len(todo):
                assert post(served, todo[sent])
                sent += 1
            mapping = load_mapping(tmp_path / "hook.yaml")
            latest = translated(mapping, [(orjson.dumps(batch), {}) for batch in todo])
            accepted = {entity_id: item for entity_id, item in latest.items() if entity_id != REFUSED_ID}
            drained(state, lambda: double.entities() == accepted)
        finally:
            code, stderr = served.stop()
        assert code == 0, stderr

    assert len(latest) == SENSORS and killed_with_data_waiting > 0, "the kills came after the work"
    assert_broker(double, accepted)
    assert_in_order(double, lambda sent: sent["temperature"]["observedAt"])
    assert double.duplicate_ids == 0

    async def check() -> None:
        store = EmbeddedStore(state / "graph")
        outbox = open_outbox(state, sinks=("broker", "graph"))
        try:
            await assert_graph(store, latest)
            assert await outbox.pending("broker") == 0 and await outbox.pending("graph") == 0
            assert_dead_letters(await outbox.dead_letters(sink="broker"), {REFUSED_ID: REFUSED}, latest)
            assert await outbox.dead_letters(sink="graph") == []
            [rejected] = await outbox.dead_letters(sink="translate")
            record = {
                key: value for key, value in rejected.data.items() if key != "_source"
            }  # the webhook's metadata
            assert record == BAD and rejected.reason["field"] == "t", (rejected.data, rejected.reason)
        finally:
            await outbox.close()
            await store.close()

    asyncio.run(check())
    print(f"kills: {KILLS}, requests: {len(todo)}, writes to the broker: {len(double.writes)}")


def drained(state: Path, delivered: Any, seconds: float = 60) -> None:
    """Wait until ``delivered()`` and the outbox of the running service has nothing pending."""
    deadline = time.monotonic() + seconds
    while True:
        if delivered():
            status = subprocess.run(
                [sys.executable, "-m", "contextbridge", "outbox", "status", "--state", str(state), "--format", "json"],
                capture_output=True, check=True,
            )  # fmt: skip
            if all(sink["pending"] == 0 for sink in json.loads(status.stdout)):
                return
        assert time.monotonic() < deadline, "the service did not deliver everything in time"
        time.sleep(0.2)
