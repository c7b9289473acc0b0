"""A history feed killed with SIGKILL in the middle of delivery, several times, then run to the end.

``contextbridge run`` takes 24 hourly readings of each station (``history: true``) through the
outbox to the broker double and to a real ``oxigraph serve``; it is killed while delivering, then
run again on the same state. Every reading reaches the broker once and in order per station (only
a request in flight at a kill may be sent twice, and then again right after it), and the graph holds
exactly 24 observations per station, whatever was written twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from broker_double import BrokerDouble, serve

from contextbridge.sinks.graph import EndpointStore
from contextbridge.sinks.graph.sparql import with_prefixes

DATA = Path(__file__).parent / "data" / "history"
STATIONS, HOURS, KILLS, TENANT = 12, 24, 2, "history-crash"


def write_config(tmp_path: Path, broker: str, endpoint: str) -> Path:
    readings = [
        {"station": str(s), "t": str(hour + s / 100), "at": f"2024-11-14T{hour:02d}:00:00Z"}
        for hour in range(HOURS)
        for s in range(STATIONS)
    ]
    (tmp_path / "readings.json").write_text(json.dumps({"readings": readings}))
    config = tmp_path / "contextbridge.yaml"
    config.write_text(
        "feeds:\n"
        f"  - {{id: readings, mapping: {DATA / 'readings.yaml'}, source: {{file: readings.json}}, tenant: {TENANT}}}\n"
        f"broker: {{url: '{broker}', batch_size: 4, concurrency: 2}}\n"
        f"graph: {{endpoint: '{endpoint}'}}\n"
    )
    return config


def run(config: Path, state: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "contextbridge", "run", str(config), "--state", str(state)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})


def test_history_killed_mid_delivery_reaches_both_sinks_whole_and_in_order(
    tmp_path: Path, oxigraph_server: str
) -> None:
    async def clear() -> None:
        store = EndpointStore(oxigraph_server)
        await store.clear(tenant=TENANT)
        await store.close()

    asyncio.run(clear())
    double = BrokerDouble(multiservice=True)  # the feed names a tenant
    double.faults.latency = 0.02
    state = tmp_path / "state"
    with serve(double) as url:
        config = write_config(tmp_path, url, oxigraph_server)
        for kill in range(KILLS):
            process = run(config, state)
            deadline = time.monotonic() + 60
            while len(double.writes) < (kill + 1) * 20 and process.poll() is None:
                assert time.monotonic() < deadline, "run did not start delivering"
                time.sleep(0.005)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        assert len(double.writes) < STATIONS * HOURS, "the kills came before the end of delivery"
        final = run(config, state)
        _, err = final.communicate(timeout=180)
        assert final.returncode == 0, err.decode()

    for station in range(STATIONS):
        entity_id = f"urn:ngsi-ld:WeatherObserved:test:{station}"
        sent = [w[2]["temperature"]["value"] for w in double.writes if w[1] == entity_id]
        collapsed = [v for i, v in enumerate(sent) if i == 0 or v != sent[i - 1]]  # a resent request
        assert collapsed == [hour + station / 100 for hour in range(HOURS)], entity_id
        assert len(sent) - len(collapsed) <= KILLS * 2
    query = with_prefixes(
        "SELECT ?station (COUNT(?o) AS ?n) (MAX(?t) AS ?last) WHERE { ?o a sosa:Observation ; "
        "sosa:hasFeatureOfInterest ?station ; sosa:resultTime ?t } GROUP BY ?station"
    )

    async def ask() -> dict[str, tuple[int, str]]:
        store = EndpointStore(oxigraph_server)
        try:
            result = await store.query(query, tenant=TENANT)
        finally:
            await store.close()
        return {str(s.value): (int(n.value), str(t.value)) for s, n, t in result.rows}  # type: ignore[union-attr]

    counts = asyncio.run(ask())
    assert counts == {
        f"urn:ngsi-ld:WeatherObserved:test:{s}": (HOURS, "2024-11-14T23:00:00Z") for s in range(STATIONS)
    }
