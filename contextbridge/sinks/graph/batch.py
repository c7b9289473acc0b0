"""A batch of entities as one block of N-Triples: the latest state of each, invalid ones apart.

batch = convert_batch(converter, entities)
batch.ids        # each entity id once, in first-seen order
batch.ntriples   # their triples (the last version of an entity in the batch wins)
batch.refused    # EntityError of each entity that cannot be written

With a merge policy the versions of an entity are merged (newest attribute wins) and ``targets``
names the attribute instances they replace; with history, ``history`` holds the observations
of every version (``contextbridge.sinks.graph.history``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contextbridge.entities.rdf import Converter
from contextbridge.entities.updates import REPLACE, UpdatePolicy, merge_entities
from contextbridge.errors import EntityError
from contextbridge.sinks.graph.history import attribute_instances, merge_label, observations


@dataclass(frozen=True)
class TripleBatch:
    ids: list[str]
    texts: list[str]  # the N-Triples of each entity, in the order of ``ids``
    triples: int
    refused: tuple[EntityError, ...]
    targets: list[tuple[str, str, str | None]] = field(default_factory=list)  # merge: instances replaced
    history: str = ""  # the observations of every version (N-Triples)

    @property
    def ntriples(self) -> str:
        return "".join(self.texts)


def convert_batch(
    converter: Converter, entities: Iterable[Mapping[str, Any]], policy: UpdatePolicy = REPLACE
) -> TripleBatch:
    latest: dict[str, Mapping[str, Any]] = {}
    refused: list[EntityError] = []
    history: list[str] = []
    for entity in entities:
        ident = entity.get("id")
        if not isinstance(ident, str) or not ident:
            refused.append(EntityError("an entity needs an id", attribute="id"))
            continue
        if policy.history:
            try:
                history.append(observations(converter, entity))
            except EntityError as error:
                error.entity_id = error.entity_id or ident
                refused.append(error)
                continue
        older = latest.pop(ident, None)  # re-insert: the last version of an entity wins
        latest[ident] = merge_entities(older, entity) if policy.merge and older is not None else entity
    texts: list[str] = []
    ids: list[str] = []
    targets: list[tuple[str, str, str | None]] = []
    for ident, entity in latest.items():
        try:
            if policy.merge:
                texts.append(converter.ntriples(entity, label=merge_label(entity)))
                targets.extend(attribute_instances(converter, entity))
            else:
                texts.append(converter.ntriples(entity))
        except EntityError as error:
            error.entity_id = error.entity_id or ident
            refused.append(error)
            continue
        ids.append(ident)
    triples = sum(text.count("\n") for text in texts)
    return TripleBatch(ids, texts, triples, tuple(refused), targets, "".join(history))
