"""What every live source yields: a ``Message`` (raw bytes + where they came from), and the ``Source`` protocol.

    >>> async for message in source.messages():
    ...     with message.open() as stream:
    ...         records = records_with_metadata(fmt.parse(stream, source=message.name), message.metadata)
    ...         for outcome in translator.translate(records, source=message.name):
    ...             ...                 # into the outbox
    ...     await message.ack()         # the records are durable: the source may confirm upstream

A source knows nothing of formats or mappings: it hands over bytes (or, for files, a path to
stream from) plus metadata: the MQTT topic and its named levels, the HTTP URL and headers, the
file name, the time of receipt. ``records_with_metadata`` puts that metadata in each parsed record
under a reserved key (``_source``), so a mapping reads ``_source.device`` like any other path.

Delivery: ``ack()`` is the consumer's promise that the message's records are stored. Sources that
can hold back their upstream confirmation (MQTT PUBACK, the webhook's HTTP answer, the file state,
the HTTP validators) wait for it; a message never acked is read again after a restart. That is
at-least-once: a crash between the outbox write and ``ack()`` gives a duplicate, which the
idempotent NGSI-LD upserts absorb.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from ..errors import FormatError
from ..language.fieldpaths import METADATA_FIELD

__all__ = ["METADATA_FIELD", "Message", "Source", "pause", "records_with_metadata", "utc_now"]


Ack = Callable[[], Awaitable[None]]
Nack = Callable[[BaseException], Awaitable[None]]


def utc_now() -> str:
    """The time of receipt as the mappings read it: ISO 8601, UTC, milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def pause(closed: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, but wake up at once when ``closed`` is set (a source being closed)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closed.wait(), timeout=seconds)


async def _nothing(*_: Any) -> None:
    return None


@dataclass(frozen=True, eq=False)
class Message:
    """One unit a source received: a payload (bytes, or a file to stream) and its metadata.

    ``name`` labels the message in errors (``topic``, URL, file name). ``open()`` gives a binary
    stream in both cases, so a format parses a 2 GB file without loading it. ``ack()`` confirms
    the message once its records are durably stored; ``nack(error)`` says they could not be.
    """

    name: str
    metadata: Mapping[str, Any]
    payload: bytes | None = None
    path: Path | None = None
    _ack: Ack = field(default=_nothing, repr=False)
    _nack: Nack = field(default=_nothing, repr=False)

    def __post_init__(self) -> None:
        if (self.payload is None) == (self.path is None):
            raise ValueError("a Message holds either a payload or a path")

    def open(self) -> BinaryIO:
        """A fresh binary stream over the payload; the caller closes it."""
        if self.path is not None:
            return self.path.open("rb")
        return io.BytesIO(self.payload or b"")

    def read(self) -> bytes:
        """The whole payload in memory (small messages; use ``open()`` for files)."""
        if self.payload is not None:
            return self.payload
        with self.open() as stream:
            return stream.read()

    async def ack(self) -> None:
        """The records of this message are durably stored: confirm upstream (idempotent per source)."""
        await self._ack()

    async def nack(self, error: BaseException) -> None:
        """The records could not be stored; the source does not confirm (the sender may retry)."""
        await self._nack(error)


@runtime_checkable
class Source(Protocol):
    """A live feed: an async stream of messages, closed when the feed stops.

    ``messages()`` runs until ``close()`` is called or, for one-shot sources, until done.
    """

    kind: str

    def messages(self) -> AsyncIterator[Message]: ...

    async def close(self) -> None: ...


def records_with_metadata(
    records: Iterable[dict[str, Any] | FormatError],
    metadata: Mapping[str, Any],
    field: str = METADATA_FIELD,
) -> Iterator[dict[str, Any] | FormatError]:
    """Put ``metadata`` in every parsed record under ``field``; parse errors pass through.

    Every format yields plain dicts (CSV rows too: column name → string), and field paths are
    dict look-ups, so ``_source.device`` or ``_source.headers.x-gateway`` need nothing new in the
    mapping language. The one mapping is shared, not copied, per record; the reserved key wins over
    a record field of the same name (the feed's own data is still reachable from the message).
    """
    for record in records:
        if isinstance(record, dict):
            record[field] = metadata
        yield record
