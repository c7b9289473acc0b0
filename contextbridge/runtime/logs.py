"""Logging for the service: one JSON object per line (for log shippers), or plain text.

    >>> configure_logging("json")
    >>> log.warning("record rejected", extra={"feed": "parking", "record": 12, "source": "parking.json"})
    {"time":"2026-11-25T10:00:00.123Z","level":"warning","logger":"contextbridge.runtime.feedrunner","message":"record rejected","feed":"parking","record":12,"source":"parking.json"}

The fields an operator filters on — ``feed``, ``record``, ``source``, ``sink``, ``entity_id`` —
are passed as ``extra`` and become top-level keys. Messages are formatted only when a record is
emitted (``%``-style arguments), never on the hot path of a feed.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

FIELDS = ("feed", "source", "record", "field", "sink", "entity_id", "tenant", "status")


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time (UTC), level, logger, message, the known extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(style: Literal["json", "text"] = "json", level: str = "INFO") -> None:
    """Send contextbridge's logs (and uvicorn's) to stderr in ``style``."""
    handler = logging.StreamHandler(sys.stderr)
    if style == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
