"""Packing entities into batch requests Orion-LD accepts (by count and by bytes, one version per id),
and reading its answers.

    >>> [batch.ids for batch in pack(entities, max_count=200, max_bytes=900_000)]
    [('urn:ngsi-ld:ParkingSpot:1', ...), ...]

Orion-LD refuses a payload over 1 MB with 413 and an empty array with 400, and handles a batch
naming the same id twice badly; so a batch is never empty, stays under ``max_bytes``, and keeps
only the latest version of each id. Each entity is encoded once; the request body is the encoded
entities joined, so nothing is serialized twice. Entities already encoded (the outbox stores each
one's JSON) are packed as they are (``pack_encoded``): the drainer sends the stored bytes without
decoding and encoding them again, and the bodies are the very bytes ``pack`` makes of them decoded.

Orion-LD ignores JSON-LD 1.1 type-scoped contexts, and the same short name means different things
in different types (``temperature`` of a WeatherObserved and of an AirQualityObserved). So the
@context URL may be a template with ``{type}`` (``https://cb.example/context.jsonld?type={type}``,
the flat context of one type that the service serves): the entities are then grouped by type, and
each batch names the context of its type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TypeVar
from urllib.parse import quote

import orjson

from ...delivery.sink import BatchFailure, BatchResult, Entity
from ...remote.problemdetails import as_problem

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
LINK_REL = "http://www.w3.org/ns/json-ld#context"

T = TypeVar("T")


@dataclass(frozen=True)
class BrokerBatch:
    """One request body: the ids in it, the JSON array, and whether it carries @context (ld+json)."""

    ids: tuple[str, ...]
    body: bytes
    ld: bool
    context: str | None = None  # the @context URL of this batch (its Link header)

    def __len__(self) -> int:
        return len(self.ids)


def latest_per_id(items: Iterable[T], id_of: Callable[[T], str]) -> list[T]:
    """Keep the last version of each id, at the place of that last version."""
    last: dict[str, T] = {}
    for item in items:
        entity_id = id_of(item)
        last.pop(entity_id, None)  # re-inserting moves it to the end: the order of latest versions
        last[entity_id] = item
    return list(last.values())


def _entity_id(entity: Entity) -> str:
    return str(entity["id"])


def encode(entity: Entity, *, ld: bool, context: str | None) -> bytes:
    """One entity as JSON; with ``ld``, an entity without @context gets the client's (or the core) one."""
    if ld and "@context" not in entity:
        entity = {**entity, "@context": context or CORE_CONTEXT}
    return orjson.dumps(entity)


def pack(
    entities: Sequence[Entity], *, max_count: int, max_bytes: int, context: str | None = None
) -> list[BrokerBatch]:
    """Split ``entities`` into batches of at most ``max_count`` entities and ``max_bytes`` bytes.

    An entity bigger than ``max_bytes`` alone still gets its own batch: the broker's 413 then names
    it, and it is dead-lettered instead of blocking the others.
    """
    unique = latest_per_id(entities, _entity_id)
    if context is None or "{type}" not in context:
        return _pack(unique, max_count, max_bytes, context)
    by_type: dict[str, list[Entity]] = {}
    for entity in unique:
        by_type.setdefault(str(entity.get("type", "")), []).append(entity)
    return [
        batch
        for entity_type, group in by_type.items()
        for batch in _pack(
            group, max_count, max_bytes, context.replace("{type}", quote(entity_type, safe=""))
        )
    ]


def _pack(unique: list[Entity], max_count: int, max_bytes: int, context: str | None) -> list[BrokerBatch]:
    ld = any("@context" in entity for entity in unique)
    encoded = [(str(entity["id"]), encode(entity, ld=ld, context=context)) for entity in unique]
    return _join(encoded, max_count, max_bytes, ld, context)


def pack_encoded(
    entities: Sequence[tuple[str, bytes]], *, max_count: int, max_bytes: int, context: str | None = None
) -> list[BrokerBatch]:
    """``pack`` of entities given as (id, JSON object) pairs, without decoding them: the same
    batches, byte for byte, as ``pack`` of the decoded entities (with their keys in the order
    of the JSON). A per-type @context (``{type}``) needs each entity's type: those are decoded."""
    if context is not None and "{type}" in context:
        return pack([orjson.loads(body) for _, body in entities], max_count=max_count,
                    max_bytes=max_bytes, context=context)  # fmt: skip
    unique = latest_per_id(entities, itemgetter(0))
    carries = [_has_context(body) for _, body in unique]
    ld = any(carries)
    if not ld:
        return _join(unique, max_count, max_bytes, ld, context)
    # As ``encode`` does, the context goes last into those that lack it: ``{..., "@context": ...}``
    # (an entity is never ``{}``: it has an id).
    tail = b'"@context":' + orjson.dumps(context or CORE_CONTEXT) + b"}"
    encoded = [
        (entity_id, body if has else body[:-1] + b"," + tail)
        for (entity_id, body), has in zip(unique, carries, strict=True)
    ]
    return _join(encoded, max_count, max_bytes, ld, context)


def _has_context(body: bytes) -> bool:
    """Whether the JSON object ``body`` has an ``@context`` of its own: decoded only when the
    name appears in it at all (an attribute's value may hold one too)."""
    return b'"@context"' in body and "@context" in orjson.loads(body)


def _join(
    encoded: list[tuple[str, bytes]], max_count: int, max_bytes: int, ld: bool, context: str | None
) -> list[BrokerBatch]:
    """The encoded entities in batches: each body the JSON array of them, joined as they are."""
    batches: list[BrokerBatch] = []
    ids: list[str] = []
    parts: list[bytes] = []
    size = 2  # the brackets
    for entity_id, part in encoded:
        if parts and (len(parts) >= max_count or size + len(part) + 1 > max_bytes):
            batches.append(BrokerBatch(tuple(ids), b"[" + b",".join(parts) + b"]", ld, context))
            ids, parts, size = [], [], 2
        ids.append(entity_id)
        parts.append(part)
        size += len(part) + 1
    if parts:
        batches.append(BrokerBatch(tuple(ids), b"[" + b",".join(parts) + b"]", ld, context))
    return batches


def link_header(context: str) -> str:
    return f'<{context}>; rel="{LINK_REL}"; type="application/ld+json"'


def batch_result(status: int, body: Any, sent: Sequence[str]) -> BatchResult:
    """Read the answer to a batch create/upsert/update: 201 and 204 succeed for all, 207 per entity.

    >>> failed = {"entityId": "urn:b", "error": {"type": BAD_REQUEST_DATA, "title": "Invalid entity"}}
    >>> result = batch_result(207, {"success": ["urn:a"], "errors": [failed]}, ["urn:a", "urn:b"])
    >>> result.success, [failure.entity_id for failure in result.errors]
    (('urn:a',), ['urn:b'])
    """
    if status in (200, 201, 204):
        return BatchResult(success=tuple(sent))
    if not isinstance(body, dict):
        return BatchResult(missing=tuple(sent))
    success = [str(entity_id) for entity_id in body.get("success") or ()]
    errors = []
    for item in body.get("errors") or ():
        if not isinstance(item, dict):
            continue
        entity_id = str(item.get("entityId", ""))
        errors.append(BatchFailure(entity_id, as_problem(item.get("error"), status=400)))
    named = set(success) | {failure.entity_id for failure in errors}
    return BatchResult(
        success=tuple(success),
        errors=tuple(errors),
        missing=tuple(entity_id for entity_id in sent if entity_id not in named),
    )
