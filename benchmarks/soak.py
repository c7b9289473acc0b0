"""Soak: an hour of simulated city traffic through a real ``contextbridge serve``, at a steady rate.

    python benchmarks/soak.py [--duration 3600] [--rate 200] [--output soak-results]

Everything runs on loopback, in processes of its own:

- Mosquitto (started here, as ``mqtt_load.py`` does) and a publisher process that sends a steady
  ``--rate`` of records spread over a simulated Santander: 1,000 parking spots, 25 environment
  nodes and 25 SenML weather stations over MQTT, 300 LoRaWAN waste containers through a webhook
  (The Things Stack's webhook integration). Each source re-reports with new values, shaped like
  the example payloads (``examples/santander/``) and read by the project's own mappings;
- ``contextbridge serve`` with those four feeds, the embedded city graph, and Orion-LD;
- the Orion-LD double (``tests/broker_double.py``), here recording when each entity version lands.

Each record's timestamp (``dc:modified``, ``received_at``, SenML ``bt``) is its send time, to the
millisecond; the mappings make it every attribute's ``observedAt``, and the double reads it back
as the version lands: record → broker latency. Every 10 s the serve process's resident memory is
read from ``/proc``. Printed: a row per window (``--window``, 5 minutes) and a summary (sent vs
delivered after a drain wait, throughput, latency, memory and its slope over the last two thirds
of the run). Written under ``--output``: ``samples.csv`` (every 10 s, as the run goes),
``minutes.csv`` (latency per minute), ``summary.json``, ``serve.log``.
Exit status 1 when a version sent is not accounted for (delivered, or superseded by a newer one
before it was sent), or serve did not stop cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
sys.path.insert(0, str(BENCHMARKS))
import mqtt_load  # noqa: E402  (its Mosquitto, on its free port)
from loopback import free_port  # noqa: E402

HOST = mqtt_load.HOST
WEBHOOK_KEY = "soak-webhook-key-0123456789"
SAMPLE_EVERY = 10.0
CITY = {"parking": 1000, "environment": 25, "weather": 25, "waste": 300}
ENTITIES_PER_RECORD = {"parking": 2, "environment": 3, "weather": 1, "waste": 2}
STREETS = ["Calle Daoíz y Velarde", "Paseo de Pereda", "Calle Peñacastillo", "Calle Burgos",
           "Calle Castelar", "Calle Cádiz", "Calle Hernán Cortés", "Calle Vargas",
           "Calle Jesús de Monasterio", "Avenida de los Castros"]  # fmt: skip


def config_yaml(mqtt_port: int, broker_url: str) -> str:
    mappings = ROOT / "mappings"
    mqtt = f"mqtt://{HOST}:{mqtt_port}"
    return f"""
feeds:
  - id: parking
    mapping: {mappings / "santander-parking.yaml"}
    source: {{mqtt: {{url: "{mqtt}", topic: "soak/parking/+sensor", qos: 1}}}}
  - id: environment
    mapping: {mappings / "santander-environment.yaml"}
    source: {{mqtt: {{url: "{mqtt}", topic: "soak/environment/+node", qos: 1}}}}
  - id: weather
    mapping: {mappings / "santander-weather-senml.yaml"}
    source: {{mqtt: {{url: "{mqtt}", topic: "soak/weather/+station", qos: 1}}}}
  - id: waste
    mapping: {mappings / "santander-waste-lorawan.yaml"}
    source: {{webhook: {{api_key: "${{SOAK_WEBHOOK_KEY}}"}}}}
broker:
  url: {broker_url}
  tenant: santander
"""


# --- the city: what each source sends ---------------------------------------------------------


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class City:
    """Every source's state; ``message(kind, number, now)`` its next report as (topic, body)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        r = self.random
        self.places = {
            kind: [(43.455 + r.random() * 0.02, -3.83 + r.random() * 0.05) for _ in range(count)]
            for kind, count in CITY.items()
        }
        self.occupied = [r.random() < 0.6 for _ in range(CITY["parking"])]
        self.battery = [r.uniform(60, 100) for _ in range(CITY["parking"])]
        self.fill = [r.uniform(0, 90) for _ in range(CITY["waste"])]

    def message(self, kind: str, number: int, now: float) -> tuple[str, bytes]:
        r, (lat, lon) = self.random, self.places[kind][number]
        if kind == "parking":
            if r.random() < 0.3:
                self.occupied[number] = not self.occupied[number]
            self.battery[number] = max(5.0, self.battery[number] - 0.01)
            sensor = str(3000 + number)
            record = {"ayto:idSensor": sensor, "ayto:estado": "1" if self.occupied[number] else "0",
                      "ayto:latitude": f"{lat:.5f}", "ayto:longitude": f"{lon:.5f}",
                      "ayto:zona": "Centro" if number % 3 else "Ensanche",
                      "ayto:calle": STREETS[number % len(STREETS)],
                      "ayto:bateria": f"{self.battery[number]:.0f}", "dc:modified": iso(now),
                      "dc:identifier": sensor,
                      "uri": f"http://datos.santander.es/api/datos/sensores_smart_parking/{sensor}.json"}  # fmt: skip
            return f"soak/parking/{sensor}", json.dumps({"resources": [record]}).encode()
        if kind == "environment":
            node = str(400 + number)
            record = {"ayto:type": "environment", "ayto:noise": f"{r.uniform(40, 85):.1f}",
                      "ayto:battery": f"{r.uniform(50, 100):.1f}", "ayto:latitude": f"{lat:.5f}",
                      "ayto:temperature": f"{r.uniform(8, 24):.2f}", "dc:modified": iso(now),
                      "dc:identifier": node, "ayto:longitude": f"{lon:.5f}",
                      "ayto:light": f"{r.uniform(0, 900):.1f}",
                      "uri": f"http://datos.santander.es/api/datos/sensores_smart_env_monitoring/{node}.json"}  # fmt: skip
            return f"soak/environment/{node}", json.dumps({"resources": [record]}).encode()
        if kind == "weather":
            base = f"urn:dev:mac:0024befffe80{number:04x}:"
            pack = [{"bn": base, "bt": round(now, 3), "n": "lat", "u": "lat", "v": round(lat, 5)},
                    {"n": "lon", "u": "lon", "v": round(lon, 5)},
                    {"n": "temperature", "u": "Cel", "v": round(r.uniform(8, 24), 1)},
                    {"n": "humidity", "u": "%RH", "v": round(r.uniform(60, 95), 1)},
                    {"n": "pressure", "u": "Pa", "v": round(r.uniform(100500, 102500))},
                    {"n": "windSpeed", "u": "m/s", "v": round(r.uniform(0, 15), 1)}]  # fmt: skip
            return f"soak/weather/{number}", json.dumps(pack).encode()
        self.fill[number] += r.uniform(0, 3)
        if self.fill[number] > 95:  # the truck came
            self.fill[number] = r.uniform(0, 5)
        device = f"sdr-cont-{number:04d}"
        uplink = {"end_device_ids": {"device_id": device,
                                     "application_ids": {"application_id": "santander-residuos"},
                                     "dev_eui": f"70B3D57ED005{number:04X}"},
                  "received_at": iso(now),
                  "uplink_message": {"f_port": 2, "decoded_payload": {
                      "distance_cm": round(130 - self.fill[number]), "fill_percent": round(self.fill[number]),
                      "battery_mv": 3600, "temperature": round(r.uniform(5, 25), 1)},
                      "locations": {"user": {"latitude": lat, "longitude": lon, "altitude": 12,
                                             "source": "SOURCE_REGISTRY"}},
                      "received_at": iso(now)}}  # fmt: skip
        return "/feeds/waste", json.dumps(uplink).encode()


async def publisher(mqtt_port: int, webhook_url: str, rate: float, duration: float, seed: int) -> None:
    """Send ``rate`` records a second for ``duration`` seconds; a JSON progress line every second."""
    import logging

    import aiomqtt

    city = City(seed)
    sources = [(kind, number) for kind, count in CITY.items() for number in range(count)]
    city.random.shuffle(sources)
    sent = dict.fromkeys(CITY, 0)
    failed = 0
    in_flight: set[asyncio.Task[None]] = set()
    limit = asyncio.Semaphore(200)
    quiet = logging.getLogger("soak.publisher")
    quiet.setLevel(logging.ERROR)

    async def send(kind: str, topic: str, body: bytes) -> None:
        nonlocal failed
        async with limit:
            try:
                if kind == "waste":
                    for _ in range(10):  # 503 + Retry-After: the feed asks us to wait
                        answer = await http.post(webhook_url, content=body, headers=headers)
                        if answer.status_code != 503:
                            break
                        await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
                    if answer.status_code != 202:
                        failed += 1
                        return
                else:
                    await client.publish(topic, body, qos=1)
            except (httpx.HTTPError, aiomqtt.MqttError):
                failed += 1
                return
            sent[kind] += 1

    headers = {"X-Api-Key": WEBHOOK_KEY, "Content-Type": "application/json"}
    async with (
        aiomqtt.Client(HOST, mqtt_port, max_inflight_messages=1000, logger=quiet) as client,
        httpx.AsyncClient(timeout=30) as http,
    ):
        started = time.time()
        scheduled, next_report = 0, started + 1
        while (now := time.time()) < started + duration:
            due = min(int((now - started) * rate), int(duration * rate))
            while scheduled < due:
                kind, number = sources[scheduled % len(sources)]
                topic, body = city.message(kind, number, time.time())
                task = asyncio.create_task(send(kind, topic, body))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                scheduled += 1
            if now >= next_report:
                report(sent, failed, scheduled, now)
                next_report += 1
            await asyncio.sleep(0.01)
        if in_flight:
            await asyncio.wait(in_flight)
        report(sent, failed, scheduled, time.time(), final=True)


def report(sent: dict[str, int], failed: int, scheduled: int, now: float, *, final: bool = False) -> None:
    entities = sum(count * ENTITIES_PER_RECORD[kind] for kind, count in sent.items())
    line = {"t": now, "records": sum(sent.values()), "entities": entities, "by_feed": sent,
            "failed": failed, "scheduled": scheduled, "final": final}  # fmt: skip
    print(json.dumps(line), flush=True)


# --- the Orion-LD double, recording when each version lands ------------------------------------


def run_double(port: int) -> None:
    """The broker double (in this process) with ``GET /soak/latencies``: (sent, received) pairs
    since the last call, flattened, plus the count of versions that arrived twice or out of order."""
    sys.path.insert(0, str(ROOT / "tests"))
    from broker_double import BrokerDouble, serve
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    class RecordingDouble(BrokerDouble):
        def __post_init__(self) -> None:
            super().__post_init__()
            self.app.router.routes.append(Route("/soak/latencies", self.latencies, methods=["GET"]))
            self.pairs = array("d")
            self.latest: dict[str, float] = {}
            self.repeated = 0

        async def upsert(self, request: Request) -> Response:
            response = await super().upsert(request)
            received = time.time()
            for _tenant, entity_id, entity in self.writes:
                sent = observed_at(entity)
                if sent is None:
                    continue
                if self.latest.get(entity_id, -1.0) >= sent:
                    self.repeated += 1
                    continue
                self.latest[entity_id] = sent
                self.pairs.extend((sent, received))
            self.writes.clear()  # bounded memory: the store keeps only each entity's latest state
            self.requests.clear()
            return response

        async def latencies(self, request: Request) -> Response:
            pairs, self.pairs = self.pairs, array("d")
            body = {"pairs": pairs.tolist(), "repeated": self.repeated, "entities": len(self.latest)}
            return Response(json.dumps(body), media_type="application/json")

    with serve(RecordingDouble(), port=port):
        while True:
            time.sleep(3600)


def observed_at(entity: dict[str, Any]) -> float | None:
    for value in entity.values():
        if isinstance(value, dict) and "observedAt" in value:
            return datetime.fromisoformat(value["observedAt"]).timestamp()
    return None


# --- the run -----------------------------------------------------------------------------------


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start (exit {process.poll()})") from None
            time.sleep(0.1)


@contextmanager
def process(command: list[str], *, port: int, what: str, **options: Any) -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen(command, **options)
    try:
        wait_for_port(port, child, what)
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def metrics(text: str) -> dict[str, float]:
    """``name{labels}`` → value, for the lines of a Prometheus text page we read."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("contextbridge_") and not line.startswith("contextbridge_delivery_latency"):
            name, _, value = line.rpartition(" ")
            values[name.replace("_total{", "{")] = float(value)  # counters by their family's name
    return values


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) in MB/hour."""
    if len(points) < 2:
        return math.nan
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3600 if spread else math.nan


class Soak:
    """The samples of a run, and their tables."""

    def __init__(self, output: Path, window: float) -> None:
        self.output, self.window = output, window
        self.started = time.time()
        self.latency_by_minute: dict[int, array[float]] = {}
        self.rows: list[dict[str, Any]] = []
        self.sent = {"records": 0, "entities": 0, "failed": 0, "scheduled": 0}
        self.repeated = 0
        self.samples = (output / "samples.csv").open("w", newline="")
        self.writer: csv.DictWriter[str] | None = None
        self.reported_windows = 0

    def take(self, pairs: list[float]) -> None:
        for index in range(0, len(pairs), 2):
            sent, received = pairs[index], pairs[index + 1]
            minute = int((received - self.started) // 60)
            self.latency_by_minute.setdefault(minute, array("d")).append(received - sent)

    def sample(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if self.writer is None:
            self.writer = csv.DictWriter(self.samples, fieldnames=list(row))
            self.writer.writeheader()
        self.writer.writerow(row)
        self.samples.flush()

    def latencies(self, start: float, end: float) -> list[float]:
        """Latencies of the versions received in [start, end) seconds of the run (whole minutes)."""
        chosen: list[float] = []
        for minute, values in self.latency_by_minute.items():
            if start <= minute * 60 < end:
                chosen.extend(values)
        return sorted(chosen)

    def window_row(self, index: int) -> str:
        start, end = index * self.window, (index + 1) * self.window
        inside = [row for row in self.rows if start < row["t"] <= end]
        before = [row for row in self.rows if row["t"] <= start]
        if not inside:
            return ""
        first, last = (before[-1] if before else None), inside[-1]
        records = last["records_sent"] - (first["records_sent"] if first else 0)
        delivered = last["versions_delivered"] - (first["versions_delivered"] if first else 0)
        seconds = last["t"] - (first["t"] if first else 0)
        ordered = self.latencies(start, end)
        return (
            f"  {start / 60:5g}–{end / 60:<5g} {records:>10,} {delivered:>12,} {delivered / seconds:>10,.1f}"
            f" {percentile(ordered, 0.5) * 1000:>8.0f} {percentile(ordered, 0.99) * 1000:>8.0f}"
            f" {last['rss_mb']:>8.1f}"
        )

    def print_windows(self, *, final: bool = False) -> None:
        elapsed = self.rows[-1]["t"] if self.rows else 0
        while (self.reported_windows + 1) * self.window <= elapsed or (
            final and self.reported_windows * self.window < elapsed
        ):
            if line := self.window_row(self.reported_windows):
                print(line, flush=True)
            self.reported_windows += 1


WINDOW_HEADER = (
    f"  {'minutes':11} {'records':>10} {'entities':>12} {'ent/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>8}\n"
    f"  {'':11} {'sent':>10} {'delivered':>12}"
)


async def read_progress(stream: asyncio.StreamReader, soak: Soak) -> None:
    while line := await stream.readline():
        progress = json.loads(line)
        for key in soak.sent:
            soak.sent[key] = progress[key]
        soak.sent["by_feed"] = progress["by_feed"]


async def run(args: argparse.Namespace) -> int:
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    soak = Soak(output, args.window)
    state = Path(tempfile.mkdtemp(prefix="soak-state-"))
    broker_port, serve_port = free_port(), free_port()
    broker_url = f"http://{HOST}:{broker_port}"
    config = state / "soak.yaml"
    config.write_text(config_yaml(mqtt_load.PORT, broker_url))
    print(
        f"soak: {args.duration:.0f} s at {args.rate:g} records/s over a simulated Santander "
        f"({', '.join(f'{count:,} {kind}' for kind, count in CITY.items())}), started "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n"
        f"  contextbridge serve (4 feeds: MQTT parking/environment/weather, webhook waste; embedded graph; "
        f"Orion-LD double), Mosquitto and a publisher process, all on loopback; "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}\n"
        f"  the machine is shared: other test suites may run at the same time, so latency and CPU "
        f"include their load\n"
        f"  state {state}, results {output}\n",
        flush=True,
    )
    serve_log = (output / "serve.log").open("wb")
    double = [sys.executable, __file__, "--broker-double", str(broker_port)]
    serve = [sys.executable, "-m", "contextbridge", "serve", str(config), "--state", str(state / "state"),
             "--port", str(serve_port), "--log-level", "warning"]  # fmt: skip
    env = {**os.environ, "SOAK_WEBHOOK_KEY": WEBHOOK_KEY}
    with (
        mqtt_load.mosquitto(),
        process(double, port=broker_port, what="broker double"),
        process(
            serve,
            port=serve_port,
            what="contextbridge serve",
            env=env,
            stdout=serve_log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        ) as served,  # fmt: skip
        httpx.Client(base_url=f"http://{HOST}:{serve_port}", timeout=30) as client,
        httpx.Client(base_url=broker_url, timeout=30) as broker,
    ):
        for _ in range(300):  # the feeds subscribed
            if client.get("/ready").status_code == 200:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        soak.started = time.time()
        publish = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--publish", str(mqtt_load.PORT),
            f"http://{HOST}:{serve_port}/feeds/waste", str(args.rate), str(args.duration), str(args.seed),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert publish.stdout is not None
        reader = asyncio.create_task(read_progress(publish.stdout, soak))
        print(WINDOW_HEADER, flush=True)
        drain_deadline: float | None = None
        cpu_before, versions, drained, last = cpu_seconds(served.pid), 0, False, {}
        while True:
            await asyncio.sleep(SAMPLE_EVERY - (time.time() - soak.started) % SAMPLE_EVERY)
            latencies = broker.get("/soak/latencies").json()
            soak.take(latencies["pairs"])
            versions += len(latencies["pairs"]) // 2
            soak.repeated = latencies["repeated"]
            last = metrics(client.get("/metrics").text)
            cpu = cpu_seconds(served.pid)
            soak.sample({
                "t": round(time.time() - soak.started, 1),
                "records_sent": soak.sent["records"], "entities_sent": soak.sent["entities"],
                "versions_delivered": versions,
                "graph_delivered": int(last.get('contextbridge_outbox_delivered{sink="graph"}', 0)),
                "graph_superseded": int(last.get('contextbridge_outbox_superseded{sink="graph"}', 0)),
                "broker_superseded": int(last.get('contextbridge_outbox_superseded{sink="broker"}', 0)),
                "outbox_depth_broker": int(last.get('contextbridge_outbox_pending{sink="broker"}', 0)),
                "outbox_depth_graph": int(last.get('contextbridge_outbox_pending{sink="graph"}', 0)),
                "rss_mb": round(rss_mb(served.pid), 1), "cpu_percent": round((cpu - cpu_before) / SAMPLE_EVERY * 100, 1),
                "state_mb": round(disk_mb(state), 1),
            })  # fmt: skip
            cpu_before = cpu
            soak.print_windows()
            if publish.returncode is None and reader.done():
                await publish.wait()
            if publish.returncode is not None and drain_deadline is None:
                drain_deadline = time.time() + args.drain_timeout
            if drain_deadline is not None:
                row = soak.rows[-1]
                if row["outbox_depth_broker"] == row["outbox_depth_graph"] == 0 and settled(row, soak.sent):
                    drained = True
                    break
                if time.time() > drain_deadline:
                    break
        stopped = time.time()
        served.send_signal(signal.SIGTERM)
        exit_code = served.wait(60)
    serve_log.close()
    soak.print_windows(final=True)
    return summarize(soak, args, drained, exit_code, stopped, last)


def settled(row: dict[str, Any], sent: dict[str, Any]) -> bool:
    """Every entity version sent is accounted for in both sinks: delivered, or dropped by the
    outbox for a newer version of the same entity before it was sent (the sinks keep the latest)."""
    versions = sent["entities"]
    broker = row["versions_delivered"] + row["broker_superseded"]
    return broker >= versions and row["graph_delivered"] + row["graph_superseded"] >= versions


def summarize(soak: Soak, args: argparse.Namespace, drained: bool, exit_code: int, stopped: float,
              last: dict[str, float]) -> int:  # fmt: skip
    rows = soak.rows
    ordered = soak.latencies(0, math.inf)
    sent, delivered = soak.sent["entities"], rows[-1]["versions_delivered"]
    rss = [(row["t"], row["rss_mb"]) for row in rows if row["t"] <= args.duration + SAMPLE_EVERY]
    tail = [point for point in rss if point[0] >= args.duration / 3]
    slope = slope_per_hour(tail)
    rejected = sum(v for k, v in last.items() if k.startswith("contextbridge_records_rejected"))
    summary = {
        "duration_s": args.duration, "rate": args.rate, "records_sent": soak.sent["records"],
        "records_failed": soak.sent["failed"], "records_by_feed": soak.sent.get("by_feed"),
        "entities_sent": sent, "versions_delivered_broker": delivered,
        "superseded_broker": rows[-1]["broker_superseded"], "repeated_broker": soak.repeated,
        "delivered_graph": rows[-1]["graph_delivered"],
        "superseded_graph": rows[-1]["graph_superseded"], "records_rejected": rejected,
        "drained": drained, "drain_seconds": round(stopped - soak.started - args.duration, 1),
        "throughput_entities_per_s": delivered / args.duration,
        "latency_ms": {"p50": percentile(ordered, 0.5) * 1000, "p99": percentile(ordered, 0.99) * 1000,
                       "max": (ordered[-1] * 1000) if ordered else math.nan},
        "rss_mb": {"start": rss[0][1], "end": rss[-1][1], "max": max(v for _, v in rss)},
        "rss_slope_mb_per_hour": slope, "flat": abs(slope) < args.flat_threshold,
        "flat_threshold_mb_per_hour": args.flat_threshold, "serve_exit": exit_code,
        "state_mb_end": rows[-1]["state_mb"],
    }  # fmt: skip
    minutes = [
        {
            "minute": minute,
            "versions": len(values),
            "p50_ms": percentile(sorted(values), 0.5) * 1000,
            "p99_ms": percentile(sorted(values), 0.99) * 1000,
            "max_ms": max(values) * 1000,
        }
        for minute, values in sorted(soak.latency_by_minute.items())
    ]
    with (soak.output / "minutes.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["minute", "versions", "p50_ms", "p99_ms", "max_ms"])
        writer.writeheader()
        writer.writerows(
            {k: round(v, 1) if isinstance(v, float) else v for k, v in m.items()} for m in minutes
        )
    (soak.output / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    accounted = delivered + rows[-1]["broker_superseded"] - soak.repeated
    equal = accounted == sent and rows[-1]["graph_delivered"] + rows[-1]["graph_superseded"] == sent
    latency, memory = summary["latency_ms"], summary["rss_mb"]
    print(
        f"\nsummary\n"
        f"  records sent {soak.sent['records']:,} ({soak.sent['failed']} failed to send), "
        f"rejected {rejected:.0f}; entity versions sent {sent:,}\n"
        f"  delivered to the broker {delivered:,} (+ superseded in the outbox "
        f"{summary['superseded_broker']:,}, - repeated {soak.repeated}), to the graph "
        f"{summary['delivered_graph']:,} (+ superseded {summary['superseded_graph']:,}): "
        f"{'every version accounted for' if equal else 'NOT EQUAL to what was sent'}; "
        f"drained {summary['drain_seconds']} s after the last send\n"
        f"  throughput {summary['throughput_entities_per_s']:,.1f} entities/s "
        f"({soak.sent['records'] / args.duration:,.1f} records/s)\n"
        f"  record → broker latency p50 {latency['p50']:.0f} ms, p99 {latency['p99']:.0f} ms, "
        f"max {latency['max']:.0f} ms\n"
        f"  serve RSS start {memory['start']:.1f} MB, end {memory['end']:.1f} MB, max {memory['max']:.1f} MB; "
        f"slope over the last 2/3 {slope:+.1f} MB/hour "
        f"({'flat' if summary['flat'] else 'GROWING'}, threshold {args.flat_threshold:g} MB/hour)\n"
        f"  state directory {summary['state_mb_end']:.0f} MB; serve exit {exit_code}\n"
        f"  samples: {soak.output / 'samples.csv'}, {soak.output / 'minutes.csv'}, "
        f"{soak.output / 'summary.json'}",
        flush=True,
    )
    return 0 if equal and drained and exit_code == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=3600, help="seconds of traffic (default 3600)")
    parser.add_argument("--rate", type=float, default=200, help="records per second (default 200)")
    parser.add_argument("--output", type=Path, default=Path("soak-results"), help="directory for the results")
    parser.add_argument("--window", type=float, default=300, help="seconds per table row (default 300)")
    parser.add_argument("--drain-timeout", type=float, default=300, help="seconds to wait for the drain")
    parser.add_argument("--flat-threshold", type=float, default=10, help="MB/hour under which RSS is flat")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--publish", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--broker-double", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.broker_double:
        run_double(args.broker_double)
    elif args.publish:
        port, url, rate, duration, seed = args.publish
        asyncio.run(publisher(int(port), url, float(rate), float(duration), int(seed)))
    else:
        sys.exit(asyncio.run(run(args)))
