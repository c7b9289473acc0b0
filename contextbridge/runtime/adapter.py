"""The adapter: every feed of a city and every sink, in one asyncio process.

    >>> adapter = Adapter(outbox, feeds, {"broker": broker_client, "graph": GraphSink(store)})
    >>> await adapter.run()          # serve: until stop(); or run(once=True): feeds to their end

    >>> async with open_adapter(config, state_dir, store=store) as adapter:   # from a configuration
    ...     await adapter.run()

Feeds write to the outbox (``FeedRunner``); one ``Drainer`` per sink empties it. They only meet
in the outbox, so a slow broker never slows a feed (the outbox absorbs the burst) and a sink
that is down holds nothing in memory.

Stopping is in order: the sources stop taking messages, what was taken is translated and
written to the outbox (then acked upstream), and only then do the drainers stop, finishing their
requests in flight; whatever is still waiting stays in the outbox for the next start. Nothing
accepted is lost, so SIGTERM can come at any moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from ..delivery.drainer import DeliveryStats, Drainer, DrainSettings
from ..delivery.sink import Sink
from ..entities.constraints import constraints_for
from ..entities.ontology import Ontology
from ..language.mapping import load_mapping
from ..outbox import Outbox, SinkStatus, open_outbox
from ..remote.retry import RetryPolicy
from ..sinks.graph import DEFAULT_TENANT, GraphSink, GraphStore
from ..sources import WebhookSource, build_source
from .config import Config, config_ontology
from .feedrunner import FeedRunner

log = logging.getLogger(__name__)

STATUS_INTERVAL = 5.0  # seconds between two readings of the outbox status (for /metrics, /ready)
ONCE_ATTEMPTS = 6  # tries per batch before a one-shot run leaves a sink's entities in the outbox


class Adapter:
    """Feeds into the outbox, drainers out of it; one ``run()`` and one ``stop()`` for all."""

    def __init__(
        self,
        outbox: Outbox,
        feeds: Sequence[FeedRunner],
        sinks: Mapping[str, Sink],
        *,
        settings: Mapping[str, DrainSettings] | None = None,
    ) -> None:
        self.outbox = outbox
        self.feeds = list(feeds)
        self.drainers = {
            name: Drainer(outbox, sink, (settings or {}).get(name) or DrainSettings(sink=name))
            for name, sink in sinks.items()
        }
        self.status: list[SinkStatus] = []  # the outbox at the last reading
        self._stopping = asyncio.Event()

    @property
    def webhooks(self) -> dict[str, WebhookSource]:
        """The feeds fed by the service's ``POST /feeds/{id}``."""
        return {feed.id: feed.source for feed in self.feeds if isinstance(feed.source, WebhookSource)}

    @property
    def delivery(self) -> dict[str, DeliveryStats]:
        return {name: drainer.stats for name, drainer in self.drainers.items()}

    async def run(self, *, once: bool = False) -> None:
        """Run the feeds and the drainers. ``once``: the feeds to their end, then the outbox empty."""
        watcher = asyncio.create_task(self._watch_status())
        try:
            if once:
                await asyncio.gather(*(feed.run() for feed in self.feeds))
                await asyncio.gather(*(drainer.run(until_empty=True) for drainer in self.drainers.values()))
            else:
                drainers = [
                    asyncio.create_task(drainer.run(until_empty=False), name=f"drainer {name}")
                    for name, drainer in self.drainers.items()
                ]
                try:
                    await asyncio.gather(*(feed.run() for feed in self.feeds), self._stopping.wait())
                finally:  # the feeds have stored what they took: now the drainers may stop
                    for drainer in self.drainers.values():
                        drainer.stop()
                    await asyncio.gather(*drainers)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await self.read_status()

    async def stop(self) -> None:
        """Stop taking messages; ``run()`` returns once what was taken is in the outbox."""
        self._stopping.set()
        await asyncio.gather(*(feed.stop() for feed in self.feeds))

    async def read_status(self) -> list[SinkStatus]:
        self.status = await self.outbox.status()
        return self.status

    async def _watch_status(self) -> None:
        while True:
            try:
                await self.read_status()
            except Exception as error:  # reported by /ready; the feeds go on meanwhile
                log.warning("cannot read the outbox status: %s", error)
            await asyncio.sleep(STATUS_INTERVAL)


@contextlib.asynccontextmanager
async def open_adapter(
    config: Config,
    state_dir: Path,
    *,
    store: GraphStore,
    once: bool = False,
    ontology: Ontology | None = None,
) -> AsyncIterator[Adapter]:
    """The adapter of a configuration: its feeds, the outbox, the city graph and, when configured,
    the broker and the webhooks. ``once``: HTTP sources poll one time and file sources do not watch (``run``).
    ``ontology``: what the feeds' entities are checked against (default: the configuration's)."""
    sinks = ("graph", *(("broker",) if config.broker else ()), *(hook.name for hook in config.webhooks))
    feeds = [(feed, load_mapping(feed.mapping)) for feed in config.feeds]  # every mapping error first
    constraints = constraints_for(ontology or config_ontology(config))
    for feed, mapping in feeds:  # a mapping reads its feed's tenant's devices
        mapping.lookups.use_tenant(feed.tenant or DEFAULT_TENANT)
    outbox = open_outbox(config.outbox or state_dir, sinks=sinks, liveness=config.outbox_liveness)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(outbox.close)
        for _, mapping in feeds:  # remote lookup tables (HTTP, SQL) refresh in the background
            if not once:
                mapping.lookups.start_refresh()
                stack.callback(mapping.lookups.stop)
        runners = [
            FeedRunner(
                feed.id,
                build_source(feed.source, base_dir=feed.base, state_dir=state_dir, once=once),
                mapping,
                outbox,
                tenant=feed.tenant,
                batch_size=feed.batch_size,
                constraints=constraints,
                constraints_mode=feed.constraints,
                policy=feed.policy(mapping, options=config.broker.options if config.broker else None),
            )
            for feed, mapping in feeds
        ]
        # Once (``run``), a sink that stays down is given up after a few attempts: the rest waits in
        # the outbox for the next run or for ``serve``, which retries for as long as it takes.
        retry = RetryPolicy(initial=0.2, maximum=2.0, attempts=ONCE_ATTEMPTS) if once else RetryPolicy()
        targets: dict[str, Sink] = {"graph": GraphSink(store)}
        settings = {"graph": DrainSettings(sink="graph", retry=retry)}
        if config.broker is not None:
            broker = config.broker.client()
            stack.push_async_callback(broker.aclose)
            targets["broker"] = broker
            settings["broker"] = DrainSettings(
                sink="broker",
                batch_size=config.broker.batch_size,
                concurrency=config.broker.concurrency,
                retry=retry if once else RetryPolicy(maximum=config.broker.retry_max),
            )
        for hook in config.webhooks:
            webhook = hook.sink()
            stack.push_async_callback(webhook.aclose)
            targets[hook.name] = webhook
            settings[hook.name] = DrainSettings(
                sink=hook.name,
                batch_size=hook.batch_size,
                concurrency=hook.concurrency,
                retry=retry if once else RetryPolicy(maximum=hook.retry_max),
            )
        yield Adapter(outbox, runners, targets, settings=settings)
