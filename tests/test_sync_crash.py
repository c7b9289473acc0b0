"""``contextbridge sync`` killed with SIGKILL in the middle of delivery, several times, then run to
the end: the broker holds exactly the latest version of every entity, no entity ever went back to
an older version, and only the batches in flight at each kill were sent twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from broker_double import BrokerDouble, serve

from contextbridge import RecordError, Translator, load_mapping
from contextbridge.outbox.ordering import STALE

DATA = Path(__file__).parent / "data" / "delivery"
SPOTS, VERSIONS, KILLS, BATCH, CONCURRENCY = 200, 4, 3, 5, 2


def write_inputs(tmp_path: Path) -> list[Path]:
    """Two files of readings, versions 1-2 then 3-4 of each spot, and one record the mapping rejects."""
    paths = []
    for part, versions in enumerate(((1, 2), (3, 4))):
        spots = [
            {
                "id": str(n),
                "state": str((n + v) % 2),
                "lon": "-3.80",
                "lat": "43.46",
                "battery": str(90 - v),
                "modified": f"2024-05-01T10:0{v}:00Z",
            }
            for v in versions
            for n in range(SPOTS)
        ]
        if part == 0:
            spots.append(
                {"id": "x", "state": "9", "lon": "0", "lat": "0", "modified": "2024-05-01T10:00:00Z"}
            )
        path = tmp_path / f"readings-{part}.json"
        path.write_text(json.dumps({"spots": spots}))
        paths.append(path)
    return paths


def expected_state(inputs: list[Path]) -> dict[str, dict[str, Any]]:
    translator = Translator(load_mapping(DATA / "parking.yaml"))
    latest: dict[str, dict[str, Any]] = {}
    for path in inputs:
        with path.open("rb") as stream:
            for outcome in translator.translate_stream(stream, source=path.name):
                if not isinstance(outcome, RecordError):
                    latest[outcome["id"]] = outcome
    return latest


def sync(inputs: list[Path], url: str, state: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "contextbridge", "sync", "-m", str(DATA / "parking.yaml"), *map(str, inputs),
        "--broker", url, "--state", str(state), "--batch-size", str(BATCH), "--concurrency", str(CONCURRENCY),
        "--retry-initial", "0.01", "--retry-max", "0.05", "--format", "json",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})


def test_sync_killed_mid_delivery_ends_with_the_exact_latest_state(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path)
    expected = expected_state(inputs)
    assert len(expected) == SPOTS
    double = BrokerDouble()
    double.faults.latency = 0.01
    state = tmp_path / "state"
    with serve(double) as url:
        for _ in range(KILLS):
            before = len(double.writes)
            process = sync(inputs, url, state)
            deadline = time.monotonic() + 30
            while len(double.writes) < before + 3 * BATCH and process.poll() is None:
                assert time.monotonic() < deadline, "sync did not start delivering"
                time.sleep(0.005)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        assert len(double.entities()) < SPOTS, "the kills came before the end of delivery"
        final = sync(inputs, url, state)
        out, err = final.communicate(timeout=60)
        assert final.returncode == 0, err.decode()
        summary = json.loads(out)

    assert summary["pending"] == 0 and summary["rejected"] == 1
    assert double.entities() == expected  # exactly the latest state: nothing missing, nothing extra
    observed: dict[str, str] = {}
    for _, entity_id, sent in double.writes:
        moment = sent["status"]["observedAt"]
        assert moment >= observed.get(entity_id, ""), f"{entity_id} went back to an older version"
        observed[entity_id] = moment
    # only the batches in flight at each kill may have been sent twice
    assert len(double.writes) <= SPOTS + KILLS * BATCH * CONCURRENCY
    assert double.duplicate_ids == 0

    status = subprocess.run(
        [sys.executable, "-m", "contextbridge", "dlq", "list", "--state", str(state), "--format", "json"],
        capture_output=True,
        check=True,
    )
    letters = json.loads(status.stdout)
    # Read again after a kill, the versions older than one stored already are kept as stale (once
    # each), never sent; besides them, only the rejected record.
    refused = [letter for letter in letters if letter["reason"]["type"] != STALE]
    assert [(letter["sink"], letter["reason"]["field"]) for letter in refused] == [("translate", "state")]
