"""The service: a starlette app over a ``Service`` (settings, ontology, graph store, background tasks).

    service = Service.from_config(load_config(Path("contextbridge.yaml")), state_dir=Path(".contextbridge"))
    app = create_app(service)            # uvicorn.run(app) — or TestClient(app) in tests

The graph store is opened by the app's lifespan when the ``Service`` was given none (and closed
when the app stops); a store passed in is the caller's to close. The lifespan also loads the
ontology into the store (queries see the class hierarchy), starts the adapter of the
configuration (its feeds, and the drainers to the graph and the broker: ``contextbridge.runtime.adapter``)
and ``tasks``, named coroutine factories that run beside the HTTP server for as long as it runs.

Stopping is graceful: the HTTP server stops taking requests, then the feeds stop taking messages
and store what they took, then the drainers finish their requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.registry import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount, Route

from contextbridge.entities.ontology import Ontology, default_ontology
from contextbridge.runtime.adapter import Adapter, open_adapter
from contextbridge.runtime.config import Config, GraphConfig, ServiceConfig, config_ontology
from contextbridge.sinks.graph.base import GraphStore
from contextbridge.sinks.graph.embedded import QUERY_SLOTS
from contextbridge.storage.devices import DeviceRegistry, SqliteRegistry, open_registry
from contextbridge.storage.keystore import KeyStore

from .auth import Authenticator
from .contextdocument import ContextDocuments, context_endpoint
from .deadletters import dead_letter_endpoint, dead_letters_endpoint, purge_endpoint, replay_endpoint
from .devices import device_endpoint, devices_endpoint
from .drafts import draft_endpoint
from .entities import entity_endpoint, history_endpoint
from .health import health_endpoint, ready_endpoint
from .mappings import mapping_endpoint, mappings_endpoint, queries_endpoint, sample_endpoint
from .metrics import metrics_endpoint
from .notifiedcontexts import ContextResolver
from .notify import notify_endpoint
from .openapi import openapi_endpoint
from .playground import Playground, playground_endpoint
from .problems import problem_handlers
from .slots import FairSlots
from .sparql import sparql_endpoint
from .status import StatusBoard, status_endpoint, status_events_endpoint
from .types import type_endpoint
from .webconsole import CONSOLE_DIR, ConsoleFiles, index_endpoint, settings_endpoint
from .webhookfeeds import feed_endpoint

log = logging.getLogger("contextbridge.service")

Task = Callable[[], Awaitable[None]]


@dataclass(eq=False)
class Service:
    """What the app serves. ``store=None``: the lifespan opens the store ``graph_config`` names
    (an endpoint, or the embedded store in ``state_dir``). ``tasks``: background work by name."""

    settings: ServiceConfig = field(default_factory=ServiceConfig)
    ontology: Ontology = field(default_factory=default_ontology)
    store: GraphStore | None = None
    graph_config: GraphConfig = field(default_factory=GraphConfig)
    state_dir: Path = Path(".contextbridge")
    tasks: dict[str, Task] = field(default_factory=dict)
    context_transport: httpx.AsyncBaseTransport | None = None  # fetches allowed @contexts (test seam)
    config: Config | None = None  # its feeds and broker: the adapter the lifespan runs
    running: dict[str, asyncio.Task[None]] = field(default_factory=dict, init=False)
    adapter: Adapter | None = field(default=None, init=False)
    metrics: tuple[Adapter, CollectorRegistry] | None = field(default=None, init=False)
    registry: DeviceRegistry | None = None  # the device registry (opened by the lifespan when None)
    registry_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    board: StatusBoard = field(default_factory=StatusBoard, init=False)  # the console's /status
    playground: Playground | None = field(default=None, init=False)  # made at the first trial
    query_slots: FairSlots = field(default_factory=lambda: FairSlots(QUERY_SLOTS), init=False)

    def __post_init__(self) -> None:
        self.keys = KeyStore(self.state_dir)  # `contextbridge keys create`'s, beside the configured ones
        self.authenticator = Authenticator(self.settings.api_keys, stored=self.keys)
        self.contexts = ContextResolver(
            self.ontology, allowed=self.settings.allowed_contexts, transport=self.context_transport
        )
        self.documents = ContextDocuments(self.ontology, self.contexts.city)  # /context.jsonld

    @classmethod
    def from_config(cls, config: Config, *, state_dir: Path, ontology: Ontology | None = None) -> Service:
        """``ontology``: default, the configuration's (its ``ontologies`` and its mappings')."""
        return cls(
            settings=config.service,
            ontology=ontology or config_ontology(config),
            graph_config=config.graph,
            state_dir=state_dir,
            config=config,
        )

    @property
    def graph(self) -> GraphStore:
        if self.store is None:
            raise RuntimeError("the graph store is not open (the app's lifespan opens it)")
        return self.store

    def open_store(self) -> GraphStore:
        if self.graph_config.endpoint is None:  # queries in processes, killed at their time limit
            return self.graph_config.open(self.state_dir, ontology=self.ontology, query_workers=QUERY_SLOTS)
        return self.graph_config.open(self.state_dir, ontology=self.ontology)

    def own_context_urls(self, request: Request) -> list[str]:
        """The URLs under which this service's @context is known to the request's sender."""
        found = [str(request.url_for("context"))]
        if self.settings.public_url:
            found.append(self.settings.public_url.rstrip("/") + "/context.jsonld")
        return found


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    service: Service = app.state.service
    async with contextlib.AsyncExitStack() as stack:
        if service.store is None:
            service.store = service.open_store()
            stack.push_async_callback(_close_store, service)
        await service.graph.load_ontology()
        stack.callback(service.keys.close)
        if service.registry is None:  # in the outbox's database; without a configuration, in memory
            config = service.config
            registry = (
                await asyncio.to_thread(open_registry, config.outbox or service.state_dir)
                if config is not None
                else SqliteRegistry(None)
            )
            service.registry = registry
            stack.callback(_close_registry, service)
        stack.push_async_callback(_cancel_tasks, service)  # last: after the adapter has stopped
        config = service.config
        if config is not None and (config.feeds or config.broker):
            adapter = await stack.enter_async_context(
                open_adapter(config, service.state_dir, store=service.graph, ontology=service.ontology)
            )
            service.adapter = adapter
            service.running["adapter"] = asyncio.create_task(adapter.run(), name="adapter")
            stack.push_async_callback(_stop_adapter, service, adapter)
        for name, task in service.tasks.items():
            service.running[name] = asyncio.create_task(_guarded(name, task), name=name)
        sampler = functools.partial(service.board.run_sampler, service)  # the feeds' rates, for /status
        service.running["status"] = asyncio.create_task(_guarded("status", sampler), name="status")
        log.info(
            "service ready: %d API keys, tasks: %s", len(service.settings.api_keys), list(service.running)
        )
        yield


async def _close_store(service: Service) -> None:
    if service.store is not None:
        await service.store.close()
        service.store = None


def _close_registry(service: Service) -> None:
    if service.registry is not None:
        service.registry.close()
        service.registry = None


async def _stop_adapter(service: Service, adapter: Adapter) -> None:
    """The feeds store what they took, then the drainers finish their requests in flight."""
    await adapter.stop()
    running = service.running.pop("adapter", None)
    if running is not None:
        await asyncio.gather(running, return_exceptions=True)
    service.adapter = None


async def _cancel_tasks(service: Service) -> None:
    for running in service.running.values():
        running.cancel()
    await asyncio.gather(*service.running.values(), return_exceptions=True)
    service.running.clear()


async def _guarded(name: str, task: Task) -> None:
    try:
        await task()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s stopped", name)
        raise


def create_app(service: Service) -> Starlette:
    """The HTTP app of ``service``: health, @context, SPARQL endpoint, notification receiver,
    device registry, webhooks, and the web console with the API it reads."""
    routes = [
        Route("/", index_endpoint, methods=["GET"]),
        Route("/console/settings", settings_endpoint, methods=["GET"]),
        Mount("/console", app=ConsoleFiles(directory=CONSOLE_DIR), name="console"),
        Route("/health", health_endpoint, methods=["GET"]),
        Route("/ready", ready_endpoint, methods=["GET"]),
        Route("/context.jsonld", context_endpoint(service.documents), methods=["GET"], name="context"),
        Route("/sparql", sparql_endpoint, methods=["GET", "POST"]),
        Route("/ngsi-ld/notify", notify_endpoint, methods=["POST"]),
        Route("/feeds/{feed_id}", feed_endpoint, methods=["POST"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi_endpoint, methods=["GET"]),
        Route("/devices", devices_endpoint, methods=["GET", "POST"]),
        Route("/devices/{device_id}", device_endpoint, methods=["GET", "PUT", "DELETE"]),
        Route("/status", status_endpoint, methods=["GET"]),
        Route("/status/events", status_events_endpoint, methods=["GET"]),
        Route("/dead-letters", dead_letters_endpoint, methods=["GET"]),
        Route("/dead-letters/replay", replay_endpoint, methods=["POST"]),
        Route("/dead-letters/purge", purge_endpoint, methods=["POST"]),
        Route("/dead-letters/{letter_id}", dead_letter_endpoint, methods=["GET"]),
        Route("/mappings", mappings_endpoint, methods=["GET"]),
        Route("/mappings/{name}", mapping_endpoint, methods=["GET"]),
        Route("/mappings/{name}/samples", sample_endpoint, methods=["POST"]),
        Route("/playground", playground_endpoint, methods=["POST"]),
        Route("/playground/draft", draft_endpoint, methods=["POST"]),
        Route("/queries", queries_endpoint, methods=["GET"]),
        Route(
            "/types/{name}", type_endpoint(service.ontology, service.authenticator.authorize), methods=["GET"]
        ),
        Route("/entities/{entity_id}/history", history_endpoint, methods=["GET"]),
        Route("/entities/{entity_id}", entity_endpoint, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers=problem_handlers, lifespan=lifespan)
    app.state.service = service
    return app
