"""A batch of entities as one block of N-Triples: the latest state of each, invalid ones apart.

batch = convert_batch(converter, entities)
batch.ids        # each entity id once, in first-seen order
batch.ntriples   # their triples (the last version of an entity in the batch wins)
batch.refused    # EntityError of each entity that cannot be written
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contextbridge.errors import EntityError
from contextbridge.rdf import Converter


@dataclass(frozen=True)
class Batch:
    ids: list[str]
    texts: list[str]  # the N-Triples of each entity, in the order of ``ids``
    triples: int
    refused: tuple[EntityError, ...]

    @property
    def ntriples(self) -> str:
        return "".join(self.texts)


def convert_batch(converter: Converter, entities: Iterable[Mapping[str, Any]]) -> Batch:
    latest: dict[str, Mapping[str, Any]] = {}
    refused: list[EntityError] = []
    for entity in entities:
        ident = entity.get("id")
        if not isinstance(ident, str) or not ident:
            refused.append(EntityError("an entity needs an id", attribute="id"))
            continue
        latest.pop(ident, None)  # re-insert: the last version of an entity wins
        latest[ident] = entity
    texts: list[str] = []
    ids: list[str] = []
    for ident, entity in latest.items():
        try:
            texts.append(converter.ntriples(entity))
        except EntityError as error:
            refused.append(error)
            continue
        ids.append(ident)
    return Batch(ids, texts, sum(text.count("\n") for text in texts), tuple(refused))
