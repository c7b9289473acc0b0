"""Scale-out on JetStream: messages per second with 1, 2 and 4 ``serve`` workers, and the ratio to one.

    python benchmarks/jetstream.py [--messages 20000] [--workers 1 2 4]

Needs ``nats-server`` and PostgreSQL's server binaries (the benchmark starts its own, as the tests
do, on free loopback ports) and starts the Orion-LD double in a process of its own. Each
configuration gets a stream of its own, a PostgreSQL database of its own (the outbox every worker
shares) and N ``contextbridge serve`` processes on one durable pull consumer. Once they are up,
``--messages`` thin sensor readings (1,000 devices) are published as fast as nats-server takes
them. Measured in the same run:

1. baseline: a bare nats-py pull consumer (fetch 100, ack each) that only counts the messages;
2. N workers: from the first publish until the consumer has nothing pending or unacked (every
   message stored in the outbox and acked: *stored*), and until the outbox has nothing left for the
   broker (*delivered*, into the double).

Everything shares this machine's cores with nats-server, PostgreSQL and the double: read the
ratios, not the absolute rates, and compare them with ``os.cpu_count()`` printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import nats
import orjson
import psycopg
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from loopback import broker_double, free_port
from services import nats_server, postgres_server

from contextbridge.outbox import open_outbox

DEVICES = 1000
MAPPING = """
id: bench-sensors
source: {format: json}
entities:
  - id: "urn:ngsi-ld:WeatherObserved:bench:{_source.device}"
    type: WeatherObserved
    observedAt: {from: time, format: iso8601}
    attributes:
      temperature: {from: t, cast: float, unitCode: CEL}
"""


def payload(number: int) -> bytes:
    second = number // DEVICES
    return orjson.dumps(
        {
            "t": number % 40,
            "time": f"2026-11-25T{10 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z",
        }
    )


async def publish(url: str, prefix: str, messages: int) -> None:
    """Core NATS publishes (the stream stores them), flushed: as fast as nats-server takes them."""
    client = await nats.connect(url)
    try:
        for number in range(messages):
            await client.publish(f"{prefix}.d{number % DEVICES}.attrs", payload(number))
            if number % 1000 == 999:
                await client.flush()
        await client.flush()
    finally:
        await client.close()


async def add_stream(url: str, stream: str, prefix: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().add_stream(StreamConfig(name=stream, subjects=[f"{prefix}.>"]))
    finally:
        await client.close()


async def consumer_left(url: str, stream: str, durable: str) -> int:
    client = await nats.connect(url)
    try:
        info = await client.jetstream().consumer_info(stream, durable)
        return (info.num_pending or 0) + (info.num_ack_pending or 0)
    finally:
        await client.close()


async def baseline(url: str, messages: int) -> float:
    """A bare pull consumer: fetch 100, ack each, count; messages per second."""
    stream, prefix = "BASE", "base"
    await add_stream(url, stream, prefix)
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        await js.add_consumer(stream, ConsumerConfig(durable_name="bare", ack_policy=AckPolicy.EXPLICIT,
                                                     max_ack_pending=1000))  # fmt: skip
        subscription = await js.pull_subscribe_bind(durable="bare", stream=stream)
        started = time.perf_counter()
        publishing = asyncio.create_task(publish(url, prefix, messages))
        count = 0
        while count < messages:
            try:
                batch = await subscription.fetch(100, timeout=1)
            except nats.errors.TimeoutError:
                continue
            for message in batch:
                await message.ack()
            count += len(batch)
        await publishing
        return messages / (time.perf_counter() - started)
    finally:
        await client.close()


def workers(
    url: str, postgres: str, broker: str, count: int, messages: int, home: Path
) -> tuple[float, float]:
    """N serve processes on one durable consumer and one outbox; (stored, delivered) messages/s."""
    tag = uuid.uuid4().hex[:8]
    stream, prefix, database = f"W{count}{tag}", f"w{count}{tag}", f"bench_{count}_{tag}"
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    outbox_url = postgres.rsplit("/", 1)[0] + "/" + database
    (home / "sensors.yaml").write_text(MAPPING)
    config = home / f"workers-{count}.yaml"
    config.write_text(f"""
feeds:
  - id: sensors
    mapping: sensors.yaml
    source:
      jetstream: {{url: "{url}", subject: "{prefix}.*device.attrs", stream: {stream}, durable: workers}}
broker:
  url: {broker}
outbox:
  url: {outbox_url}
""")
    asyncio.run(add_stream(url, stream, prefix))
    processes: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        for n in range(count):  # one after the other: the first creates the database's schemas
            port = free_port()
            command = [sys.executable, "-m", "contextbridge", "serve", str(config), "--state",
                       str(home / f"s{count}-{n}"), "--port", str(port), "--log-level", "warning"]  # fmt: skip
            processes.append((subprocess.Popen(command, stdout=subprocess.DEVNULL), port))
            for _ in range(600):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        if dead := [process.args for process, _ in processes if process.poll() is not None]:
            raise SystemExit(f"a worker did not start: {dead}")
        time.sleep(3)  # the feeds bind to the consumer
        started = time.perf_counter()
        asyncio.run(publish(url, prefix, messages))
        while asyncio.run(consumer_left(url, stream, "workers")) > 0:
            time.sleep(0.1)
        stored = time.perf_counter() - started

        async def pending() -> int:
            outbox = open_outbox(outbox_url, sinks=("broker", "graph"))
            try:
                return await outbox.pending("broker")
            finally:
                await outbox.close()

        while asyncio.run(pending()) > 0:
            time.sleep(0.2)
        delivered = time.perf_counter() - started
        return messages / stored, messages / delivered
    finally:
        for process, _ in processes:
            process.send_signal(signal.SIGTERM)
        for process, _ in processes:
            process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    arguments = parser.parse_args()
    print(
        f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}, messages: {arguments.messages}"
    )
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="cb-bench-js-") as temporary:
        home = Path(temporary)
        (home / "nats").mkdir()
        url, _ = stack.enter_context(nats_server(home / "nats"))
        postgres = stack.enter_context(postgres_server())
        broker = stack.enter_context(broker_double())
        bare = asyncio.run(baseline(url, arguments.messages))
        print(f"bare nats-py pull consumer: {bare:,.0f} msg/s")
        one: float | None = None
        for count in arguments.workers:
            stored, delivered = workers(url, postgres, broker, count, arguments.messages, home)
            one = one or stored
            print(
                f"{count} worker(s): {stored:,.0f} msg/s stored ({stored / one:.2f}x one worker, "
                f"{stored / bare:.1%} of the bare consumer), {delivered:,.0f} msg/s delivered to the broker"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
