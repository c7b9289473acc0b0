"""Reading a source's settings from its configuration section, once the schema has checked it.

    >>> settings = Settings({"url": "mqtt://h", "qos": 3}, prefix="mqtt",
    ...                     problems=[("mqtt.qos", "3 is not one of 0, 1, 2")])
    >>> settings.choice("qos", 1)      # the schema refused 3: the default, so that reading goes on
    1
    >>> settings.finish()       # OptionsError(key="mqtt.qos"): mqtt.qos: 3 is not one of 0, 1, 2

The rules (types, ranges, choices, required and unknown keys) are written once, in
``sources.schema.json``: ``build_source`` checks a section against it and hands every problem here.
The readers return the value, or the default when the key is absent or its value was refused;
``problem()`` adds what no schema can say (a file that does not exist, an MQTT topic's levels), for a
key the schema accepted; ``finish()`` raises one OptionsError naming every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from ..errors import ConfigError, OptionsError

T = TypeVar("T")


class Settings:
    """A source's configuration section, read key by key."""

    def __init__(
        self, data: Mapping[str, Any], *, prefix: str, problems: list[tuple[str, str]] | None = None
    ) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{prefix}: expected a mapping of settings, got {data!r}", key=prefix)
        self.data = data
        self.prefix = prefix
        self.problems: list[tuple[str, str]] = [] if problems is None else problems

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def refused(self, name: str) -> bool:
        """Whether a problem was found at ``name`` (or inside it)."""
        key = self.key(name)
        return any(found == key or found.startswith(key + ".") for found, _ in self.problems)

    def problem(self, name: str, message: str) -> None:
        """A mistake the schema cannot see; not repeated for a key the schema already refused."""
        if not self.refused(name):
            self.problems.append((self.key(name), message))

    def _get(self, name: str, default: Any) -> Any:
        value = self.data.get(name)
        return default if value is None or self.refused(name) else value

    def text(self, name: str, default: str | None = None) -> str | None:
        return cast("str | None", self._get(name, default))

    def number(self, name: str, default: float) -> float:
        return float(self._get(name, default))

    def integer(self, name: str, default: int) -> int:
        return int(self._get(name, default))

    def flag(self, name: str, default: bool) -> bool:
        return bool(self._get(name, default))

    def choice(self, name: str, default: T) -> T:
        return cast(T, self._get(name, default))

    def mapping(self, name: str) -> Settings | None:
        """A nested section (``auth``, ``tls``, ``pagination``), read with the same reporting."""
        value = self._get(name, None)
        if not isinstance(value, Mapping):
            return None
        return Settings(value, prefix=self.key(name), problems=self.problems)  # one list: one report

    def strings(self, name: str) -> dict[str, str]:
        """A mapping of string to string (extra headers, query parameters)."""
        return {str(k): str(v) for k, v in self._get(name, {}).items()}

    def finish(self) -> None:
        """Raise one OptionsError naming every problem, in the order of the section."""
        if self.problems:
            raise OptionsError([(key, f"{key}: {message}") for key, message in self.problems])
