"""Errors of the live sources, by what the caller does next.

    ContextBridgeError
     ├── ConfigError        a source setting is wrong (``key`` names it): fix the configuration
     ├── DeliveryError      the counterpart (HTTP server, MQTT broker) cannot be reached now: retry
     └── WebhookRefused     a pushed request is refused; ``status`` is the HTTP answer to give
          ├── WebhookAuthError    401: missing or wrong API key or signature
          ├── PayloadTooLarge     413: the body is over the source's limit
          └── WebhookBusy         503: the queue stayed full (``retry_after`` seconds)

The webhook errors carry the HTTP status so that the service answers without a table of its own.
"""

from __future__ import annotations

from ..errors import ContextBridgeError

__all__ = ["PayloadTooLarge", "WebhookAuthError", "WebhookBusy", "WebhookRefused"]


class WebhookRefused(ContextBridgeError):
    """A webhook request was refused before anything was queued."""

    status = 400

    def __init__(self, reason: str, *, source: str | None = None) -> None:
        self.reason = reason
        self.source = source
        super().__init__(f"webhook {source}: {reason}" if source else f"webhook: {reason}")


class WebhookAuthError(WebhookRefused):
    """The request does not prove who sent it (API key or body signature missing or wrong)."""

    status = 401


class PayloadTooLarge(WebhookRefused):
    """The body is larger than the source accepts."""

    status = 413


class WebhookBusy(WebhookRefused):
    """The consumer is behind and the queue stayed full; the sender should retry later."""

    status = 503

    def __init__(self, reason: str, *, source: str | None = None, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__(reason, source=source)
