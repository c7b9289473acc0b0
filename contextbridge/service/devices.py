"""``/devices``: the device registry over HTTP (``contextbridge.storage.devices``).

    GET    /devices?limit=50&offset=0     {"devices": [...], "count": 1234, "limit": 50, "offset": 0}
    POST   /devices                       a device: 201 (new), 409 when the id exists
    GET    /devices/{id}                  200, or 404
    PUT    /devices/{id}                  create or replace: 201 or 200
    DELETE /devices/{id}                  204, or 404

The registry of the request's tenant (``NGSILD-Tenant``): a key reads and changes the devices
of the tenants it may use and no other. Reads need a key, changes a key that may write. A device is checked against its JSON Schema
(``schemas/device.schema.json``) before anything is stored: a 400 ProblemDetails names the field.
The registry's calls run in a worker thread, one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.errors import DeviceError
from contextbridge.storage.devices import Device, DeviceRegistry, parse_device

from .bodies import read_body
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

T = TypeVar("T")
MAX_PAGE = 1000


async def _call(service: Service, work: Callable[[DeviceRegistry], T]) -> T:
    registry = service.registry
    if registry is None:
        raise HTTPProblem(
            503, "registry-unavailable", "Service Unavailable", "the device registry is not open"
        )
    async with service.registry_lock:
        return await asyncio.to_thread(work, registry)


async def _device(request: Request, service: Service, *, path_id: str | None = None) -> Device:
    body = await read_body(request, service.settings.max_body_bytes)
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise HTTPProblem(400, "bad-request", "Bad Request", f"the body is not JSON: {error}") from None
    if path_id is not None and isinstance(data, dict):
        data.setdefault("id", path_id)
        if data["id"] != path_id:
            raise HTTPProblem(400, "bad-device", "Bad Request", "id: differs from the device id of the path")
    try:
        return parse_device(data)
    except DeviceError as error:
        raise HTTPProblem(400, "bad-device", "Bad Request", str(error)) from None


def _page(request: Request, name: str, default: int, maximum: int) -> int:
    text = request.query_params.get(name, str(default))
    if not text.isdigit() or int(text) > maximum:
        raise HTTPProblem(400, "bad-request", "Bad Request", f"{name}: a whole number up to {maximum:,}")
    return int(text)


async def devices_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    if request.method == "GET":
        _, tenant = service.authenticator.authorize(request)
        limit, offset = _page(request, "limit", 100, MAX_PAGE), _page(request, "offset", 0, 1 << 31)
        devices, count = await _call(service, lambda r: r.list(tenant=tenant, limit=limit, offset=offset))
        page = [device.document() for device in devices]
        return JSONResponse({"devices": page, "count": count, "limit": limit, "offset": offset})
    _, tenant = service.authenticator.authorize(request, write=True)
    device = await _device(request, service)

    def create(registry: DeviceRegistry) -> bool:
        return registry.get(device.id, tenant=tenant) is None and registry.put(device, tenant=tenant)

    if not await _call(service, create):
        raise HTTPProblem(409, "already-exists", "Conflict", f"device {device.id!r} exists: PUT replaces it")
    return JSONResponse(device.document(), 201, {"Location": f"/devices/{device.id}"})


async def device_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    device_id = request.path_params["device_id"]
    if request.method == "GET":
        _, tenant = service.authenticator.authorize(request)
        found = await _call(service, lambda r: r.get(device_id, tenant=tenant))
        if found is None:
            raise HTTPProblem(404, "not-found", "Not Found", f"no device {device_id!r}")
        return JSONResponse(found.document())
    _, tenant = service.authenticator.authorize(request, write=True)
    if request.method == "DELETE":
        if not await _call(service, lambda r: r.remove(device_id, tenant=tenant)):
            raise HTTPProblem(404, "not-found", "Not Found", f"no device {device_id!r}")
        return Response(status_code=204)
    device = await _device(request, service, path_id=device_id)
    created = await _call(service, lambda r: r.put(device, tenant=tenant))
    return JSONResponse(device.document(), 201 if created else 200)
