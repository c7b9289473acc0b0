"""``GET /metrics``: the adapter's counters in the Prometheus text format (``contextbridge.runtime.metrics``).

Like ``/health``, it needs no key: a Prometheus server scrapes it from the operators' network,
and it holds counts, never data, nor the tenants' feed ids unless the configuration says so
(``service.metrics.feeds: true``: counts per feed; else summed under ``feed="*"``). Without an adapter (a service with no feeds and no broker) the
answer is empty but valid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from contextbridge.runtime.metrics import adapter_registry

if TYPE_CHECKING:
    from .app import Service


async def metrics_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    if service.adapter is None:
        return Response(b"", media_type=CONTENT_TYPE_LATEST)
    if service.metrics is None or service.metrics[0] is not service.adapter:
        service.metrics = (
            service.adapter,
            adapter_registry(service.adapter, feeds=service.settings.metrics_feeds),
        )
    return Response(generate_latest(service.metrics[1]), media_type=CONTENT_TYPE_LATEST)
