"""``contextbridge serve`` with live feeds: MQTT and a webhook into Orion-LD (the double) and the graph,
stopped by SIGTERM in the middle of a burst and started again, with nothing lost."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import aiomqtt
import httpx
from broker_double import BrokerDouble, serve
from processes import Served
from test_feeds import SENSOR_MAPPING, reading

from contextbridge import load_config

SERVICE_KEY = "service-key-for-the-tests-0123"
HOOK_KEY = "network-server-key-0123456"
HOOK_MAPPING = """
    id: hook-sensors
    source: {format: json}
    entities:
      - id: "urn:ngsi-ld:WeatherObserved:santander:{sensor}"
        type: WeatherObserved
        observedAt: {from: time, format: iso8601}
        attributes:
          temperature: {from: t, cast: float, unitCode: CEL}
"""


def config(tmp_path: Path, broker: str, mqtt: tuple[str, int], topic: str, client_id: str) -> Path:
    (tmp_path / "mqtt.yaml").write_text(SENSOR_MAPPING)
    (tmp_path / "hook.yaml").write_text(HOOK_MAPPING)
    path = tmp_path / "contextbridge.yaml"
    path.write_text(f"""
feeds:
  - id: sensors
    mapping: mqtt.yaml
    # a fixed client id and a session that outlives the connection: what was not acked is sent again
    source: {{mqtt: {{url: "mqtt://{mqtt[0]}:{mqtt[1]}", topic: "{topic}", qos: 1,
                      client_id: {client_id}, session_expiry: 600}}}}
  - id: hook
    mapping: hook.yaml
    source: {{webhook: {{api_key: "${{CB_TEST_HOOK_KEY}}"}}}}
broker:
  url: {broker}
service:
  metrics: {{feeds: true}}
  api_keys:
    - {{name: ops, key: "${{CB_TEST_SERVICE_KEY}}", tenants: "*", write: true}}
""")
    return path


def wait_for(condition: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        time.sleep(0.1)


def test_serve_stopped_mid_burst_loses_nothing_and_resumes(
    tmp_path: Path, mqtt_broker: tuple[str, int]
) -> None:
    base = f"contextbridge-test/{uuid.uuid4().hex}"
    count = 1200  # what arrives while the service is down stays under the 1,000 Mosquitto queues per session
    double = BrokerDouble()
    env = {"CB_TEST_SERVICE_KEY": SERVICE_KEY, "CB_TEST_HOOK_KEY": HOOK_KEY}

    async def publish(start: int, stop: int) -> None:
        async with aiomqtt.Client(*mqtt_broker) as client:
            for number in range(start, stop):
                await client.publish(f"{base}/s{number}/attrs", reading(number), qos=1)
                await asyncio.sleep(0.003)  # a steady flow, so that the stop falls in the middle

    with serve(double) as broker_url:
        path = config(
            tmp_path, broker_url, mqtt_broker, f"{base}/+device/attrs", f"cb-test-{uuid.uuid4().hex[:8]}"
        )
        served = Served(path, tmp_path / "state", env)
        try:
            hook = httpx.post(
                served.url + "/feeds/hook",
                json={"sensor": "hook-1", "t": 21.5, "time": "2026-11-25T10:00:00Z"},
                headers={"X-Api-Key": HOOK_KEY},
            )
            assert hook.status_code == 202, hook.text  # stored in the outbox before the answer
            refused = httpx.post(served.url + "/feeds/hook", json={}, headers={"X-Api-Key": "wrong-key"})
            assert (
                refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
            )
            wait_for(lambda: "urn:ngsi-ld:WeatherObserved:santander:hook-1" in double.entities(""))
            burst = threading.Thread(target=lambda: asyncio.run(publish(0, count)))
            burst.start()
            wait_for(lambda: len(double.entities("")) > 250)  # the burst is flowing
        finally:
            code, stderr = served.stop()  # SIGTERM in the middle of it
        assert code == 0, stderr
        assert len(double.entities("")) < count  # stopped before the end of the burst
        burst.join(60)  # the rest is published while contextbridge is down
        served = Served(path, tmp_path / "state", env)
        try:
            wanted = {f"urn:ngsi-ld:WeatherObserved:santander:s{n}" for n in range(count)}
            wait_for(lambda: wanted <= set(double.entities("")), 60)
            metrics = httpx.get(served.url + "/metrics").text
            assert 'contextbridge_messages_received_total{feed="sensors"}' in metrics
            observations = "SELECT (COUNT(?s) AS ?n) WHERE { ?s a <http://www.w3.org/ns/sosa/Observation> }"

            def in_graph() -> str:
                headers = {"X-API-Key": SERVICE_KEY, "Accept": "text/csv"}
                return httpx.post(served.url + "/sparql", data={"query": observations}, headers=headers).text

            wait_for(lambda: in_graph() == f"n\r\n{count + 1}\r\n")  # the graph drains the same outbox
        finally:
            code, stderr = served.stop()
        assert code == 0, stderr
    assert len(double.entities("")) == count + 1


def test_the_compose_configuration_loads() -> None:
    root = Path(__file__).resolve().parent.parent
    keys = {"CONTEXTBRIDGE_API_KEY": SERVICE_KEY, "CONTEXTBRIDGE_WEBHOOK_KEY": HOOK_KEY}
    config = load_config(root / "examples/compose/contextbridge.yaml", environ=keys)
    assert [feed.id for feed in config.feeds] == ["parking", "environment", "streetlights", "waste"]
    assert (
        config.broker is not None
        and config.broker.context == "http://contextbridge:8080/context.jsonld?type={type}"
    )
    assert "contextbridge serve" in (root / "examples/docker-compose.yml").read_text()
