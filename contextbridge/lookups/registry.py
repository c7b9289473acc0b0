"""Lookup rows from the device registry (``contextbridge.registry``), read again on an interval.

    lookups:
      devices:
        registry: ../.contextbridge          # the state directory, or the outbox's postgresql:// URL
        key: id
        interval: 60

Each row is a device's attributes with ``id``, ``entity_id`` and ``entity_type`` beside them, so
a mapping reads ``devices.latitude`` or ``devices.entity_id``. Devices added through the
service's ``/devices`` or ``contextbridge devices`` reach the translation at the next refresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import ContextBridgeError, DeliveryError
from ..registry import open_registry
from .base import LookupSource, Row


class RegistrySource(LookupSource):
    """The devices of the registry at ``location`` (a state directory or a PostgreSQL URL)."""

    kind = "registry"
    remote = True

    def __init__(self, location: str | Path, *, interval: float) -> None:
        self.location = location
        self.interval = interval

    def fetch(self) -> Iterator[Row]:
        try:
            registry = open_registry(self.location)
        except ContextBridgeError:
            raise
        except Exception as error:  # a broken or locked file: keep the table, try again later
            raise DeliveryError(f"cannot read the device registry at {self.location}: {error}") from error
        try:
            yield from registry.rows()
        finally:
            registry.close()

    def describe(self) -> str:
        return f"the device registry at {self.location}"
