"""Lookup rows from the device registry (``contextbridge.storage.devices``), read again on an interval.

    lookups:
      devices:
        registry: ../.contextbridge          # the state directory, or the outbox's postgresql:// URL
        key: id
        interval: 60

Each row is a device's attributes with ``id``, ``entity_id`` and ``entity_type`` beside them, so
a mapping reads ``devices.latitude`` or ``devices.entity_id``. The devices are those of the
tenant of the feed the mapping serves (``LookupSet.use_tenant``; the default tenant otherwise). Devices added through the
service's ``/devices`` or ``contextbridge devices`` reach the translation at the next refresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ...errors import ContextBridgeError, DeliveryError, DeviceError
from ...sinks.graph.base import DEFAULT_TENANT
from ...storage.devices import open_registry, parse_device
from .base import LookupSource, Row


class RegistrySource(LookupSource):
    """The devices of the registry at ``location`` (a state directory or a PostgreSQL URL)."""

    kind = "registry"
    remote = True

    def __init__(self, location: str | Path, *, interval: float, tenant: str = DEFAULT_TENANT) -> None:
        self.location = location
        self.interval = interval
        self.tenant = tenant

    def use_tenant(self, tenant: str) -> None:
        self.tenant = tenant

    def fetch(self) -> Iterator[Row]:
        try:
            registry = open_registry(self.location)
        except ContextBridgeError:
            raise
        except Exception as error:  # a broken or locked file: keep the table, try again later
            raise DeliveryError(f"cannot read the device registry at {self.location}: {error}") from error
        try:
            yield from registry.rows(tenant=self.tenant)
        finally:
            registry.close()

    def describe(self) -> str:
        return f"the device registry at {self.location} (tenant {self.tenant})"

    def register(self, keys: Iterable[Any]) -> None:
        """Register unknown devices (``on_miss: register``): an id, no attributes yet."""
        devices = []
        for key in sorted({key for key in keys if isinstance(key, str)}):
            try:
                devices.append(parse_device({"id": key}))
            except DeviceError:  # not a valid device id: the records stay unenriched
                continue
        registry = open_registry(self.location)
        try:
            registry.put_many(
                (device for device in devices if registry.get(device.id, tenant=self.tenant) is None),
                tenant=self.tenant,
            )
        finally:
            registry.close()
