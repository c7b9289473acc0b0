"""The delivery contract: what a sink is, what it is given, what it answers.

    >>> class MySink:                                    # a new sink is one class in one file
    ...     name = "mine"
    ...     def batches(self, entities): return chunks(entities, 100)
    ...     async def upsert(self, batch, *, tenant=None, policy=REPLACE):
    ...         ...                                      # one request; then say what became of each
    ...         return BatchResult(success=tuple(batch.ids))

The drainer (``contextbridge.delivery.drainer``) takes entities out of the outbox and hands them to a sink
in the batches the sink cuts (``batches``), one ``upsert`` each. A sink that sends JSON may cut
them from the entities' JSON as the outbox stores it (``encoded_batches``, of (id, JSON) pairs):
nothing is then decoded and encoded again on the way out. The sink answers per entity with a
``BatchResult``, or raises: ``DeliveryError`` when the batch may succeed if sent again (the server
down, a timeout, 429, 5xx: the drainer retries with its ``RetryPolicy``), ``SinkRefused`` when the
batch as a whole is refused for good (the drainer then splits it with ``bisect`` until each refused
entity stands alone, and dead-letters it with the ProblemDetails). The broker (``BrokerClient``),
the city graph (``GraphSink``) and the webhook (``WebhookSink``) are sinks on equal terms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..entities.updates import REPLACE, UpdatePolicy
from ..errors import SinkRefused
from ..remote.problemdetails import Problem

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CONCURRENCY",
    "RETRYABLE",
    "Batch",
    "BatchFailure",
    "BatchResult",
    "EncodedSink",
    "Entity",
    "EntityBatch",
    "Sink",
    "bisect",
    "chunks",
]

# Measured with benchmarks/delivery.py against the broker double on loopback: entities/s grow until
# ~200 per batch and flatten after; 4 batches in flight hide the round trip without piling work on a
# single Orion-LD (its default thread pool is small). Plain values with no dependency, so that the
# command line shows them in ``--help`` without loading the HTTP client.
DEFAULT_BATCH_SIZE = 200  # entities the drainer sends at once (a sink may cut them smaller)
DEFAULT_CONCURRENCY = 4  # batches in flight

# The HTTP statuses an HTTP sink answers when a batch may succeed later: busy, down, or a
# credential that a fix cures without touching the data (401, 403). Any other 4xx refuses it.
RETRYABLE = frozenset({401, 403, 408, 425, 429, 500, 502, 503, 504})

Entity = Mapping[str, Any]  # an NGSI-LD entity, normalized
T = TypeVar("T")


class Batch(Protocol):
    """What a sink sends in one request: the ids of its entities, in order."""

    @property
    def ids(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class EntityBatch:
    """A batch that is just its entities (the graph's, a webhook's)."""

    entities: Sequence[Entity]

    @property
    def ids(self) -> list[str]:
        return [str(entity.get("id")) for entity in self.entities]


def chunks(entities: Sequence[Entity], size: int | None) -> list[EntityBatch]:
    """``entities`` in batches of at most ``size`` (``None``: all in one)."""
    if not entities:
        return []
    step = size or len(entities)
    return [EntityBatch(entities[start : start + step]) for start in range(0, len(entities), step)]


@dataclass(frozen=True)
class BatchFailure:
    """One entity of a batch the sink refused, with its ProblemDetails."""

    entity_id: str
    problem: Problem


@dataclass(frozen=True)
class BatchResult:
    """What a batch operation did to each entity sent.

    ``missing`` lists ids the sink named neither as a success nor as an error: their fate is
    unknown, so a caller that wants them delivered sends them again (upserts are idempotent).
    """

    success: tuple[str, ...] = ()
    errors: tuple[BatchFailure, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and not self.missing


class Sink(Protocol):
    """Where a drainer delivers. ``upsert`` answers what became of each entity of the batch
    (``policy``: whole states or partial ones, with history or not, as the outbox entries say); it
    raises ``SinkRefused`` when the whole batch is refused for good, ``DeliveryError`` when it may
    succeed if sent again."""

    def batches(self, entities: Sequence[Entity]) -> Sequence[Batch]: ...

    async def upsert(
        self, batch: Any, *, tenant: str | None = None, policy: UpdatePolicy = REPLACE
    ) -> BatchResult: ...


class EncodedSink(Sink, Protocol):
    """A sink that takes entities encoded: ``encoded_batches`` cuts batches of (id, JSON) pairs,
    the entities' JSON objects as stored, and sends those bytes as they are."""

    def encoded_batches(self, entities: Sequence[tuple[str, bytes]]) -> Sequence[Batch]: ...


async def bisect(
    items: Sequence[T],
    refusal: SinkRefused,
    send: Callable[[Sequence[T]], Awaitable[None]],
    alone: Callable[[T, SinkRefused], Awaitable[None]],
) -> None:
    """``items`` were refused as a whole: each half is sent again (``send`` deals with a refusal of
    its own the same way), until each refused item stands alone and goes to ``alone``. One bad
    entity never takes its batch down with it, at the cost of about 2·log2(n) requests, not n."""
    if len(items) == 1:
        await alone(items[0], refusal)
        return
    middle = len(items) // 2
    for half in (items[:middle], items[middle:]):
        await send(half)
