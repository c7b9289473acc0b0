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

Versions never go backwards here either: an entity whose state in the graph was observed later
(its latest ``observedAt``, else its ``dateObserved``) than the version sent is not overwritten.
With ``history`` the older version's values still go into the history graph (each observation at
its own time, so the history stays in time order); without, the version is refused as stale
(reason type ``STALE``) and the outbox keeps it beside the dead letters, counted ``stale``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contextbridge.delivery.sink import BatchFailure, BatchResult, Entity, EntityBatch, chunks
from contextbridge.entities.rdf.literals import iri
from contextbridge.entities.updates import REPLACE, UpdatePolicy
from contextbridge.errors import GraphStoreError, SinkRefused
from contextbridge.outbox.ordering import observation_time, stale_reason
from contextbridge.remote.problemdetails import BAD_REQUEST_DATA, problem
from contextbridge.sinks.graph.base import GraphStore

_OBSERVED_AT = "https://uri.etsi.org/ngsi-ld/observedAt"
_HAS_VALUE = "https://uri.etsi.org/ngsi-ld/hasValue"


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
        """Write the batch; a refusal of the store refuses it. A version older than the state held
        is refused as stale, or (history) only recorded."""
        held = await self._observed(batch, tenant)
        older = {
            entity_id: (moment, held[entity_id])
            for entity_id, entity in zip(batch.ids, batch.entities, strict=True)
            if entity_id in held
            and (moment := observation_time(entity)) is not None
            and moment < held[entity_id]
        }
        if not older:
            return await self._write(batch, tenant, policy)
        past = EntityBatch([entity for entity in batch.entities if str(entity.get("id")) in older])
        failures: tuple[BatchFailure, ...] = ()
        if policy.history:
            await self.store.upsert(past.entities, tenant=tenant, policy=policy, state=False)
            done = tuple(past.ids)
        else:
            done = ()
            failures = tuple(
                BatchFailure(entity_id, {**stale_reason(*older[entity_id]), "status": 409})
                for entity_id in past.ids
            )
        rest = EntityBatch([entity for entity in batch.entities if str(entity.get("id")) not in older])
        written = await self._write(rest, tenant, policy) if rest.entities else BatchResult()
        return BatchResult(success=(*written.success, *done), errors=(*written.errors, *failures))

    async def _observed(self, batch: EntityBatch, tenant: str | None) -> dict[str, float]:
        """When the state the graph holds of each entity of ``batch`` was observed (those it knows)."""
        values = " ".join(iri(entity_id) for entity_id in dict.fromkeys(batch.ids))
        if not values:
            return {}
        found = await self.store.query(
            f"SELECT ?e ?t ?d WHERE {{ VALUES ?e {{ {values} }} ?e ?p ?n . "
            f"{{ ?n <{_OBSERVED_AT}> ?t }} UNION {{ ?n <{_HAS_VALUE}> ?d }} "
            'FILTER(BOUND(?t) || STRENDS(STR(?p), "/dateObserved")) }',
            tenant=tenant,
            limit=100_000,
        )
        observed: dict[str, float] = {}
        dated: dict[str, float] = {}
        for subject, moment, date in found.rows:
            entity_id = getattr(subject, "value", None)
            for text, into in ((moment, observed), (date, dated)):
                when = _instant(getattr(text, "value", None))
                if isinstance(entity_id, str) and when is not None:
                    into[entity_id] = max(when, into.get(entity_id, when))
        return {**dated, **observed}

    async def _write(self, batch: EntityBatch, tenant: str | None, policy: UpdatePolicy) -> BatchResult:
        """Write the entities: those the graph cannot hold fail alone, a refusal of the store
        refuses the batch (the drainer halves it)."""
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


def _instant(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
