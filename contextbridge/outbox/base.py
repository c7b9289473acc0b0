"""The outbox: a durable queue between translation and the sinks, with its dead-letter queue.

    >>> outbox = open_outbox(".contextbridge")            # SQLite in WAL mode, in that directory
    >>> outbox = open_outbox("postgresql://cb@db/city")   # several workers share one queue
    >>> await outbox.put(entities, tenant="santander", feed="santander-parking")
    >>> batch = await outbox.claim("broker", limit=200, lease=60)
    >>> await outbox.ack("broker", delivered)             # or dead_letter(...), release(...)

Each entry is pending once per sink (the broker now, the city graph later), and each sink acks
at its own pace. Versions never go backwards: each carries an ordering key (its latest
``observedAt``, else its ``dateObserved``, else the time it was put, see ``ordering``), and one
older than a version stored already for its entity and sink is ``stale``: kept beside the dead
letters (reason type ``STALE``), never delivered unless replayed with ``force``. Claims are
leases kept alive by a heartbeat (``liveness``). Delivery is at least once and per entity id in order: a sink never holds two
claims on one (tenant, id), and a newer version of an entity supersedes the versions of it still
waiting (``supersede``), so a backlog drains in the least work. The version's ``UpdatePolicy``
(stored beside it) says how: a whole state (replace) supersedes; a partial one (merge) is merged
into the version waiting before it, newest attribute wins (counted ``merged``); with history no
version is superseded nor merged, each reaches the sink in order. A version equal to the one last
delivered, or to the one waiting, is not queued again (``skip_unchanged``): re-running a feed after
a crash resends nothing that is already there.

The dead-letter queue keeps what a sink refused (with the broker's ProblemDetails) and the
records the translator rejected (sink ``translate``), so nothing disappears silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from ..delivery.sink import Entity
from ..entities.updates import REPLACE, UpdatePolicy
from ..errors import RecordError
from ..storage.database import is_postgres

TRANSLATE = "translate"  # the dead-letter sink of records the translator rejected


@dataclass(frozen=True, slots=True)
class Entry:
    """One version of an entity waiting for one sink (claimed by the caller).

    ``body`` is the entity's JSON exactly as stored at put (sorted keys): a sink that takes
    encoded entities can send it as it is. ``entity`` decodes it at each access, and keeps
    nothing: a drainer holds thousands of entries in flight, and entities decoded only while a
    request is built are freed at once instead of growing the heap the garbage collector scans.
    """

    seq: int
    sink: str
    tenant: str | None
    entity_id: str
    body: bytes
    feed: str | None = None
    attempts: int = 0
    first_attempt: float | None = None
    created: float = 0.0
    policy: UpdatePolicy = REPLACE  # replace or merge, with history or not
    token: str | None = None  # the claim's: another worker taking the entry over gives it another

    @property
    def entity(self) -> dict[str, Any]:
        """The entity (a new dict at each access)."""
        entity: dict[str, Any] = orjson.loads(self.body)
        return entity


@dataclass(frozen=True)
class PutResult:
    """What ``put`` did, counted per (entity, sink)."""

    queued: int = 0
    superseded: int = 0
    unchanged: int = 0
    merged: int = 0  # partial versions merged into a version still waiting
    stale: int = 0  # older than a version stored already: kept beside the dead letters


@dataclass(frozen=True)
class DeadLetter:
    """A refused entity (or a rejected record, sink ``translate``) and why."""

    id: int
    sink: str
    tenant: str | None
    entity_id: str | None
    feed: str | None
    data: Any
    reason: dict[str, Any]
    attempts: int
    first_attempt: float | None
    last_attempt: float | None
    created: float


@dataclass(frozen=True)
class SinkStatus:
    """A sink's queue: waiting (of which in flight), done, superseded, dead letters, oldest wait,
    the partial versions merged into a waiting one, the versions found stale (older than one
    stored already), and the claims taken back from workers that stopped (``reclaimed``).

    Every version stored ends in exactly one of delivered, superseded, merged, stale and
    dead-lettered (``settled``); until then it is pending."""

    sink: str
    pending: int
    in_flight: int
    delivered: int
    superseded: int
    dead_letters: int
    oldest_pending: float | None  # creation time (epoch seconds) of the oldest waiting entry
    merged: int = 0
    stale: int = 0
    reclaimed: int = 0
    dead_lettered: int = 0  # versions ever dead-lettered (``dead_letters``: those still kept)

    @property
    def settled(self) -> int:
        return self.delivered + self.superseded + self.merged + self.stale + self.dead_lettered


@dataclass(frozen=True)
class ReplayResult:
    """``replayed`` went back to the queue; ``stale`` were older than what the sink has since
    received (kept, use ``force``); ``skipped`` cannot be replayed (rejected records)."""

    replayed: int = 0
    stale: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters: each field given narrows the selection (``None``: any).

        >>> DeadLetterFilter(sink="broker", type="https://uri.etsi.org/ngsi-ld/errors/BadRequestData")
        >>> DeadLetterFilter(tenants=frozenset({"porto"}), feed_tenants={"bus": "porto"})

    ``type`` is the reason's ``type`` (a ProblemDetails type, or a rejected record's kind).
    ``tenants`` are the letters' tenants as stored (``""`` for none). A rejected record carries
    no tenant of its own: ``feed_tenants`` gives it its feed's (feed id → tenant, ``""`` for none),
    so that a tenant's rejected records are found with its refused entities.
    """

    ids: tuple[int, ...] | None = None
    sink: str | None = None
    feed: str | None = None
    type: str | None = None
    tenants: frozenset[str] | None = None
    feed_tenants: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadLetterCounts:
    """How many dead letters a filter selects, and how they split by sink, feed and reason type.

    >>> counts = await outbox.dead_letter_counts(DeadLetterFilter(tenants=frozenset({"porto"})))
    >>> counts.count, counts.facets["feed"]            # 12, {"buses": 9, "parking": 3}
    >>> counts.narrowed(sink="broker")                 # how many of those are the broker's
    """

    groups: tuple[tuple[str, str | None, str | None, int], ...]  # (sink, feed, type, how many)

    @property
    def count(self) -> int:
        return sum(group[3] for group in self.groups)

    @property
    def facets(self) -> dict[str, dict[str, int]]:
        """How many per sink, per feed and per type (letters without a feed or type are not counted there)."""
        found: dict[str, dict[str, int]] = {"sink": {}, "feed": {}, "type": {}}
        for sink, feed, kind, count in self.groups:
            for name, value in (("sink", sink), ("feed", feed), ("type", kind)):
                if value is not None:
                    found[name][value] = found[name].get(value, 0) + count
        return found

    def narrowed(self, *, sink: str | None = None, feed: str | None = None, type: str | None = None) -> int:
        """How many of them also have this sink, feed and type (``None``: any)."""
        return sum(
            count
            for group_sink, group_feed, group_type, count in self.groups
            if sink in (None, group_sink) and feed in (None, group_feed) and type in (None, group_type)
        )


class Outbox(Protocol):
    """The outbox interface every backend implements (one shared test suite runs on each)."""

    async def put(
        self,
        entities: Iterable[Entity],
        *,
        tenant: str | None = None,
        feed: str | None = None,
        sinks: Sequence[str] | None = None,
        policy: UpdatePolicy | None = None,
    ) -> PutResult: ...

    async def reject(
        self, errors: Iterable[RecordError], *, feed: str | None = None, tenant: str | None = None
    ) -> int: ...

    async def claim(self, sink: str, *, limit: int, lease: float) -> list[Entry]: ...

    async def renew(self, sink: str, entries: Sequence[Entry], *, lease: float) -> list[Entry]: ...

    async def fence(self, sink: str, entries: Sequence[Entry]) -> list[Entry]: ...

    async def ack(self, sink: str, entries: Sequence[Entry], *, superseded: Sequence[Entry] = ()) -> None: ...

    async def release(self, sink: str, entries: Sequence[Entry], *, error: str | None = None) -> None: ...

    async def abandon(self, sink: str) -> int: ...

    async def dead_letter(
        self, sink: str, failures: Sequence[tuple[Entry, Mapping[str, Any]]], *, attempts: int = 1
    ) -> None: ...

    async def pending(self, sink: str) -> int: ...

    async def status(self) -> list[SinkStatus]: ...

    async def dead_letters(
        self,
        *,
        sink: str | None = None,
        limit: int = 100,
        offset: int = 0,
        where: DeadLetterFilter | None = None,
    ) -> list[DeadLetter]: ...

    async def dead_letter_counts(self, where: DeadLetterFilter | None = None) -> DeadLetterCounts: ...

    async def dead_letter_entry(self, dead_letter_id: int) -> DeadLetter | None: ...

    async def replay(
        self,
        ids: Sequence[int] | None = None,
        *,
        sink: str | None = None,
        force: bool = False,
        where: DeadLetterFilter | None = None,
    ) -> ReplayResult: ...

    async def purge(
        self,
        ids: Sequence[int] | None = None,
        *,
        sink: str | None = None,
        where: DeadLetterFilter | None = None,
    ) -> int: ...

    async def close(self) -> None: ...


def open_outbox(
    location: str | Path,
    *,
    sinks: Sequence[str] = ("broker",),
    supersede: bool = True,
    skip_unchanged: bool = True,
    schema: str = "contextbridge",
    liveness: float | None = None,
) -> Outbox:
    """The outbox at ``location``: a ``postgresql://`` URL, else a state directory (SQLite in it).

    ``liveness``: seconds a worker's claims outlive its last heartbeat (default 10)."""
    text = str(location)
    options: dict[str, Any] = {
        "sinks": tuple(sinks),
        "supersede": supersede,
        "skip_unchanged": skip_unchanged,
    }
    if liveness is not None:
        options["liveness"] = liveness
    if is_postgres(text):
        from .postgres import PostgresOutbox

        return PostgresOutbox(text, schema=schema, **options)
    from .sqlite import SqliteOutbox

    return SqliteOutbox(Path(text), **options)
