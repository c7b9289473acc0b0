"""contextbridge's whole path in the test's event loop: one feed into an outbox, and one drainer per
sink out of it — Orion-LD (the broker double) and the city graph (an in-memory embedded store).

    >>> async with Pipeline(outbox, source, mapping, double) as pipeline:
    ...     ...                                        # publish, cut, refuse
    ...     await pipeline.settle(lambda: len(double.entities()) == 300)
    >>> expected = translated(mapping, [(payload, {"device": "s1", "topic": ...}), ...])

``settle`` waits for a condition and then for both sinks to be drained (the feed's messages stored
and delivered), failing with what is still pending when it does not come in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from broker_double import BrokerDouble

from contextbridge import (
    BrokerClient,
    Drainer,
    DrainSettings,
    FeedRunner,
    GraphSink,
    Outbox,
    RecordError,
    RetryPolicy,
    Source,
    Translator,
)
from contextbridge.language.mapping import Mapping as FeedMapping
from contextbridge.sinks.graph import EmbeddedStore
from contextbridge.sources import records_with_metadata

FAST = RetryPolicy(initial=0.01, maximum=0.2, jitter=0.02)
T = TypeVar("T")


def sink_drainers(
    outbox: Outbox,
    client: BrokerClient,
    store: EmbeddedStore,
    *,
    batch_size: int = 20,
    retry: RetryPolicy = FAST,
) -> list[Drainer]:
    """The broker's drainer (4 workers) and the graph's, over one outbox, as ``serve`` runs them."""
    return [
        Drainer(
            outbox, client, DrainSettings(sink="broker", batch_size=batch_size, concurrency=4, retry=retry)
        ),
        Drainer(outbox, GraphSink(store, batch_size=batch_size), DrainSettings(sink="graph", retry=retry)),
    ]


async def drained(
    outbox: Outbox, client: BrokerClient, store: EmbeddedStore, put: Callable[[], Awaitable[T]]
) -> T:
    """What ``put()`` returns, once the sinks' drainers (running while it puts) have drained the
    outbox; a drainer that ends before that fails the test with its outcome."""
    drainers = sink_drainers(outbox, client, store, batch_size=10, retry=FAST)
    running = [asyncio.create_task(drainer.run(until_empty=False)) for drainer in drainers]
    result = await put()
    while await outbox.pending("broker") or await outbox.pending("graph"):
        assert not any(task.done() for task in running), [t.result() for t in running if t.done()]
        await asyncio.sleep(0.05)
    for drainer in drainers:
        drainer.stop()
    await asyncio.gather(*running)
    return result


def translated(
    mapping: FeedMapping, messages: Iterable[tuple[bytes, Mapping[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """What the feed's messages (payload, source metadata), in order, leave in a sink: the latest
    entity per id, as the feed translates them."""
    translator = Translator(mapping)
    latest: dict[str, dict[str, Any]] = {}
    for number, (payload, metadata) in enumerate(messages):
        records = mapping.source_format.parse(io.BytesIO(payload), source=f"m{number}")
        for outcome in translator.translate(records_with_metadata(records, metadata), source=f"m{number}"):
            if not isinstance(outcome, RecordError):
                latest[outcome["id"]] = outcome
    return latest


class Pipeline:
    """A ``FeedRunner`` and the broker and graph drainers, started and stopped together."""

    def __init__(self, outbox: Outbox, source: Source, mapping: FeedMapping, double: BrokerDouble) -> None:
        self.outbox = outbox
        self.double = double
        self.store = EmbeddedStore()
        self.runner = FeedRunner("chaos", source, mapping, outbox, batch_size=200)
        self._client = BrokerClient("http://orion", transport=double.transport())
        self.drainers: list[Drainer] = []
        self._tasks: list[asyncio.Task[Any]] = []

    async def __aenter__(self) -> Pipeline:
        await self._client.__aenter__()
        self.drainers = sink_drainers(self.outbox, self._client, self.store)
        self._tasks = [asyncio.create_task(self.runner.run())]
        self._tasks += [asyncio.create_task(drainer.run(until_empty=False)) for drainer in self.drainers]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.runner.stop()
        for drainer in self.drainers:
            drainer.stop()
        done = await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.__aexit__(None, None, None)
        await self.store.close()
        failures = [outcome for outcome in done if isinstance(outcome, BaseException)]
        if failures and kind is None:
            raise AssertionError(f"a task of the pipeline failed: {failures!r}")

    def check_alive(self) -> None:
        """Fail at once if the feed or a drainer ended (it must outlive every fault)."""
        for task in self._tasks:
            if task.done():
                outcome = task.exception() if not task.cancelled() else "cancelled"
                raise AssertionError(f"a task of the pipeline ended: {outcome!r}")

    async def pending(self) -> int:
        return await self.outbox.pending("broker") + await self.outbox.pending("graph")

    async def settle(self, condition: Callable[[], bool], seconds: float) -> None:
        """Wait until ``condition()`` holds and nothing is pending in the outbox."""
        deadline = time.monotonic() + seconds
        while not (condition() and await self.pending() == 0):
            self.check_alive()
            if time.monotonic() > deadline:
                pending = "unknown"
                with contextlib.suppress(Exception):
                    pending = str(await self.pending())
                raise AssertionError(
                    f"not settled in {seconds} s: broker holds {len(self.double.entities())}, outbox pending {pending}"
                )
            await asyncio.sleep(0.05)
