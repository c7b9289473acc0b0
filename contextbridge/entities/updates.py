"""What a version of an entity is: the whole state, or some of its attributes; and whether its past counts.

    >>> policy = UpdatePolicy.parse({"update": "merge", "history": {"keep": "30d"}})
    >>> policy.merge, policy.history, policy.keep
    (True, True, 2592000.0)
    >>> merge_entities(stored, partial)       # newest wins per attribute and datasetId

Every sink honours the policy the same way (see docs/mapping-language.md, "Partial readings and
history"): a *replace* version is the entity's whole state (attributes not in it are gone: Orion-LD's
``options=replace``, the graph swaps the entity's triples, the outbox lets it supersede the waiting
versions); a *merge* version carries some attributes (``options=update``; the graph and the outbox
replace only the attribute instances present, per attribute and ``datasetId``). With ``history``
no version supersedes another: each reaches the broker in order, and the graph keeps every past
value as an observation, for ``keep`` seconds (``None``: for ever).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ..errors import ConfigError

Update = Literal["replace", "merge"]
UPDATES: tuple[Update, ...] = ("replace", "merge")
# Which update a mapping gets when it declares none, by the kind of its feed's source: a file or
# a polled API gives a snapshot of each entity; a device pushing over MQTT or a webhook (LoRaWAN
# frames, SenML packs) sends what it measured this time, often a few attributes of many.
DEFAULT_UPDATE: dict[str, Update] = {
    "file": "replace",
    "http": "replace",
    "mqtt": "merge",
    "webhook": "merge",
}
NOT_ATTRIBUTES = frozenset({"id", "type", "@context", "scope"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_MERGE, _HISTORY = 1, 2  # the bits of ``UpdatePolicy.code``; the seconds kept above them


@dataclass(frozen=True)
class UpdatePolicy:
    """How the versions of one feed update each sink (the default: whole states, no history)."""

    merge: bool = False
    history: bool = False
    keep: float | None = None  # seconds of history the graph keeps (history only; None: all)

    @property
    def update(self) -> Update:
        return "merge" if self.merge else "replace"

    @property
    def code(self) -> int:
        """The policy as one integer, as the outbox stores it beside each version."""
        return (_MERGE if self.merge else 0) | (_HISTORY if self.history else 0) | int(self.keep or 0) << 2

    @classmethod
    def from_code(cls, code: int) -> UpdatePolicy:
        return _from_code(int(code or 0))

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, default: Update = "replace") -> UpdatePolicy:
        """The policy of a mapping or feed section: ``update: replace|merge``, ``history: true``
        or ``history: {keep: 30d}`` (``s``, ``m``, ``h``, ``d``, ``w``); bad values name their key."""
        update = data.get("update") or default
        if update not in UPDATES:
            raise ConfigError(f"update must be replace or merge, not {update!r}", key="update")
        history = data.get("history", False)
        keep = None
        if isinstance(history, Mapping):
            keep = duration(history.get("keep"), key="history") if history.get("keep") is not None else None
            history = True
        elif not isinstance(history, bool):
            raise ConfigError(f"history must be true, false or {{keep: 30d}}, not {history!r}", key="history")
        return cls(update == "merge", history, keep)


REPLACE = UpdatePolicy()  # whole states, no history: what a feed gets unless it says otherwise


@functools.lru_cache(maxsize=256)
def _from_code(code: int) -> UpdatePolicy:
    # Cached: the outbox reads a policy with every entry it hands out, and a deployment has a few.
    return UpdatePolicy(bool(code & _MERGE), bool(code & _HISTORY), float(code >> 2) if code >> 2 else None)


def default_update(source_kind: str | None) -> Update:
    """The update a feed of this source kind gets when its mapping declares none."""
    return DEFAULT_UPDATE.get(source_kind or "", "replace")


def duration(text: Any, *, key: str) -> float:
    """Seconds of a duration such as ``30d``, ``12h``, ``90m`` (a bare number: seconds)."""
    if isinstance(text, int | float) and not isinstance(text, bool) and text > 0:
        return float(text)
    found = _DURATION.match(text) if isinstance(text, str) else None
    if found is None or float(found.group(1)) <= 0:
        raise ConfigError(f"{text!r} is not a duration such as 30d, 12h or 90m", key=key)
    return float(found.group(1)) * _UNITS[found.group(2)]


def merge_entities(older: Mapping[str, Any], newer: Mapping[str, Any]) -> dict[str, Any]:
    """``newer`` applied to ``older`` as Orion-LD's ``options=update`` does: the attribute instances
    of ``newer`` replace those of ``older`` with the same name and ``datasetId``; the rest stay."""
    merged = dict(older)
    for key, value in newer.items():
        if key in NOT_ATTRIBUTES or key not in merged:
            merged[key] = value
            continue
        fresh = _instances(value)
        replaced = {_dataset(instance) for instance in fresh}
        kept = [instance for instance in _instances(merged[key]) if _dataset(instance) not in replaced]
        both = kept + fresh
        merged[key] = both[0] if len(both) == 1 else both
    return merged


def version_time(entity: Mapping[str, Any]) -> float | None:
    """When a version was observed (epoch seconds): its latest ``observedAt``; None without one."""
    # Hot (the outbox orders every version it stores by it): one pass, no lists, and the
    # timestamps of the few distinct ``observedAt`` texts of a batch parsed once.
    latest = _moment(entity.get("observedAt"))
    for key, value in entity.items():
        if key in NOT_ATTRIBUTES:
            continue
        for instance in value if isinstance(value, list) else (value,):
            if type(instance) is dict or isinstance(instance, Mapping):
                found = _moment(instance.get("observedAt"))
                if found is not None and (latest is None or found > latest):
                    latest = found
    return latest


_MOMENTS: dict[str, float | None] = {}  # observedAt text → epoch seconds (None: not a date-time)
_MOMENTS_KEPT = 4096


def _moment(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return _MOMENTS[text]
    except KeyError:
        pass
    try:
        found: float | None = datetime.fromisoformat(text).timestamp()
    except ValueError:
        found = None
    if len(_MOMENTS) >= _MOMENTS_KEPT:  # readings move on in time: the old texts are not seen again
        _MOMENTS.clear()
    _MOMENTS[text] = found
    return found


def _instances(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _dataset(instance: Any) -> Any:
    return instance.get("datasetId") if isinstance(instance, Mapping) else None
