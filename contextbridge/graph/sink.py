"""The city graph as a sink of the outbox: the drainer that feeds Orion-LD feeds the graph too.

    >>> outbox = open_outbox(".contextbridge", sinks=("broker", "graph"))
    >>> await Drainer(outbox, GraphSink(store), DrainSettings(sink="graph")).run()

Each entity put in the outbox is pending once for the broker and once for the graph, and each
sink acks at its own pace (its own cursor): a graph store that is down holds its entries in the
outbox until it is back, and a crash loses nothing. The drainer's retries, superseding and dead
letters work as for the broker: an entity the graph cannot hold (``EntityError``) or that the
store refuses for good (``GraphStoreError``) goes to the dead-letter queue with a ProblemDetails
saying why; a store that cannot be reached (``DeliveryError``) is retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contextbridge.broker.problems import BAD_REQUEST_DATA, BatchFailure, BatchResult, problem
from contextbridge.errors import GraphStoreError
from contextbridge.graph.base import GraphStore
from contextbridge.updates import REPLACE, UpdatePolicy

DEFAULT_BATCH_SIZE = 500  # entities per upsert: one transaction each


@dataclass(frozen=True)
class EntityBatch:
    """The entities of one upsert, and their ids in order."""

    entities: Sequence[Mapping[str, Any]]

    @property
    def ids(self) -> list[str]:
        return [str(entity.get("id")) for entity in self.entities]


class GraphSink:
    """Adapts a ``GraphStore`` to the drainer's ``Sink`` interface (the sink named ``graph``)."""

    name = "graph"

    def __init__(self, store: GraphStore, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.store = store
        self.batch_size = batch_size

    def batches(self, entities: Sequence[Mapping[str, Any]]) -> list[EntityBatch]:
        size = self.batch_size
        return [EntityBatch(entities[start : start + size]) for start in range(0, len(entities), size)]

    async def upsert(
        self, batch: EntityBatch, *, tenant: str | None = None, policy: UpdatePolicy = REPLACE
    ) -> BatchResult:
        """Write the batch; a batch the store refuses as a whole is halved until the culprits stand alone."""
        try:
            report = await self.store.upsert(batch.entities, tenant=tenant, policy=policy)
        except GraphStoreError as error:
            if len(batch.entities) == 1:
                refusal = problem(BAD_REQUEST_DATA, "The graph store refused the entity", str(error))
                return BatchResult(errors=(BatchFailure(batch.ids[0], refusal),))
            middle = len(batch.entities) // 2
            halves = [
                await self.upsert(EntityBatch(part), tenant=tenant, policy=policy)
                for part in (batch.entities[:middle], batch.entities[middle:])
            ]
            return BatchResult(
                success=tuple(i for half in halves for i in half.success),
                errors=tuple(failure for half in halves for failure in half.errors),
            )
        failures = tuple(
            BatchFailure(
                str(error.entity_id),
                problem(BAD_REQUEST_DATA, "The entity cannot be written to the graph", str(error)),
            )
            for error in report.refused
        )
        refused = {failure.entity_id for failure in failures}
        return BatchResult(success=tuple(i for i in batch.ids if i not in refused), errors=failures)
