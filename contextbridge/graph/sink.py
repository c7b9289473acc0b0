"""The city graph as a sink of the outbox: the drainer that feeds Orion-LD feeds the graph too.

    >>> outbox = open_outbox(".contextbridge", sinks=("broker", "graph"))
    >>> await Drainer(outbox, GraphSink(store), DrainSettings(sink="graph")).run()

Each entity put in the outbox is pending once for the broker and once for the graph, and each
sink acks at its own pace (its own cursor): a graph store that is down holds its entries in the
outbox until it is back, and a crash loses nothing. The drainer's retries, superseding and dead
letters work as for the broker: an entity the graph cannot hold (``EntityError``) goes to the
dead-letter queue with a ProblemDetails saying why; a batch the store refuses for good
(``GraphStoreError``) is refused as a whole (``SinkRefused``), and the drainer halves it until
the culprits stand alone; a store that cannot be reached (``DeliveryError``) is retried.
"""

from __future__ import annotations

from collections.abc import Sequence

from contextbridge.errors import GraphStoreError, SinkRefused
from contextbridge.graph.base import GraphStore
from contextbridge.problemdetails import BAD_REQUEST_DATA, problem
from contextbridge.sink import BatchFailure, BatchResult, Entity, EntityBatch, chunks
from contextbridge.updates import REPLACE, UpdatePolicy


class GraphSink:
    """Adapts a ``GraphStore`` to the drainer's ``Sink`` interface (the sink named ``graph``).

    ``batch_size``: entities per upsert, one transaction each (``None``: the drainer's batch)."""

    name = "graph"

    def __init__(self, store: GraphStore, *, batch_size: int | None = None) -> None:
        self.store = store
        self.batch_size = batch_size

    def batches(self, entities: Sequence[Entity]) -> list[EntityBatch]:
        return chunks(entities, self.batch_size)

    async def upsert(
        self, batch: EntityBatch, *, tenant: str | None = None, policy: UpdatePolicy = REPLACE
    ) -> BatchResult:
        """Write the batch: the entities the graph cannot hold fail alone, a refusal of the
        store refuses the batch."""
        try:
            report = await self.store.upsert(batch.entities, tenant=tenant, policy=policy)
        except GraphStoreError as error:
            refusal = problem(BAD_REQUEST_DATA, "The graph store refused the entity", str(error))
            raise SinkRefused(refusal) from error
        failures = tuple(
            BatchFailure(
                str(error.entity_id),
                problem(BAD_REQUEST_DATA, "The entity cannot be written to the graph", str(error)),
            )
            for error in report.refused
        )
        refused = {failure.entity_id for failure in failures}
        return BatchResult(success=tuple(i for i in batch.ids if i not in refused), errors=failures)
