"""NATS JetStream: a durable work queue that many workers share, acked after storage (nats-py).

    >>> source = JetStreamSource("nats://127.0.0.1:4222", ["santander.*device.attrs"],
    ...                          stream="CITY", durable="contextbridge")
    >>> async for message in source.messages():   # metadata: subject, device, stream, sequence, ...
    ...     ...                                    # records into the outbox
    ...     await message.ack()                    # only now is the message acknowledged

The stream keeps every message published on its subjects (by NATS clients, or by MQTT devices
through the NATS server's own MQTT listener, which turns ``santander/sensor-1/attrs`` into the
subject ``santander.sensor-1.attrs``). One durable *pull* consumer is shared by every worker: each
fetches up to ``batch`` messages at a time, and each message goes to one worker. Both are created
when missing (the same request from several workers at once is idempotent); an existing stream or
consumer is used as it is.

Delivery: a message is acknowledged (``+ACK``) only from ``Message.ack()``, once the outbox
committed its records. A worker that dies or freezes does not ack: after ``ack_wait`` seconds the
server hands the message to another worker. At most ``max_ack_pending`` messages are out without
an ack across all workers, then the server sends no more: that is the backpressure. A nack
(``Message.nack``, the outbox could not store) asks for redelivery after ``nak_delay`` seconds.
At-least-once: a worker that stored a message but died before its ack, or acked after
``ack_wait``, gives a duplicate, which the idempotent NGSI-LD upserts absorb.

Named tokens: ``*name`` is the one-token wildcard ``*`` whose value goes to metadata ``name``, and
``>name`` (last token only) is ``>`` with the rest of the subject; the mapping reads them as
``_source.name``, like the MQTT source's named topic levels.

Reconnection: nats-py reconnects by itself (forever, every ``reconnect_wait`` seconds) and the
pull subscription carries on; a first connection that fails is tried again with the backoff.
A refused authorization is a ConfigError: retrying would not cure it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from ..errors import ConfigError
from ..remote.retry import RetryPolicy
from .base import Message, pause, utc_now
from .mqtt import tls_context
from .settings import Settings
from .topics import RESERVED as MQTT_RESERVED

__all__ = ["JetStreamSource", "SubjectFilter"]

log = logging.getLogger(__name__)

RESERVED = MQTT_RESERVED | {"subject", "stream", "sequence", "delivered"}
FETCH_WAIT = 1.0  # seconds a fetch waits for messages before it asks again (and sees a close)


@dataclass(frozen=True)
class SubjectFilter:
    """A subject filter whose wildcard tokens may have names: ``santander.*device.>rest``."""

    pattern: str
    filter: str  # as the server sees it
    single: tuple[tuple[int, str], ...]
    multi: tuple[int, str] | None

    @classmethod
    def parse(cls, pattern: str, *, key: str = "subject") -> SubjectFilter:
        if not isinstance(pattern, str) or not pattern or " " in pattern:
            raise ConfigError(f"{key}: expected a NATS subject filter, got {pattern!r}", key=key)
        tokens = pattern.split(".")
        plain: list[str] = []
        single: list[tuple[int, str]] = []
        multi: tuple[int, str] | None = None
        for index, token in enumerate(tokens):
            wildcard = token[:1] if token[:1] in ("*", ">") else ""
            name = token[1:] if wildcard else ""
            if not token or (not wildcard and ("*" in token or ">" in token)):
                raise ConfigError(
                    f"{key}: {pattern!r}: a wildcard must fill a whole token ({token!r})", key=key
                )
            if wildcard == ">" and index != len(tokens) - 1:
                raise ConfigError(f"{key}: {pattern!r}: '>' must be the last token", key=key)
            if name and (not name.isidentifier() or name in RESERVED or name in {n for _, n in single}):
                raise ConfigError(
                    f"{key}: {pattern!r}: {name!r} is no free name (reserved: {', '.join(sorted(RESERVED))})",
                    key=key,
                )
            if name and wildcard == "*":
                single.append((index, name))
            elif name:
                multi = (index, name)
            plain.append(wildcard or token)
        return cls(pattern, ".".join(plain), tuple(single), multi)

    def tokens(self, subject: str) -> dict[str, str]:
        """The values of the named tokens in ``subject`` (which the filter matched)."""
        parts = subject.split(".")
        values = {name: parts[index] for index, name in self.single if index < len(parts)}
        if self.multi is not None:
            values[self.multi[1]] = ".".join(parts[self.multi[0] :])
        return values

    def matches(self, subject: str) -> bool:
        parts, tokens = subject.split("."), self.filter.split(".")
        if tokens[-1] == ">":
            return len(parts) >= len(tokens) and all(
                t in ("*", p) for t, p in zip(tokens[:-1], parts, strict=False)
            )
        return len(parts) == len(tokens) and all(t in ("*", p) for t, p in zip(tokens, parts, strict=True))


class JetStreamSource:
    """Messages of one durable pull consumer on a JetStream stream, with the named subject tokens."""

    kind = "jetstream"

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        subjects: Sequence[str] = ("contextbridge.>",),
        *,
        stream: str = "CONTEXTBRIDGE",
        durable: str = "contextbridge",
        ack_wait: float = 30.0,
        max_ack_pending: int = 1000,
        batch: int = 100,
        nak_delay: float = 5.0,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        creds: str | None = None,
        tls: ssl.SSLContext | None = None,
        reconnect_wait: float = 2.0,
        backoff: RetryPolicy | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise ConfigError(
                f"url: expected nats://host[:port] or tls://host[:port], got {url!r}", key="url"
            )
        self.filters = tuple(SubjectFilter.parse(subject) for subject in subjects)
        if not self.filters:
            raise ConfigError("subject: at least one subject filter is needed", key="subject")
        for name, value in (("stream", stream), ("durable", durable)):
            if not value or any(c in value for c in ". *>\t"):
                raise ConfigError(f"{name}: a name without '.', '*', '>' or spaces, got {value!r}", key=name)
        self.url = url
        self.stream = stream
        self.durable = durable
        self.ack_wait = ack_wait
        self.max_ack_pending = max_ack_pending
        self.batch = batch
        self.nak_delay = nak_delay
        self.reconnect_wait = reconnect_wait
        self.options: dict[str, Any] = {
            key: value
            for key, value in {
                "user": username,
                "password": password,
                "token": token,
                "user_credentials": creds,
            }.items()
            if value is not None
        }
        self.tls = (
            tls if tls is not None else (ssl.create_default_context() if parts.scheme == "tls" else None)
        )
        self.backoff = backoff or RetryPolicy(initial=0.5, maximum=30.0, attempts=None)
        self.connections = 0
        self.bound = 0  # pull subscriptions bound to the consumer (the stream and consumer exist)
        self.received = 0
        self.acked = 0
        self._client: Client | None = None
        self._closing = False
        self._closed = asyncio.Event()
        self._outstanding = 0  # messages handed out and neither acked nor nacked
        self._settled = asyncio.Event()
        self._settled.set()

    async def _connect(self) -> Client:
        failures = 0
        while True:
            try:
                return await nats.connect(
                    self.url, tls=self.tls, allow_reconnect=True, max_reconnect_attempts=-1,
                    reconnect_time_wait=self.reconnect_wait, connect_timeout=5, error_cb=self._error,
                    **self.options,
                )  # fmt: skip
            except (nats.errors.Error, OSError) as error:
                if "authorization" in str(error).lower():
                    raise ConfigError(f"jetstream source {self.url}: {error}", key="url") from error
                failures += 1
                wait = self.backoff.delay(failures)
                log.warning("jetstream source %s: %r; trying again in %.1f s", self.url, error, wait)
            await pause(self._closed, wait)
            if self._closing:
                raise asyncio.CancelledError

    async def _error(self, error: Exception) -> None:
        """nats-py's connection errors, in one line each (its default logs a traceback per attempt)."""
        log.warning("jetstream source %s: %r", self.url, error)

    async def _bind(self, client: Client) -> Any:
        """The stream and the durable consumer, created if missing; a pull subscription bound to it."""
        js = client.jetstream()
        subjects = [f.filter for f in self.filters]
        try:
            await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(StreamConfig(name=self.stream, subjects=subjects, storage=StorageType.FILE))
        try:
            info = await js.consumer_info(self.stream, self.durable)
            config = info.config
            if (config.ack_wait, config.max_ack_pending) != (self.ack_wait, self.max_ack_pending):
                log.warning(
                    "jetstream source %s: consumer %s exists with ack_wait %s s and max_ack_pending %s: "
                    "those apply, not the configured %s s and %s",
                    self.url, self.durable, config.ack_wait, config.max_ack_pending,
                    self.ack_wait, self.max_ack_pending,
                )  # fmt: skip
        except nats.js.errors.NotFoundError:
            await js.add_consumer(
                self.stream,
                ConsumerConfig(
                    durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                    ack_wait=self.ack_wait, max_ack_pending=self.max_ack_pending,
                    filter_subject=subjects[0] if len(subjects) == 1 else None,
                ),
            )  # fmt: skip
        return await js.pull_subscribe_bind(durable=self.durable, stream=self.stream)

    async def messages(self) -> AsyncIterator[Message]:
        failures = 0
        try:
            client = await self._connect()
        except asyncio.CancelledError:
            return
        self._client = client
        self.connections += 1
        try:
            while not self._closing:
                try:
                    subscription = await self._bind(client)
                    self.bound += 1
                    failures = 0
                    while not self._closing:
                        try:
                            batch = await subscription.fetch(self.batch, timeout=FETCH_WAIT)
                        except nats.errors.TimeoutError:
                            continue
                        for received in batch:
                            self.received += 1
                            self._outstanding += 1
                            self._settled.clear()
                            yield self._message(received)
                except (nats.errors.Error, OSError) as error:
                    if self._closing:
                        break
                    failures += 1
                    wait = self.backoff.delay(failures)
                    log.warning("jetstream source %s: %r; trying again in %.1f s", self.url, error, wait)
                    await pause(self._closed, wait)
        finally:
            # The messages taken are still being stored: their acks need the connection.
            try:
                await asyncio.wait_for(self._settled.wait(), timeout=self.ack_wait)
            except TimeoutError:
                log.info("jetstream source %s: closing with %d messages unacked", self.url, self._outstanding)
            finally:
                if not client.is_closed:
                    await client.close()

    def _done(self) -> None:
        self._outstanding -= 1
        if self._outstanding == 0:
            self._settled.set()

    def _message(self, received: Msg) -> Message:
        subject = received.subject
        metadata: dict[str, Any] = {"subject": subject}
        matched = self.filters[0] if len(self.filters) == 1 else self._match(subject)
        if matched is not None:
            metadata.update(matched.tokens(subject))
        info = received.metadata
        metadata["stream"] = info.stream
        metadata["sequence"] = info.sequence.stream
        metadata["delivered"] = info.num_delivered
        metadata["received_at"] = utc_now()
        done = False

        async def ack() -> None:
            nonlocal done
            if not done:
                done = True
                self._done()
                try:  # the ack subject outlives a reconnection: no generation check
                    await received.ack()
                except nats.errors.Error as error:  # not acked: the server sends it again after ack_wait
                    log.info("jetstream source %s: ack of %s not sent: %s", self.url, subject, error)
                    return
                self.acked += 1

        async def nack(error: BaseException) -> None:
            nonlocal done
            if not done:
                done = True
                self._done()
                with contextlib.suppress(nats.errors.Error):  # else redelivered after ack_wait anyway
                    await received.nak(delay=self.nak_delay)

        return Message(name=subject, metadata=metadata, payload=received.data, _ack=ack, _nack=nack)

    def _match(self, subject: str) -> SubjectFilter | None:
        return next((f for f in self.filters if f.matches(subject)), None)

    async def close(self) -> None:
        """Stop fetching; ``messages()`` ends and the connection is closed."""
        self._closing = True
        self._closed.set()

    @classmethod
    def from_config(cls, settings: Settings, *, base_dir: Path) -> JetStreamSource:
        url = settings.text("url", "nats://127.0.0.1:4222") or "nats://127.0.0.1:4222"
        raw = settings._get("subject", None)
        subjects = [raw] if isinstance(raw, str) else raw
        if not isinstance(subjects, list) or not subjects or not all(isinstance(s, str) for s in subjects):
            settings.problem("subject", f"expected a subject filter or a list of them, got {raw!r}")
            subjects = ["contextbridge.>"]
        options: dict[str, Any] = {
            "stream": settings.text("stream", "CONTEXTBRIDGE"),
            "durable": settings.text("durable", "contextbridge"),
            "ack_wait": settings.number("ack_wait", 30.0),
            "max_ack_pending": settings.integer("max_ack_pending", 1000),
            "batch": settings.integer("batch", 100),
            "nak_delay": settings.number("nak_delay", 5.0),
            "username": settings.text("username"),
            "password": settings.text("password"),
            "token": settings.text("token"),
            "creds": None,
            "tls": tls_context(settings.mapping("tls"), base_dir),
            "reconnect_wait": settings.number("reconnect_wait", 2.0),
            "backoff": RetryPolicy.from_settings(settings.mapping("retry"), attempts=None),
        }
        creds = settings.text("creds")
        if creds is not None:
            if (base_dir / creds).is_file():
                options["creds"] = str(base_dir / creds)
            else:
                settings.problem("creds", f"no such file: {base_dir / creds}")
        try:
            return cls(url, subjects, **options)
        except ConfigError as error:
            settings.problem(error.key or "subject", str(error))
            return cls()
