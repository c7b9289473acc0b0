"""``/health`` (the process answers) and ``/ready`` (it can do its work).

Orchestrators restart a process whose liveness probe fails and take a process out of the load
balancer while its readiness probe fails; so ``/health`` checks nothing but the event loop,
and ``/ready`` checks what the work needs: the graph store answers a trivial question
(``ASK {}``), the outbox answers its status, the broker (when configured) answers a request,
and the background tasks run. Neither needs a key: they say nothing about the data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.errors import ContextBridgeError
from contextbridge.sinks.broker import BrokerClient

if TYPE_CHECKING:
    from .app import Service

READY_TIMEOUT = 5.0  # seconds the graph store has to answer the readiness question


async def health_endpoint(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    checks = await readiness_checks(service)
    ready = all(check["status"] == "ok" for check in checks.values())
    return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)


async def readiness_checks(service: Service) -> dict[str, dict[str, Any]]:
    """Each check by name (``graph``, ``outbox``, ``broker``, ``task:NAME``): ``{"status": "ok"}``
    or ``{"status": "error", "detail": ...}``. Read by ``/ready`` and by the console's ``/status``."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        result = await service.graph.query("ASK {}", timeout=READY_TIMEOUT)
        checks["graph"] = {"status": "ok" if result.kind == "ask" else "error"}
    except (ContextBridgeError, OSError, RuntimeError) as error:
        checks["graph"] = {"status": "error", "detail": str(error)}
    if service.adapter is not None:
        checks["outbox"] = await _check(service.adapter.read_status())
        broker = service.adapter.drainers.get("broker")
        if broker is not None and isinstance(broker.sink, BrokerClient):
            checks["broker"] = await _check(broker.sink.subscriptions(limit=1))
    for name, task in service.running.items():
        if not task.done():
            checks[f"task:{name}"] = {"status": "ok"}
        else:
            failure = task.exception() if not task.cancelled() else None
            checks[f"task:{name}"] = {"status": "error", "detail": f"stopped: {failure!r}"}
    return checks


async def _check(probe: Awaitable[Any]) -> dict[str, Any]:
    try:
        await asyncio.wait_for(probe, READY_TIMEOUT)
    except (ContextBridgeError, OSError, TimeoutError) as error:
        return {"status": "error", "detail": str(error) or type(error).__name__}
    return {"status": "ok"}
