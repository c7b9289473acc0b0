"""A feed at work: its source's messages, parsed and translated, into the outbox.

    >>> runner = FeedRunner("parking", source, load_mapping("mappings/santander-parking.yaml"), outbox)
    >>> stats = await runner.run()        # until the source ends (one-shot) or runner.stop()

A producer task pulls messages from the source into a small bounded queue; the consumer takes
whatever has queued up (up to ``batch_size`` entities' worth), translates it and writes it to the
outbox in one transaction, then acks those messages. Batches form by themselves: when messages
arrive faster than the outbox writes, the next batch is larger; when they trickle, each goes
alone, without waiting. The bounded queue is the backpressure: a slow outbox slows the intake
(an MQTT client stops reading, an HTTP poll waits) instead of filling memory.

A message is acked only once its entities are in the outbox and its rejected records in the
dead-letter queue, so a crash before that leaves it unconfirmed upstream: at least once. A
message the outbox could not take (a full disk, a lost database) is nacked and the feed goes on
with the next after a pause.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..entities.constraints import Constraints
from ..entities.updates import UpdatePolicy
from ..errors import FormatError, RecordError
from ..language.fieldpaths import METADATA_FIELD
from ..language.mapping import Mapping
from ..language.translator import TranslationStats, Translator
from ..outbox import Outbox
from ..sources import Message, Source, records_with_metadata

log = logging.getLogger(__name__)

PUT_BATCH_SIZE = 1000  # entities per outbox transaction
LOGGED_REJECTS = 100  # rejected records logged one by one per feed; then one line per thousand
DEFAULT_QUEUE_SIZE = 256  # messages read ahead of the outbox
RETRY_PAUSE = 1.0  # seconds after the outbox refused a write
RAW_LIMIT = 1 << 20  # bytes of an unparsable message kept in its dead letter


@dataclass
class FeedStats:
    """What a feed has done since it started (read by the metrics; written by one task only)."""

    messages: int = 0
    stored: int = 0  # entities written to the outbox
    store_failures: int = 0
    last_message: float | None = None  # epoch seconds


def unparsed(message: Message) -> dict[str, Any]:
    """What the dead letter of a message that could not be parsed keeps: its raw bytes (the first
    ``RAW_LIMIT``; text when UTF-8, else base64) and size, and where it came from. A pushed message
    (webhook, MQTT) also gets an id of its own: two identical bodies are two deliveries, two
    letters; a file read again is the same letter."""
    with message.open() as stream:
        raw = stream.read(RAW_LIMIT + 1)
        size = stream.seek(0, 2)  # the end: the whole message's size, however much was read
    raw = raw[:RAW_LIMIT]
    try:
        kept = {"raw": raw.decode("utf-8"), "encoding": "utf-8"}
    except UnicodeDecodeError:
        kept = {"raw": base64.b64encode(raw).decode("ascii"), "encoding": "base64"}
    found: dict[str, Any] = {**kept, "size": size, "truncated": size > RAW_LIMIT}
    if message.payload is not None:
        found["message"] = uuid.uuid4().hex
    found[METADATA_FIELD] = dict(message.metadata)
    return found


class FeedRunner:
    """One feed: a source and a mapping, into the outbox under the feed's id and tenant."""

    def __init__(
        self,
        feed_id: str,
        source: Source,
        mapping: Mapping,
        outbox: Outbox,
        *,
        tenant: str | None = None,
        batch_size: int = PUT_BATCH_SIZE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        constraints: Constraints | None = None,
        constraints_mode: str | None = None,
        policy: UpdatePolicy | None = None,
    ) -> None:
        self.id = feed_id
        self.policy = policy or mapping.policy()  # replace or merge, history: how the sinks take them
        self.source = source
        self.translator = Translator(mapping, constraints=constraints, mode=constraints_mode)
        self.outbox = outbox
        self.tenant = tenant
        self.batch_size = batch_size
        self.stats = FeedStats()
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=queue_size)

    @property
    def translation(self) -> TranslationStats:
        return self.translator.stats

    async def run(self) -> FeedStats:
        """Take messages until the source ends or ``stop()``; what was taken is in the outbox."""
        producer = asyncio.create_task(self._produce(), name=f"feed {self.id}: source")
        try:
            await self._consume()
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
        return self.stats

    async def stop(self) -> None:
        """Stop the intake; the messages already taken are still translated and stored."""
        await self.source.close()

    async def _produce(self) -> None:
        try:
            async for message in self.source.messages():
                await self._queue.put(message)
        except Exception:
            log.exception("feed %s: the source failed", self.id)
        finally:
            await self._queue.put(None)

    async def _consume(self) -> None:
        while True:
            message = await self._queue.get()
            if message is None:
                return
            batch = [message]
            ended = False
            while not self._queue.empty() and len(batch) < self.batch_size:
                queued = self._queue.get_nowait()
                if queued is None:
                    ended = True
                    break
                batch.append(queued)
            await self._store(batch)
            if ended:
                return

    async def _store(self, messages: Sequence[Message]) -> None:
        entities: list[dict[str, Any]] = []
        rejected: list[RecordError] = []
        try:
            for message in messages:
                self.stats.messages += 1
                self.stats.last_message = time.time()
                with message.open() as stream:
                    records = self.translator.mapping.source_format.parse(stream, source=message.name)
                    for outcome in self.translator.translate(
                        records_with_metadata(records, message.metadata), source=message.name
                    ):
                        if isinstance(outcome, RecordError):
                            if isinstance(outcome, FormatError) and outcome.data is None:
                                outcome.data = unparsed(message)
                            rejected.append(outcome)
                            self._log_reject(outcome)
                        else:
                            entities.append(outcome)
                            if len(entities) >= self.batch_size:  # a big file: flush as it streams
                                await self._write(entities, ())
                                entities = []
            await self._write(entities, rejected)
        except Exception as error:  # the outbox could not take them: unconfirmed upstream
            self.stats.store_failures += 1
            log.error("feed %s: %d messages not stored: %s", self.id, len(messages), error)
            for message in messages:
                await message.nack(error)
            await asyncio.sleep(RETRY_PAUSE)
            return
        for message in messages:
            await message.ack()

    def _log_reject(self, error: RecordError) -> None:
        count = self.translator.stats.rejected
        if count <= LOGGED_REJECTS or count % 1000 == 0:
            where = {"feed": self.id, "source": error.source, "record": error.record, "field": error.field}
            log.warning("record rejected (%d so far): %s", count, error.reason, extra=where)

    async def _write(self, entities: list[dict[str, Any]], rejected: Sequence[RecordError]) -> None:
        if entities:
            await self.outbox.put(entities, tenant=self.tenant, feed=self.id, policy=self.policy)
            self.stats.stored += len(entities)
        if rejected:
            await self.outbox.reject(rejected, feed=self.id, tenant=self.tenant)
