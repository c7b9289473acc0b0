"""Live sources: HTTP poll, webhook push, MQTT subscription, NATS JetStream, files; each yields raw messages.

    >>> source = build_source({"mqtt": {"url": "mqtt://127.0.0.1:1883", "topic": "santander/+device/attrs"}},
    ...                       base_dir=Path("."))
    >>> async for message in source.messages():
    ...     with message.open() as stream:
    ...         records = records_with_metadata(fmt.parse(stream, source=message.name), message.metadata)
    ...         outcomes = list(translator.translate(records, source=message.name))
    ...     ...                                  # entities into the outbox
    ...     await message.ack()                  # then confirm upstream

A source is one small class with ``messages()`` and ``close()``; the registry is ``SOURCES``.
See docs/sources.md for every setting, metadata key and delivery guarantee.
"""

from __future__ import annotations

from ..errors import PayloadTooLarge, WebhookAuthError, WebhookBusy, WebhookRefused
from .base import METADATA_FIELD, Message, Source, records_with_metadata
from .factory import SOURCES, build_source, source_schema
from .files import FileSource
from .http import HttpPollSource
from .jetstream import JetStreamSource, SubjectFilter
from .mqtt import MqttSource
from .pagination import Pagination
from .topics import TopicFilter
from .webhook import WebhookSource

__all__ = [
    "METADATA_FIELD",
    "SOURCES",
    "FileSource",
    "HttpPollSource",
    "JetStreamSource",
    "Message",
    "MqttSource",
    "Pagination",
    "PayloadTooLarge",
    "Source",
    "SubjectFilter",
    "TopicFilter",
    "WebhookAuthError",
    "WebhookBusy",
    "WebhookRefused",
    "WebhookSource",
    "build_source",
    "records_with_metadata",
    "source_schema",
]
