"""``GET /status`` and ``GET /status/events``: what the feeds and sinks are doing, for the console.

    GET /status                      X-API-Key: ...
    {"time": 1764064800.0, "feeds": [{"id": "parking", "records": 1200, "rate": 4.5, ...}],
     "sinks": [{"sink": "broker", "pending": 0, ...}], "health": {"graph": {"status": "ok"}, ...}}

    GET /status/events?interval=2    → text/event-stream: ``event: status`` with the same document,
                                       at once and then every ``interval`` seconds

The feeds' counters are those of the running adapter (``FeedRunner.stats``, the translator's
``TranslationStats``); the sinks', those of the outbox (read every few seconds by the adapter) and
of the drainers since the start. ``rate`` is records per second over the last ``WINDOW`` seconds,
from a ``RateSampler`` the app's lifespan feeds once a second (``null`` until two samples exist).
A key sees the feeds of the tenants it may use, and the sinks' figures only if it may use every
tenant (the sinks are shared: a key of some tenants sees their names, figures ``null``). Health is ``/ready``'s checks, cached a moment
so that a room of dashboards does not probe the broker for each.

Without an adapter (no feeds, no broker) nothing changes but the graph's health: the stream then
sends one event and ends, and the console polls ``/status`` instead.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from contextbridge.runtime.config import ApiKey
from contextbridge.runtime.feedrunner import FeedRunner
from contextbridge.sinks.graph.base import DEFAULT_TENANT

from .health import readiness_checks
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

WINDOW = 10.0  # seconds of samples a rate is computed over
SAMPLE_EVERY = 1.0  # seconds between two samples (the lifespan's task)
HEALTH_TTL = 2.0  # seconds a health reading is reused
INTERVALS = (0.5, 60.0)  # the stream's allowed interval, seconds
HEALTH_CHECKS = ("graph", "outbox", "broker")
_SOURCE_KINDS = {"mqtt": "mqtt", "http": "http", "webhook": "webhook", "file": "files"}
# A sink serves every tenant: its figures (and its last error, which may name anyone's entity)
# are shown to keys of every tenant; a key of some tenants sees the sink's name alone.
_SINK_FIGURES = (
    "pending",
    "in_flight",
    "delivered",
    "superseded",
    "dead_letters",
    "oldest_pending",
    "retries",
    "last_error",
    "delivered_since_start",
)


class RateSampler:
    """Records read per feed, sampled over time: the recent rate of each.

    >>> sampler = RateSampler()
    >>> sampler.sample(adapter.feeds, now=time.monotonic())      # once a second
    >>> sampler.rate("parking")                                  # records/s, or None
    """

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._samples: dict[str, deque[tuple[float, int]]] = {}

    def sample(self, feeds: Sequence[FeedRunner], *, now: float) -> None:
        for feed in feeds:
            samples = self._samples.setdefault(feed.id, deque())
            samples.append((now, feed.translation.records))
            while len(samples) > 2 and now - samples[1][0] >= self.window:
                samples.popleft()

    def rate(self, feed_id: str) -> float | None:
        samples = self._samples.get(feed_id)
        if not samples or len(samples) < 2:
            return None
        (first, before), (last, after) = samples[0], samples[-1]
        if last - first <= 0:
            return None
        return round((after - before) / (last - first), 3)


class StatusBoard:
    """The console's view of one service: the rate sampler and the last health reading."""

    def __init__(self) -> None:
        self.rates = RateSampler()
        self._health: tuple[float, dict[str, Any]] | None = None
        self._health_lock = asyncio.Lock()

    async def run_sampler(self, service: Service) -> None:
        """Sample the adapter's feeds every ``SAMPLE_EVERY`` seconds (a task of the lifespan)."""
        while True:
            if service.adapter is not None:
                self.rates.sample(service.adapter.feeds, now=time.monotonic())
            await asyncio.sleep(SAMPLE_EVERY)

    async def health(self, service: Service) -> dict[str, Any]:
        async with self._health_lock:  # concurrent dashboards share one probe
            now = time.monotonic()
            if self._health is None or now - self._health[0] > HEALTH_TTL:
                checks = await readiness_checks(service)
                self._health = (now, {name: checks[name] for name in HEALTH_CHECKS if name in checks})
            return self._health[1]

    async def document(self, service: Service, key: ApiKey) -> dict[str, Any]:
        """The ``/status`` document as ``key`` may see it."""
        adapter = service.adapter
        feeds: list[dict[str, Any]] = []
        sinks: list[dict[str, Any]] = []
        if adapter is not None:
            configured = {feed.id: feed for feed in service.config.feeds} if service.config else {}
            for runner in adapter.feeds:
                if not key.allows(runner.tenant or DEFAULT_TENANT):
                    continue
                source = configured[runner.id].source if runner.id in configured else {}
                translation, stats = runner.translation, runner.stats
                feeds.append(
                    {
                        "id": runner.id,
                        "source": next(
                            (kind for name, kind in _SOURCE_KINDS.items() if name in source), None
                        ),
                        "tenant": runner.tenant,
                        "messages": stats.messages,
                        "records": translation.records,
                        "entities": translation.entities,
                        "rejected": translation.rejected,
                        "rejects": dict(translation.reasons),
                        "constraints_broken": dict(translation.warnings),
                        "stored": stats.stored,
                        "last_message": stats.last_message,
                        "rate": self.rates.rate(runner.id),
                    }
                )
            waiting = {status.sink: status for status in adapter.status}
            for name, delivery in adapter.delivery.items():
                if key.tenants is not None:  # a sink's figures are every tenant's: for keys of all
                    sinks.append({"sink": name, **dict.fromkeys(_SINK_FIGURES)})
                    continue
                found = waiting.get(name)
                sinks.append(
                    {
                        "sink": name,
                        "pending": found.pending if found else 0,
                        "in_flight": found.in_flight if found else 0,
                        "delivered": found.delivered if found else 0,
                        "superseded": found.superseded if found else 0,
                        "merged": found.merged if found else 0,
                        "dead_letters": found.dead_letters if found else 0,
                        "oldest_pending": found.oldest_pending if found else None,
                        "retries": delivery.retries,
                        "last_error": delivery.last_error,  # may name an entity of any tenant
                        "delivered_since_start": delivery.delivered,
                    }
                )
        return {"time": time.time(), "feeds": feeds, "sinks": sinks, "health": await self.health(service)}

    async def events(self, service: Service, key: ApiKey, interval: float) -> AsyncIterator[bytes]:
        """The stream: one ``status`` event now, then one every ``interval`` seconds."""
        while True:
            document = await self.document(service, key)
            yield b"event: status\ndata: " + orjson.dumps(document) + b"\n\n"
            if service.adapter is None:
                return
            await asyncio.sleep(interval)


def _interval(request: Request) -> float:
    text = request.query_params.get("interval", "2")
    try:
        interval = float(text)
    except ValueError:
        interval = -1.0
    low, high = INTERVALS
    if not low <= interval <= high:  # NaN too
        raise HTTPProblem(
            400, "bad-request", "Bad Request", f"interval: a number of seconds in {low:g}..{high:g}"
        )
    return interval


async def status_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    key, _ = service.authenticator.authorize(request)
    return JSONResponse(await service.board.document(service, key))


async def status_events_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    key, _ = service.authenticator.authorize(request)
    interval = _interval(request)
    return StreamingResponse(
        service.board.events(service, key, interval),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
