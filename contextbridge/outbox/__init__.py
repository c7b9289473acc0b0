"""The durable outbox between translation and the sinks, with its dead-letter queue.

>>> outbox = open_outbox(".contextbridge")       # or "postgresql://..."
>>> await outbox.put(entities, feed="santander-parking")
"""

from __future__ import annotations

from .base import (
    TRANSLATE,
    DeadLetter,
    DeadLetterCounts,
    DeadLetterFilter,
    Entry,
    Outbox,
    PutResult,
    ReplayResult,
    SinkStatus,
    open_outbox,
)

__all__ = [
    "TRANSLATE",
    "DeadLetter",
    "DeadLetterCounts",
    "DeadLetterFilter",
    "Entry",
    "Outbox",
    "PutResult",
    "ReplayResult",
    "SinkStatus",
    "open_outbox",
]
