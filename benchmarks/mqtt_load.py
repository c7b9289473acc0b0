"""MQTT load: messages per second end to end, into the outbox and on into the broker, with memory.

    python benchmarks/mqtt_load.py [--messages 100000]

Needs the ``mosquitto`` program: the benchmark starts its own broker on a free loopback port,
with no limit on the messages it queues per client (the stock limit, 1,000, drops QoS 1 messages
when a subscriber falls behind a publisher that runs ahead, as this one does). A separate
process publishes the messages (QoS 1) as fast as Mosquitto takes them, each a thin sensor
reading on ``bench/<run>/<device>/attrs``. Measured in the same run:

1. baseline: a bare aiomqtt subscriber (QoS 1) that only counts the messages;
2. contextbridge into the outbox: ``FeedRunner`` on an ``MqttSource`` (named topic level, JSON
   payload, mapping, validation) writing to the SQLite outbox, messages acked once stored;
3. contextbridge into the broker: the same, plus the ``Adapter``'s drainer delivering to the
   Orion-LD double (another process, loopback) while messages arrive, until all are delivered.

Rates count from the first message received to the last one stored (or delivered), and so does
the CPU time of this process per message (its threads included, not the other processes': the
machine's cores are shared by the publisher, Mosquitto, the Orion-LD double and this one). The
resident memory of this process is sampled every half second: flat means the peak stays near
the start whatever the number of messages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiomqtt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback import broker_double, free_port

from contextbridge.language.mapping import load_mapping
from contextbridge.outbox import open_outbox
from contextbridge.runtime.adapter import Adapter
from contextbridge.runtime.feedrunner import FeedRunner
from contextbridge.sinks.broker import BrokerClient
from contextbridge.sources import MqttSource

HOST = "127.0.0.1"
PORT = free_port()
MOSQUITTO_CONF = f"""
listener {PORT} {HOST}
allow_anonymous true
persistence false
max_queued_messages 0
log_dest none
"""
MAPPING = """
id: bench-sensors
source: {format: json}
entities:
  - id: "urn:ngsi-ld:WeatherObserved:bench:{_source.device}"
    type: WeatherObserved
    observedAt: {from: time, format: iso8601}
    attributes:
      temperature: {from: t, cast: float, unitCode: CEL}
      relativeHumidity: {from: h, cast: float, scale: 0.01, range: [0, 1]}
"""


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Memory:
    """Samples this process's resident memory while a run lasts; ``warm``: once a tenth has passed
    (imports, compiled mappings, caches and buffers are then in place: flat means no growth after)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.warm: float | None = None

    async def watch(self) -> None:
        while True:
            self.samples.append(rss_mb())
            await asyncio.sleep(0.5)

    def __str__(self) -> str:
        if not self.samples:
            return ""
        warm = self.warm if self.warm is not None else self.samples[0]
        return (
            f"memory {self.samples[0]:.0f} MB at start, {warm:.0f} MB warm, "
            f"peak {max(self.samples):.0f} MB, end {self.samples[-1]:.0f} MB"
        )


def publish(topic: str, count: int) -> subprocess.Popen[bytes]:
    """Start the publisher process (after the subscriber is ready)."""
    return subprocess.Popen([sys.executable, __file__, "--publish", topic, str(count), str(PORT)])


async def publisher(topic: str, count: int) -> None:
    quiet = logging.getLogger("bench.publisher")  # aiomqtt warns of every publish beyond ten in flight
    quiet.setLevel(logging.ERROR)
    async with aiomqtt.Client(HOST, PORT, max_inflight_messages=1000, logger=quiet) as client:
        for start in range(0, count, 500):  # 500 in flight: not one round trip per message
            await asyncio.gather(
                *(
                    client.publish(
                        topic.replace("+", f"d{number}"),
                        b'{"t": %d.5, "h": 55, "time": "2026-11-25T10:00:00Z"}' % (number % 40),
                        qos=1,
                    )
                    for number in range(start, min(start + 500, count))
                )
            )


async def bare(topic: str, count: int) -> tuple[float, float]:
    async with aiomqtt.Client(HOST, PORT, max_queued_incoming_messages=0) as client:
        await client.subscribe(topic, qos=1)
        process = publish(topic, count)
        received, first, cpu = 0, 0.0, 0.0
        async for _ in client.messages:
            received += 1
            if received == 1:
                first, cpu = time.perf_counter(), time.process_time()
            if received == count:
                break
        seconds = time.perf_counter() - first
        cpu = time.process_time() - cpu
    process.wait()
    return count / seconds, 1e6 * cpu / count


async def ours(topic: str, count: int, state: Path, broker_url: str | None) -> tuple[float, float, Memory]:
    outbox = open_outbox(state, sinks=("broker",))
    mapping_file = state / "bench.yaml"
    mapping_file.write_text(MAPPING)
    source = MqttSource(f"mqtt://{HOST}:{PORT}", [topic.replace("/+/", "/+device/")], qos=1)
    feed = FeedRunner("bench", source, load_mapping(mapping_file), outbox)
    memory = Memory()
    watcher = asyncio.create_task(memory.watch())
    async with BrokerClient(broker_url or "http://unused") as broker:
        adapter = Adapter(outbox, [feed], {"broker": broker} if broker_url else {})
        running = asyncio.create_task(adapter.run())
        await asyncio.sleep(0.5)  # subscribed
        process = publish(topic, count)
        first, cpu = None, time.process_time()
        while True:
            await asyncio.sleep(0.05)
            if first is None and feed.stats.messages:
                first, cpu = time.perf_counter(), time.process_time()
            done = adapter.delivery["broker"].delivered if broker_url else feed.stats.stored
            if memory.warm is None and done >= count // 10:
                memory.warm = rss_mb()
            if done >= count:
                break
        seconds = time.perf_counter() - (first or time.perf_counter())
        cpu = time.process_time() - cpu
        await adapter.stop()
        await running
    process.wait()
    watcher.cancel()
    await outbox.close()
    return count / seconds, 1e6 * cpu / count, memory


@contextlib.contextmanager
def mosquitto() -> Iterator[None]:
    with tempfile.TemporaryDirectory() as directory:
        conf = Path(directory) / "mosquitto.conf"
        conf.write_text(MOSQUITTO_CONF)
        broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)])
        try:
            for _ in range(100):
                try:
                    socket.create_connection((HOST, PORT), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield
        finally:
            broker.terminate()
            broker.wait(10)


async def main(count: int) -> None:
    run = uuid.uuid4().hex[:8]
    print(f"{count:,} MQTT messages (QoS 1), Mosquitto on loopback, one publisher process")
    baseline, cpu = await bare(f"bench/{run}/a/+/attrs", count)
    print(
        f"  bare aiomqtt subscriber (baseline)        {baseline:10,.0f} msg/s   1.00×   {cpu:4.0f} µs CPU/msg"
    )
    with tempfile.TemporaryDirectory() as directory:
        rate, cpu, memory = await ours(f"bench/{run}/b/+/attrs", count, Path(directory), None)
    print(
        f"  contextbridge into the outbox             {rate:10,.0f} msg/s   {rate / baseline:.2f}×"
        f"   {cpu:4.0f} µs CPU/msg   {memory}"
    )
    with broker_double() as url, tempfile.TemporaryDirectory() as directory:
        rate, cpu, memory = await ours(f"bench/{run}/c/+/attrs", count, Path(directory), url)
    print(
        f"  contextbridge into the broker double      {rate:10,.0f} msg/s   {rate / baseline:.2f}×"
        f"   {cpu:4.0f} µs CPU/msg   {memory}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--publish", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        PORT = int(args.publish[2])
        asyncio.run(publisher(args.publish[0], int(args.publish[1])))
    else:
        with mosquitto():
            asyncio.run(main(args.messages))
