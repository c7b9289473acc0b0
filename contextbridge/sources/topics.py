"""MQTT topic filters whose wildcard levels have names, so the mapping can read them.

    >>> f = TopicFilter.parse("santander/+device/attrs")
    >>> f.filter
    'santander/+/attrs'
    >>> f.levels("santander/sensor-419/attrs")
    {'device': 'sensor-419'}
    >>> TopicFilter.parse("city/+district/#rest").levels("city/centro/parking/7")
    {'district': 'centro', 'rest': 'parking/7'}

A level ``+name`` is the single-level wildcard ``+`` whose value goes to metadata ``name``;
``#name`` (last level only) is ``#`` and its value is the rest of the topic, slashes and all.
Unnamed ``+`` and ``#`` are plain wildcards. The positions are found once, when the filter is
parsed, so each message costs one ``split``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["RESERVED", "TopicFilter"]

# Metadata keys every MQTT message has; a level may not take one of these names.
RESERVED = frozenset({"topic", "qos", "retain", "received_at", "headers", "url", "file"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class TopicFilter:
    """A parsed filter: what to subscribe to, and where the named levels are."""

    pattern: str  # as configured, with names
    filter: str  # as the broker sees it
    single: tuple[tuple[int, str], ...]  # (level index, name) of the named '+' levels
    multi: tuple[int, str] | None  # (level index, name) of a named '#'

    @classmethod
    def parse(cls, pattern: str, *, key: str = "topic") -> TopicFilter:
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(f"{key}: expected a topic filter, got {pattern!r}", key=key)
        if pattern.startswith("$share/"):
            raise ConfigError(
                f"{key}: give the shared subscription group as 'share', not in the topic", key=key
            )
        levels = pattern.split("/")
        plain: list[str] = []
        single: list[tuple[int, str]] = []
        multi: tuple[int, str] | None = None
        names: set[str] = set()
        for index, level in enumerate(levels):
            wildcard = level[:1] if level[:1] in ("+", "#") else ""
            name = level[1:] if wildcard else ""
            if not wildcard and ("+" in level or "#" in level):
                raise ConfigError(
                    f"{key}: {pattern!r}: a wildcard must fill a whole level ({level!r})", key=key
                )
            if wildcard == "#" and index != len(levels) - 1:
                raise ConfigError(f"{key}: {pattern!r}: '#' may only be the last level", key=key)
            if name:
                if not _NAME.match(name):
                    raise ConfigError(
                        f"{key}: {pattern!r}: level name {name!r} is not an identifier", key=key
                    )
                if name in RESERVED or name in names:
                    why = "reserved" if name in RESERVED else "used twice"
                    raise ConfigError(f"{key}: {pattern!r}: level name {name!r} is {why}", key=key)
                names.add(name)
                if wildcard == "+":
                    single.append((index, name))
                else:
                    multi = (index, name)
            plain.append(wildcard or level)
        return cls(pattern, "/".join(plain), tuple(single), multi)

    def subscription(self, share: str | None) -> str:
        """The filter to subscribe to: MQTT 5 shared subscription ``$share/GROUP/filter`` when shared."""
        return f"$share/{share}/{self.filter}" if share else self.filter

    def levels(self, topic: str) -> dict[str, str]:
        """The named level values of ``topic`` (which matched this filter)."""
        if not self.single and self.multi is None:
            return {}
        parts = topic.split("/")
        values = {name: parts[index] for index, name in self.single if index < len(parts)}
        if self.multi is not None:
            index, name = self.multi
            values[name] = "/".join(parts[index:])  # '#' also matches the parent: then ""
        return values
