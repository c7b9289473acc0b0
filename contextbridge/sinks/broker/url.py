"""The base URL of an NGSI-LD broker, checked once, wherever it comes from (configuration, ``--broker``).

    >>> str(BrokerUrl("http://orion:1026/"))
    'http://orion:1026'
    >>> BrokerUrl("127.0.0.1:1026")
    ConfigError: broker URL '127.0.0.1:1026' has no http:// or https:// scheme (did you mean 'http://127.0.0.1:1026'?)

A malformed URL is a mistake to fix, not a broker that is down: it is refused before anything is
sent, never retried (``BrokerClient`` takes its URL through this class).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ...errors import ConfigError


@dataclass(frozen=True)
class BrokerUrl:
    """``http(s)://host[:port][/path]``, without query or fragment; ``str()`` drops a final ``/``."""

    value: str

    def __post_init__(self) -> None:
        text = self.value.strip()
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
        except ValueError as error:
            raise ConfigError(f"broker URL {self.value!r} is not a URL: {error}", key="broker") from None
        if parts.scheme not in ("http", "https"):
            hint = f" (did you mean 'http://{text}'?)" if "://" not in text and text else ""
            raise ConfigError(
                f"broker URL {self.value!r} has no http:// or https:// scheme{hint}", key="broker"
            )
        if not parts.hostname:
            raise ConfigError(f"broker URL {self.value!r} names no host", key="broker")
        if parts.query or parts.fragment:
            raise ConfigError(
                f"broker URL {self.value!r}: give the base URL only (no ?query or #fragment)", key="broker"
            )

    def __str__(self) -> str:
        return self.value.strip().rstrip("/")
