"""MQTT subscription (aiomqtt, MQTT 5): named topic levels, QoS 1 acked after storage, reconnection.

    >>> source = MqttSource("mqtt://127.0.0.1:1883", ["santander/+device/attrs"], qos=1, share="workers")
    >>> async for message in source.messages():   # metadata: topic, device, qos, retain, received_at
    ...     ...                                    # records into the outbox
    ...     await message.ack()                    # only now is the PUBACK sent

Acknowledgement: paho (under aiomqtt) sends the PUBACK of a QoS 1 message as soon as it arrives,
before anything is stored. With ``ack: stored`` (the default) the source turns that off
(paho's manual acknowledgement) and sends the PUBACK from ``Message.ack()``. The client's MQTT 5
*Receive Maximum* (``receive_maximum``) bounds the messages the broker sends without a PUBACK, so
a slow consumer slows the broker down instead of filling memory. ``ack: receipt`` keeps paho's
behaviour (at-most-once past the broker).

What is redelivered, honestly: a message without PUBACK is resent by the broker when the *same
session* reconnects. The session outlives a dropped connection or a restart only with a fixed
``client_id`` and ``session_expiry`` > 0 (then the source connects with clean start off); with the
defaults (a random client id, expiry 0) a message received but not yet acked when the connection
drops is lost. In a shared subscription (``share``) the broker may send the unacknowledged
message to another member when the session ends (MQTT 5 §4.8.2). An ack that arrives after the
connection it came on is gone is dropped (its packet id may belong to a new message by then).

Reconnection: after a dropped connection the source connects again with exponential backoff and
jitter, subscribes again (a clean session has forgotten the subscription) and resumes. Refused
credentials and refused subscriptions are ConfigErrors: retrying would not cure them.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as paho
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..errors import ConfigError
from ..remote.retry import RetryPolicy
from .base import Message, pause, utc_now
from .settings import Settings
from .topics import TopicFilter

__all__ = ["MqttSource"]

BUFFERED = 1000  # messages read off the socket and not yet taken, before reading pauses
CONNECT_TIMEOUT = 5.0  # seconds for the broker's CONNACK before the connect is tried again

log = logging.getLogger(__name__)

# Measured with Mosquitto 2.0 (docs/sources.md, "Shared subscriptions and their limits").
SHARED_SESSION_WARNING = (
    "mqtt source %s: shared subscription %r with a persistent session (client_id %s, session_expiry %d s): "
    "Mosquitto keeps sending this member its share of the messages while it is disconnected, queues them "
    "until the session expires and then discards them (lost), or hands them all at once when it comes back "
    "(older readings stored after newer ones). Give many workers a JetStream source instead "
    "(docs/sources.md), or use clean sessions and accept losing what a dying worker held"
)

# CONNACK reason codes that a new attempt cannot cure (MQTT 5 §3.2.2.2; 4 and 5 in MQTT 3.1.1).
_REFUSED = {4, 5, 133, 134, 135, 138, 140}


class _Client(aiomqtt.Client):
    """aiomqtt's client, whose socket reads pause while too many messages wait to be taken.

    aiomqtt reads whatever the broker sends into an unbounded queue, and Mosquitto does not hold
    back to the Receive Maximum once acks flow (seen: thousands waiting with a maximum of 100).
    So reading stops at ``BUFFERED`` waiting messages and resumes at half that: meanwhile the
    bytes wait in the kernel, TCP flow control holds the broker back, and memory stays flat.
    The reader is aiomqtt's own logic (``loop_read`` until the TLS buffer is empty), registered
    again on resume.
    """

    _fileno = -1
    _paused = False

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._fileno = sock.fileno()
        self._paused = False
        super()._on_socket_open(client, userdata, sock)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        super()._on_message(client, userdata, message)
        if not self._paused and self._queue.qsize() >= BUFFERED and self._fileno > -1:
            self._paused = True
            self._loop.remove_reader(self._fileno)

    def taken(self) -> None:
        """A message was taken from the queue: read again once half the buffer is free."""
        if self._paused and self._queue.qsize() <= BUFFERED // 2:
            self._paused = False
            if self._fileno > -1 and not self._disconnected.done():
                self._loop.add_reader(self._fileno, self._read)

    def _read(self) -> None:
        try:
            while True:
                self._client.loop_read()
                pending = getattr(self._client._sock, "pending", None)  # TLS: decoded bytes left
                if pending is None or pending() == 0:
                    break
        except Exception as error:  # a broken connection: end the message loop, as aiomqtt does
            if not self._disconnected.done():
                self._disconnected.set_exception(error)


class MqttSource:
    """Messages of one or more topic filters, with the values of their named levels."""

    kind = "mqtt"

    def __init__(
        self,
        url: str = "mqtt://127.0.0.1:1883",
        topics: Sequence[str] = ("#",),
        *,
        qos: Literal[0, 1, 2] = 1,
        share: str | None = None,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        keepalive: int = 60,
        session_expiry: int = 0,
        ack: Literal["stored", "receipt"] = "stored",
        receive_maximum: int = 100,
        backoff: RetryPolicy | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(
                f"url: expected mqtt://host[:port] or mqtts://host[:port], got {url!r}", key="url"
            )
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.tls = (
            tls if tls is not None else (ssl.create_default_context() if parts.scheme == "mqtts" else None)
        )
        self.username = (
            username if username is not None else (unquote(parts.username) if parts.username else None)
        )
        self.password = (
            password if password is not None else (unquote(parts.password) if parts.password else None)
        )
        self.filters = tuple(TopicFilter.parse(topic) for topic in topics)
        if not self.filters:
            raise ConfigError("topic: at least one topic filter is needed", key="topic")
        if share is not None and ("/" in share or "+" in share or "#" in share or not share):
            raise ConfigError(f"share: a group name without '/', '+' or '#', got {share!r}", key="share")
        self.qos = qos
        self.share = share
        self.client_id = client_id or f"contextbridge-{uuid.uuid4().hex[:12]}"
        self.keepalive = keepalive
        self.session_expiry = session_expiry
        self.manual_ack = ack == "stored"
        self.receive_maximum = receive_maximum
        if share is not None and session_expiry:
            log.warning(SHARED_SESSION_WARNING, self.url, share, self.client_id, session_expiry)
        self.backoff = backoff or RetryPolicy(initial=0.5, maximum=30.0, attempts=None)
        self.connections = 0  # successful connections (reconnections = connections - 1)
        self.subscribed = 0  # successful subscriptions, one per connection
        self.received = 0
        self.acked = 0
        self._client: aiomqtt.Client | None = None
        self._generation = 0
        self._closing = False
        self._closed = asyncio.Event()

    @property
    def subscriptions(self) -> list[str]:
        return [f.subscription(self.share) for f in self.filters]

    def _new_client(self) -> _Client:
        properties = Properties(PacketTypes.CONNECT)
        properties.ReceiveMaximum = self.receive_maximum
        if self.session_expiry:
            properties.SessionExpiryInterval = self.session_expiry
        client = _Client(
            self.host,
            self.port,
            identifier=self.client_id,
            username=self.username,
            password=self.password,
            protocol=aiomqtt.ProtocolVersion.V5,
            keepalive=self.keepalive,
            # aiomqtt waits 10 s by default for the CONNACK: a connect that hangs after the
            # network came back would keep the feed away that long before the next try.
            timeout=CONNECT_TIMEOUT,
            # A session meant to outlive the connection must not be wiped when connecting again.
            clean_start=paho.MQTT_CLEAN_START_FIRST_ONLY if not self.session_expiry else False,
            properties=properties,
            tls_context=self.tls,
        )
        # aiomqtt has no switch for it: the PUBACK is held back on its paho client (set before connecting).
        _paho(client).manual_ack_set(self.manual_ack)
        return client

    async def messages(self) -> AsyncIterator[Message]:
        failures = 0
        while not self._closing:
            client = self._new_client()
            try:
                async with client:
                    self._client = client
                    self._generation += 1
                    self.connections += 1
                    failures = 0
                    await self._subscribe(client)
                    self.subscribed += 1
                    if self._closing:  # closed while connecting: before the client could be disconnected
                        break
                    generation = self._generation
                    async for received in client.messages:
                        client.taken()
                        self.received += 1
                        yield self._message(client, received, generation)
            except aiomqtt.MqttError as error:
                if self._closing:
                    break
                rc = getattr(error, "rc", None)
                code = getattr(rc, "value", rc)
                if isinstance(error, MqttConnectError) and code in _REFUSED:
                    raise ConfigError(
                        f"{self.url}: connection refused: {error}", key="mqtt.username"
                    ) from error
                failures += 1
                delay = self.backoff.delay(failures)
                log.warning("mqtt source %s: %s; reconnecting in %.1fs", self.url, error, delay)
                await pause(self._closed, delay)
            finally:
                self._client = None

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        wanted: list[tuple[str, int]] = [(topic, self.qos) for topic in self.subscriptions]
        granted = await client.subscribe(wanted)
        for topic, code in zip(self.subscriptions, granted, strict=False):
            value = getattr(code, "value", code)
            if isinstance(value, int) and value >= 0x80:
                raise ConfigError(f"{self.url}: subscription to {topic!r} refused: {code}", key="mqtt.topic")

    def _message(self, client: aiomqtt.Client, received: aiomqtt.Message, generation: int) -> Message:
        topic = received.topic.value
        metadata: dict[str, Any] = {"topic": topic}
        matched = self.filters[0] if len(self.filters) == 1 else self._match(received.topic)
        if matched is not None:
            metadata.update(matched.levels(topic))
        metadata["qos"] = received.qos
        metadata["retain"] = received.retain
        metadata["received_at"] = utc_now()
        payload = received.payload if isinstance(received.payload, bytes) else str(received.payload).encode()
        if not self.manual_ack or received.qos == 0:
            return Message(name=topic, metadata=metadata, payload=payload)
        mid, qos = received.mid, received.qos
        done = False

        async def ack() -> None:
            nonlocal done
            if done:
                return
            done = True
            if generation != self._generation or self._client is not client:
                log.info("mqtt source %s: ack of %s after reconnection dropped", self.url, topic)
                return
            _paho(client).ack(mid, qos)
            self.acked += 1

        return Message(name=topic, metadata=metadata, payload=payload, _ack=ack)

    def _match(self, topic: aiomqtt.Topic) -> TopicFilter | None:
        return next((f for f in self.filters if topic.matches(f.filter)), None)

    async def close(self) -> None:
        """Disconnect cleanly; ``messages()`` ends."""
        self._closing = True
        self._closed.set()
        if self._client is not None:
            _paho(self._client).disconnect()

    @classmethod
    def from_config(cls, settings: Settings, *, base_dir: Path) -> MqttSource:
        url = settings.text("url", "mqtt://127.0.0.1:1883") or "mqtt://127.0.0.1:1883"
        raw = settings._get("topic", None)
        topics = [raw] if isinstance(raw, str) else raw
        if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
            settings.problem("topic", f"expected a topic filter or a list of them, got {raw!r}")
            topics = ["#"]
        qos = settings.choice("qos", 1)
        share = settings.text("share")
        tls = tls_context(settings.mapping("tls"), base_dir)
        options: dict[str, Any] = {
            "qos": qos,
            "share": share,
            "client_id": settings.text("client_id"),
            "username": settings.text("username"),
            "password": settings.text("password"),
            "tls": tls,
            "keepalive": settings.integer("keepalive", 60),
            "session_expiry": settings.integer("session_expiry", 0),
            "ack": settings.choice("ack", "stored"),
            "receive_maximum": settings.integer("receive_maximum", 100),
            "backoff": RetryPolicy.from_settings(settings.mapping("retry"), attempts=None),
        }
        if options["session_expiry"] and not options["client_id"]:
            settings.problem(
                "session_expiry", "a session that outlives the connection needs a fixed client_id"
            )
        try:
            return cls(url, topics, **options)
        except ConfigError as error:
            settings.problem(error.key or "topic", str(error))
            return cls("mqtt://127.0.0.1", ["#"])


def _paho(client: aiomqtt.Client) -> paho.Client:
    """The paho client under aiomqtt: the one place the source reaches below aiomqtt's API."""
    return client._client


def tls_context(settings: Settings | None, base_dir: Path) -> ssl.SSLContext | None:
    """``tls: {ca, cert, key, verify}``; files relative to the configuration."""
    if settings is None:
        return None
    files = {name: settings.text(name) for name in ("ca", "cert", "key")}
    for name, value in files.items():
        if value is not None and not (base_dir / value).is_file():
            settings.problem(name, f"no such file: {base_dir / value}")
            files[name] = None
    context = ssl.create_default_context(cafile=str(base_dir / files["ca"]) if files["ca"] else None)
    if files["cert"]:
        context.load_cert_chain(base_dir / files["cert"], base_dir / files["key"] if files["key"] else None)
    if not settings.flag("verify", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
