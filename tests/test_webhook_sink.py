"""A plain HTTP/JSON webhook is a sink like the broker: batches POSTed, signed, retried, bisected.

Every test runs against a real HTTP server (uvicorn on a free loopback port) that records what it
receives and answers as it is told to.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson
import pytest
from broker_double import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner

from contextbridge import Drainer, DrainSettings, MappingError, RetryPolicy, load_config, open_outbox
from contextbridge.cli import app
from contextbridge.remote.auth import BearerToken
from contextbridge.sinks.webhook import SIGNATURE, WebhookSink

ROOT = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(initial=0.001, maximum=0.01, jitter=0.001)
SECRET = "a shared secret"


def sensor(number: int, value: float = 0.0) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Sensor:{number}",
        "type": "Sensor",
        "reading": {"type": "Property", "value": value},
    }


class Receiver:
    """The webhook's server: every request kept; answers from ``faults`` first, then 422 for a
    batch holding one of ``bad``, else 204."""

    def __init__(self, bad: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.bad = set(bad)
        self.faults: deque[tuple[int, dict[str, str]]] = deque()
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.taken: list[dict[str, Any]] = []  # the entities of the requests answered 2xx
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append((dict(request.headers), body))
        if self.faults:
            status, headers = self.faults.popleft()
            return Response(status_code=status, headers=headers)
        ids = {entity["id"] for entity in orjson.loads(body)}
        if ids & self.bad:
            refusal = {"type": "urn:hook:invalid", "title": "Invalid entity", "detail": "a sensor we refuse"}
            return JSONResponse(refusal, status_code=422, media_type="application/problem+json")
        self.taken.extend(orjson.loads(body))
        return Response(status_code=204)

    @property
    def received(self) -> dict[str, dict[str, Any]]:
        """The entities taken, by id (each taken once in these tests)."""
        found = {entity["id"]: entity for entity in self.taken}
        assert len(found) == len(self.taken), "an entity was taken twice"
        return found


def drain(tmp_path: Path, url: str, entities: list[dict[str, Any]], **options: Any) -> tuple[Any, Any]:
    """Put ``entities`` in a fresh outbox and drain it into the webhook at ``url``: the stats, and
    the dead letters and what is still pending."""
    retry = options.pop("retry", FAST)
    tenant = options.pop("tenant", None)

    async def main() -> tuple[Any, Any]:
        outbox = open_outbox(tmp_path / "state", sinks=("hook",))
        try:
            await outbox.put(entities, tenant=tenant)
            async with WebhookSink(url, name="hook", **options) as hook:
                stats = await Drainer(outbox, hook, DrainSettings(sink="hook", retry=retry)).run()
            return stats, (await outbox.dead_letters(sink="hook"), await outbox.pending("hook"))
        finally:
            await outbox.close()

    return asyncio.run(main())


def test_every_batch_is_posted_as_json_signed_and_authenticated(tmp_path: Path) -> None:
    receiver = Receiver()
    entities = [sensor(n, n / 2) for n in range(45)]
    with serve(receiver.app) as base:
        stats, (letters, pending) = drain(
            tmp_path,
            f"{base}/hook",
            entities,
            batch_size=10,
            secret=SECRET,
            auth=BearerToken("t0ken"),
            headers={"X-City": "santander"},
            tenant="santander",
        )
    assert (stats.delivered, stats.dead_lettered, pending, letters) == (45, 0, 0, [])
    assert len(receiver.requests) == 5 and stats.requests == 5  # batches of at most 10
    assert receiver.received == {entity["id"]: entity for entity in entities}
    for headers, body in receiver.requests:
        assert len(orjson.loads(body)) <= 10
        assert headers["content-type"] == "application/json"
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers[SIGNATURE.lower()], expected)
        assert headers["authorization"] == "Bearer t0ken"
        assert headers["x-city"] == "santander"
        assert headers["ngsild-tenant"] == "santander"
        assert headers["contextbridge-update"] == "replace"
        assert headers["contextbridge-sink"] == "hook"


def test_without_a_secret_nothing_is_signed_and_no_tenant_is_named(tmp_path: Path) -> None:
    receiver = Receiver()
    with serve(receiver.app) as base:
        stats, _ = drain(tmp_path, f"{base}/hook", [sensor(1)])
    assert stats.delivered == 1
    [(headers, _)] = receiver.requests
    assert SIGNATURE.lower() not in headers and "ngsild-tenant" not in headers


def test_5xx_and_429_are_retried_after_the_webhooks_retry_after(tmp_path: Path) -> None:
    receiver = Receiver()
    receiver.faults.extend([(503, {}), (429, {"Retry-After": "1"}), (500, {})])
    with serve(receiver.app) as base:
        started = time.monotonic()
        stats, (letters, pending) = drain(tmp_path, f"{base}/hook", [sensor(n) for n in range(8)])
        elapsed = time.monotonic() - started
    assert (stats.delivered, stats.retries, pending, letters) == (8, 3, 0, [])
    assert elapsed >= 1.0  # the webhook's second, not the milliseconds of the backoff
    assert len(receiver.received) == 8


def test_a_refused_batch_is_halved_until_the_culprit_is_dead_lettered_alone(tmp_path: Path) -> None:
    receiver = Receiver(bad={"urn:ngsi-ld:Sensor:13"})
    with serve(receiver.app) as base:
        stats, (letters, pending) = drain(tmp_path, f"{base}/hook", [sensor(n) for n in range(32)])
    assert (stats.delivered, stats.dead_lettered, pending) == (31, 1, 0)
    assert set(receiver.received) == {f"urn:ngsi-ld:Sensor:{n}" for n in range(32)} - {
        "urn:ngsi-ld:Sensor:13"
    }
    [letter] = letters
    assert letter.entity_id == "urn:ngsi-ld:Sensor:13"
    assert letter.reason["type"] == "urn:hook:invalid" and letter.reason["detail"] == "a sensor we refuse"
    assert letter.reason["status"] == 422
    assert len(receiver.requests) <= 1 + 2 * 5  # a bisection, not one request per entity


def test_a_webhook_that_is_down_keeps_the_entities_waiting(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    retry = RetryPolicy(initial=0.001, jitter=0, attempts=3)
    stats, (letters, pending) = drain(
        tmp_path, f"http://127.0.0.1:{port}/hook", [sensor(1), sensor(2)], retry=retry
    )
    assert (stats.delivered, stats.retries, pending, letters) == (0, 2, 2, [])
    assert stats.last_error and "ConnectError" in stats.last_error


def write_config(tmp_path: Path, webhooks: str) -> Path:
    config = tmp_path / "contextbridge.yaml"
    mapping = ROOT / "mappings" / "santander-streetlights.yaml"
    data = ROOT / "examples" / "santander" / "streetlights.xml"
    config.write_text(f"feeds: [{{id: lights, mapping: {mapping}, source: {{file: {data}}}}}]\n{webhooks}")
    return config


def test_run_delivers_to_the_webhooks_of_the_configuration(tmp_path: Path) -> None:
    receiver = Receiver()
    with serve(receiver.app) as base:
        config = write_config(
            tmp_path,
            f"webhooks:\n  - {{name: lake, url: '{base}/hook', secret: '{SECRET}', batch_size: 4,"
            " auth: {bearer: t0ken}}\n",
        )
        result = CliRunner().invoke(
            app, ["run", str(config), "--state", str(tmp_path / "state")], catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    assert "webhook lake: 15 entities written, 0 superseded, 0 dead-lettered" in result.stdout
    assert len(receiver.received) == 15
    assert all(id_.startswith("urn:ngsi-ld:Streetlight:") for id_ in receiver.received)
    for headers, body in receiver.requests:
        assert len(orjson.loads(body)) <= 4 and headers["authorization"] == "Bearer t0ken"
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers[SIGNATURE.lower()] == expected


@pytest.mark.parametrize(
    ("webhooks", "message"),
    [
        ("webhooks: [{name: broker, url: 'http://hooks.example/'}]\n", "names the broker sink"),
        ("webhooks: [{name: graph, url: 'http://hooks.example/'}]\n", "names the graph sink"),
        ("webhooks: [{name: a, url: 'ftp://hooks.example/'}]\n", "url"),
        ("webhooks: [{name: a, url: 'http://x/'}, {name: a, url: 'http://y/'}]\n", "used twice"),
        ("webhooks: [{url: 'http://hooks.example/'}]\n", "name"),
    ],
)
def test_a_bad_webhook_section_is_refused_naming_its_place(
    tmp_path: Path, webhooks: str, message: str
) -> None:
    with pytest.raises(MappingError) as caught:
        load_config(write_config(tmp_path, webhooks))
    assert message in str(caught.value) and "webhooks" in str(caught.value)


def test_a_webhook_section_reads_into_its_sink(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            "webhooks:\n  - {name: lake, url: 'https://lake.example/in', secret: s, headers: {X-A: b},"
            " batch_size: 50, concurrency: 2, timeout: 5, retry_max: 30, insecure: true,"
            " auth: {api_key: {value: k3y, header: X-Key}}}\n",
        )
    )
    [hook] = config.webhooks
    assert (hook.name, hook.url, hook.batch_size, hook.concurrency, hook.retry_max, hook.verify) == (
        "lake",
        "https://lake.example/in",
        50,
        2,
        30,
        False,
    )
    sink = hook.sink()
    try:
        assert sink.name == "lake" and sink.batch_size == 50
    finally:
        asyncio.run(sink.aclose())
