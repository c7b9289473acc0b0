"""The order of an entity's versions: each carries an ordering key, and none goes back in time.

    >>> ordering_key({"id": "urn:x", "t": {"type": "Property", "value": 1,
    ...                                    "observedAt": "2026-11-25T10:00:00Z"}}, now=0.0)
    1795600800.0

A version's key is the latest ``observedAt`` among its attributes (or the entity's own); without
one, its ``dateObserved`` (a Property or a plain value, a string or a DateTime object); without
either, the time the outbox stored it. The outbox never delivers a version whose key is lower than
that of a version of the same entity it already stored or delivered for the same sink: such a
version is ``stale``, kept beside the dead letters (reason type ``STALE``) for inspection, and
replayed only when forced. Equal keys keep the order the versions were stored in.

With ``history``, versions are not superseded and an older one is not stale: one not newer than
the last queued or delivered counts as sent already (a feed read again after a crash), except for
the city graph (``PAST_SINKS``), which records it in its history (in time order, each observation
at its own time) and keeps its newer state.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..entities.updates import version_time

# The sinks that record an older version of a history feed as history, leaving the state alone
# (the city graph); to the others (Orion-LD) such a version is one sent already, or stale.
PAST_SINKS = frozenset({"graph"})
# The dead-letter reason type of a version older than one already stored or delivered.
STALE = "https://contextbridge.dev/errors/StaleVersion"


def observation_time(entity: Mapping[str, Any]) -> float | None:
    """When a version was observed (epoch seconds): its latest ``observedAt``, else its
    ``dateObserved``; ``None`` when it says neither."""
    found = version_time(entity)
    if found is not None:
        return found
    return _moment(entity.get("dateObserved"))


def ordering_key(entity: Mapping[str, Any], *, now: float) -> float:
    """The ordering key of a version stored at ``now``."""
    found = observation_time(entity)
    return now if found is None else found


def stale_reason(key: float, newer: float) -> dict[str, Any]:
    """The dead-letter reason of a version of key ``key`` older than a stored one of key ``newer``."""
    return {
        "type": STALE,
        "title": "An older version than one already stored or delivered",
        "detail": f"its ordering key {_text(key)} is before {_text(newer)}, the key of a version "
        "of the same entity already stored or delivered to this sink; replay with force to send it anyway",
    }


def _moment(value: Any) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("value", value.get("@value"))
        if isinstance(value, Mapping):
            value = value.get("@value")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _text(key: float) -> str:
    try:
        return datetime.fromtimestamp(key, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return repr(key)
