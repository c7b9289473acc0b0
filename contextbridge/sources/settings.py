"""Reading a source's settings from its configuration section, every mistake reported at once.

    >>> settings = Settings({"url": "mqtt://h", "qos": 3}, prefix="mqtt")
    >>> settings.choice("qos", (0, 1, 2), default=1)
    >>> settings.finish()       # ConfigError(key="mqtt.qos"): qos: expected one of 0, 1, 2, got 3

Each reader returns a usable default when the value is wrong, so that reading goes on and the
error lists every bad key; ``finish()`` also names keys that no reader asked for (typos).
The JSON Schema fragment (``sources.schema.json``) says the same for the configuration loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from ..errors import ConfigError

T = TypeVar("T")


class Settings:
    """A source's configuration section, read key by key."""

    def __init__(self, data: Mapping[str, Any], *, prefix: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{prefix}: expected a mapping of settings, got {data!r}", key=prefix)
        self.data = data
        self.prefix = prefix
        self.problems: list[tuple[str, str]] = []
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def problem(self, name: str, message: str) -> None:
        self.problems.append((self.key(name), message))

    def _get(self, name: str, default: Any) -> Any:
        self._read.add(name)
        return self.data.get(name, default)

    def _bad(self, name: str, value: Any, expected: str) -> None:
        self.problem(name, f"{expected}, got {value!r}")

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(name, None)
        if value is None:
            if required:
                self.problem(name, "is required")
            return default
        if not isinstance(value, str) or not value:
            self._bad(name, value, "expected a non-empty string")
            return default
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0, strict: bool = False) -> float:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._bad(name, value, "expected a number")
            return default
        if value < minimum or (strict and value == minimum):
            self._bad(name, value, f"expected a number {'>' if strict else '>='} {minimum:g}")
            return default
        return float(value)

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self._bad(name, value, f"expected an integer >= {minimum}")
            return default
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            self._bad(name, value, "expected true or false")
            return default
        return value

    def choice(self, name: str, choices: tuple[T, ...], default: T) -> T:
        value = self._get(name, default)
        if value not in choices or isinstance(value, bool):
            self._bad(name, value, "expected one of " + ", ".join(str(c) for c in choices))
            return default
        return value

    def mapping(self, name: str) -> Settings | None:
        """A nested section (``auth``, ``tls``, ``pagination``), read with the same reporting."""
        value = self._get(name, None)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self._bad(name, value, "expected a mapping")
            return None
        nested = Settings(value, prefix=self.key(name))
        nested.problems = self.problems  # one list: every mistake of the section in one report
        return nested

    def strings(self, name: str) -> dict[str, str]:
        """A mapping of string to string (extra headers, query parameters)."""
        value = self._get(name, {})
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) for k, v in value.items()
        ):
            self._bad(name, value, "expected a mapping of names to strings")
            return {}
        return {k: str(v) for k, v in value.items()}

    def finish(self, *nested: Settings) -> None:
        """Raise one ConfigError naming every problem, including keys nobody read."""
        for settings in (self, *nested):
            for name in sorted(set(settings.data) - settings._read, key=str):
                known = ", ".join(sorted(settings._read))
                settings.problem(str(name), f"unknown setting (known: {known})")
        if self.problems:
            lines = "; ".join(f"{key}: {message}" for key, message in self.problems)
            raise ConfigError(lines, key=self.problems[0][0])
