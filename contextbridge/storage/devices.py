"""The device registry: what the installer knows of each device, for thin messages to become entities.

    >>> registry = open_registry(Path(".contextbridge"))     # or "postgresql://..." (the outbox's database)
    >>> registry.put(Device("3101", entity_type="ParkingSpot", attributes={"street": "Calle Daoíz y Velarde",
    ...                                                                   "latitude": 43.46297}))
    >>> registry.list(limit=50, offset=0)
    ([Device(id='3101', ...)], 1)

A device is an id (what its messages carry), optionally the entity id and type it feeds, and
static attributes: where it is, its address, its calibration (``{"offset": -0.4}``) or unit,
anything a mapping reads. Mappings use the registry like a lookup table (``lookups: {devices:
{registry: .contextbridge, key: id}}``), whose row is the device's attributes with ``id``,
``entity_id`` and ``entity_type`` beside them; an unknown device is handled by the lookup's
``on_miss`` (``skip``: the record goes to the dead-letter queue with the reason; ``partial``:
passed through without the enriched attributes).

Devices are per tenant, as the city's data is: every call names its tenant (the default tenant
when it does not), the same device id may be two tenants' two devices, and a mapping reads the
devices of its feed's tenant. The registry lives in the outbox's database: ``registry.sqlite3``'s
table beside the outbox in the state directory (SQLite, WAL), or a table in the outbox's
PostgreSQL schema; the devices of a registry from before tenants become the default tenant's.
Calls are synchronous (the service runs them in a worker thread); each is one transaction.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import jsonschema

from ..errors import ConfigError, DeliveryError, DeviceError
from ..sinks.graph.base import DEFAULT_TENANT
from .database import POSTGRES, SQLITE, Dialect, connect_postgres, is_postgres, open_sqlite

FILE = "registry.sqlite3"
RESERVED = ("id", "entity_id", "entity_type")  # the row keys a device's attributes cannot take


@dataclass(frozen=True)
class Device:
    id: str
    entity_type: str | None = None
    entity_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The lookup row of the device: its attributes, with its id, entity id and entity type."""
        return {
            **self.attributes,
            "id": self.id,
            "entity_id": self.entity_id,
            "entity_type": self.entity_type,
        }

    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = {"id": self.id, "attributes": dict(self.attributes)}
        if self.entity_type is not None:
            found["entity_type"] = self.entity_type
        if self.entity_id is not None:
            found["entity_id"] = self.entity_id
        return found


@cache
def _validator() -> jsonschema.Draft202012Validator:
    text = resources.files("contextbridge").joinpath("schemas", "device.schema.json").read_text("utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def parse_device(data: Any) -> Device:
    """A device from its JSON document; DeviceError names the first field at fault."""
    errors = sorted(_validator().iter_errors(data), key=lambda error: list(error.absolute_path))
    if errors:
        error = errors[0]
        place = ".".join(str(part) for part in error.absolute_path) or None
        raise DeviceError(error.message, field=place)
    return Device(data["id"], data.get("entity_type"), data.get("entity_id"), data.get("attributes", {}))


class DeviceRegistry(Protocol):
    """The devices of each tenant (``tenant``: the default tenant when not given)."""

    def put(self, device: Device, *, tenant: str = DEFAULT_TENANT) -> bool:
        """Create or replace ``device``; True when it is new."""
        ...

    def put_many(self, devices: Iterable[Device], *, tenant: str = DEFAULT_TENANT) -> int: ...

    def get(self, device_id: str, *, tenant: str = DEFAULT_TENANT) -> Device | None: ...

    def list(
        self, *, tenant: str = DEFAULT_TENANT, limit: int = 100, offset: int = 0
    ) -> tuple[list[Device], int]:
        """A page of the tenant's devices by id, and how many it has in all."""
        ...

    def remove(self, device_id: str, *, tenant: str = DEFAULT_TENANT) -> bool: ...

    def rows(self, *, tenant: str = DEFAULT_TENANT) -> Iterator[dict[str, Any]]:
        """Every device of the tenant as a lookup row."""
        ...

    def close(self) -> None: ...


class _SqlRegistry:
    """The registry over a DB-API connection; ``prefix`` qualifies the table names (a schema)."""

    def __init__(self, connection: Any, dialect: Dialect, prefix: str = "") -> None:
        self._connection = connection
        self._dialect = dialect
        self.table = prefix + "tenant_devices"
        with self._transaction():
            self._connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (tenant TEXT NOT NULL, id TEXT NOT NULL,"
                " entity_type TEXT, entity_id TEXT, attributes TEXT NOT NULL,"
                " updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (tenant, id))"
            )
        self._adopt(prefix + "devices")

    def _adopt(self, old: str) -> None:
        """The devices of a registry from before tenants become the default tenant's (once: a
        registry opened at the same moment elsewhere may have done it, and then this fails)."""
        if not self._exists(old):
            return
        try:
            with self._transaction():
                self._connection.execute(
                    self._sql(
                        f"INSERT INTO {self.table} (tenant, id, entity_type, entity_id, attributes, updated)"
                        f" SELECT ?, id, entity_type, entity_id, attributes, updated FROM {old}"
                    ),
                    (DEFAULT_TENANT,),
                )
                self._connection.execute(f"DROP TABLE {old}")
        except self._dialect.errors:  # adopted by another opener meanwhile
            pass

    def _exists(self, table: str) -> bool:
        return self._dialect.exists(self._connection, table)

    def _sql(self, text: str) -> str:
        return self._dialect.sql(text)

    def _transaction(self) -> contextlib.AbstractContextManager[Any]:
        return self._dialect.transaction(self._connection)

    def put(self, device: Device, *, tenant: str = DEFAULT_TENANT) -> bool:
        return self.put_many([device], tenant=tenant) == 1

    def put_many(self, devices: Iterable[Device], *, tenant: str = DEFAULT_TENANT) -> int:
        rows = [
            (
                tenant,
                d.id,
                d.entity_type,
                d.entity_id,
                json.dumps(dict(d.attributes), ensure_ascii=False),
                time.time(),
            )
            for d in devices
        ]
        with self._transaction():
            ids = [row[1] for row in rows]
            known = {
                found[0]
                for start in range(0, len(ids), 500)
                for found in self._connection.execute(
                    self._sql(
                        f"SELECT id FROM {self.table} WHERE tenant = ? AND"
                        f" id IN ({','.join('?' * len(ids[start : start + 500]))})"
                    ),
                    [tenant, *ids[start : start + 500]],
                ).fetchall()
            }
            self._connection.cursor().executemany(
                self._sql(
                    f"INSERT INTO {self.table} (tenant, id, entity_type, entity_id, attributes, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET"
                    " entity_type = excluded.entity_type, entity_id = excluded.entity_id,"
                    " attributes = excluded.attributes, updated = excluded.updated"
                ),
                rows,
            )
        return len(set(ids) - known)

    def get(self, device_id: str, *, tenant: str = DEFAULT_TENANT) -> Device | None:
        found = self._connection.execute(
            self._sql(
                f"SELECT id, entity_type, entity_id, attributes FROM {self.table} WHERE tenant = ? AND id = ?"
            ),
            (tenant, device_id),
        ).fetchone()
        return _device(found) if found else None

    def list(
        self, *, tenant: str = DEFAULT_TENANT, limit: int = 100, offset: int = 0
    ) -> tuple[list[Device], int]:
        page = self._connection.execute(
            self._sql(
                f"SELECT id, entity_type, entity_id, attributes FROM {self.table} WHERE tenant = ?"
                " ORDER BY id LIMIT ? OFFSET ?"
            ),
            (tenant, limit, offset),
        ).fetchall()
        (total,) = self._connection.execute(
            self._sql(f"SELECT COUNT(*) FROM {self.table} WHERE tenant = ?"), (tenant,)
        ).fetchone()
        return [_device(row) for row in page], int(total)

    def remove(self, device_id: str, *, tenant: str = DEFAULT_TENANT) -> bool:
        with self._transaction():
            cursor = self._connection.execute(
                self._sql(f"DELETE FROM {self.table} WHERE tenant = ? AND id = ?"), (tenant, device_id)
            )
        return bool(cursor.rowcount)

    def rows(self, *, tenant: str = DEFAULT_TENANT) -> Iterator[dict[str, Any]]:
        cursor = self._connection.execute(
            self._sql(
                f"SELECT id, entity_type, entity_id, attributes FROM {self.table} WHERE tenant = ? ORDER BY id"
            ),
            (tenant,),
        )
        for row in cursor:
            yield _device(row).row()

    def close(self) -> None:
        self._connection.close()


def _device(row: tuple[Any, ...]) -> Device:
    return Device(row[0], row[1], row[2], json.loads(row[3]))


class SqliteRegistry(_SqlRegistry):
    """The registry in ``state/registry.sqlite3`` (``state=None``: in memory, for the life of the object)."""

    def __init__(self, state: Path | None) -> None:
        super().__init__(open_sqlite(state, FILE), SQLITE)


class PostgresRegistry(_SqlRegistry):
    def __init__(self, url: str, *, schema: str = "contextbridge") -> None:
        try:
            connection = connect_postgres(url, schema=schema, create=True)
        except POSTGRES.errors as error:
            raise DeliveryError(f"cannot reach the registry's database: {error}") from None
        super().__init__(connection, POSTGRES, f'"{schema}".')


def open_registry(location: str | Path, *, schema: str = "contextbridge") -> DeviceRegistry:
    """The registry at ``location``: a ``postgresql://`` URL, else a state directory (SQLite in it)."""
    text = str(location)
    if is_postgres(text):
        return PostgresRegistry(text, schema=schema)
    if not text:
        raise ConfigError("the registry needs a state directory or a postgresql:// URL", key="registry")
    return SqliteRegistry(Path(text))


def devices_from_csv(lines: Iterable[Mapping[str, str]]) -> Iterator[Device]:
    """Devices from CSV rows: ``id`` (required), ``entity_type`` and ``entity_id`` (optional), the
    other columns their attributes (numbers stay text: the mapping casts them, as it does a feed's)."""
    for number, line in enumerate(lines, start=2):
        data: dict[str, Any] = {"id": line.get("id") or "", "attributes": {}}
        for key, value in line.items():
            if key in ("entity_type", "entity_id"):
                if value:
                    data[key] = value
            elif key != "id" and key is not None and value not in (None, ""):
                data["attributes"][key] = value
        try:
            yield parse_device(data)
        except DeviceError as error:
            raise DeviceError(f"line {number}: {error}", field=error.field) from None
