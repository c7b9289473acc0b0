"""``contextbridge devices``: the device registry from the command line.

    $ contextbridge devices add 3101 --type ParkingSpot --set latitude=43.46297 --set street="Calle Daoíz"
    $ contextbridge devices import inventory.csv          # id, entity_type, entity_id, then attributes
    $ contextbridge devices list --limit 20 ; contextbridge devices show 3101 ; contextbridge devices remove 3101

The registry is the one of the state directory (``--state``), or of a PostgreSQL outbox (``--outbox``);
``--tenant`` names whose devices (the default tenant when absent).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import orjson
import typer

from ..errors import DeviceError
from ..sinks.graph.options import DEFAULT_TENANT
from .app import RUN, app, echo_err
from .delivery import OutboxUrl

if TYPE_CHECKING:
    from ..storage.devices import DeviceRegistry

T = TypeVar("T")

devices_app = typer.Typer(
    help="The device registry: what thin messages are enriched with.", no_args_is_help=True
)
app.add_typer(devices_app, name="devices", rich_help_panel=RUN)

State = Annotated[Path, typer.Option("--state", help="State directory holding the registry.")]
Tenant = Annotated[str, typer.Option("--tenant", help="The tenant whose devices these are.")]


def _with_registry(state: Path, url: str | None, work: Callable[[DeviceRegistry], T]) -> T:
    from ..storage.devices import open_registry  # psycopg and the registry load when a command uses them

    registry = open_registry(url or state)
    try:
        return work(registry)
    finally:
        registry.close()


@devices_app.command("add")
def add(
    device_id: Annotated[str, typer.Argument(metavar="ID", help="The id its messages carry.")],
    entity_type: Annotated[str | None, typer.Option("--type", help="The entity type it feeds.")] = None,
    entity_id: Annotated[str | None, typer.Option("--entity-id", help="The entity id it feeds.")] = None,
    values: Annotated[
        list[str] | None,
        typer.Option("--set", help="An attribute, NAME=VALUE (VALUE read as JSON if it is)."),
    ] = None,
    state: State = Path(".contextbridge"),
    outbox: OutboxUrl = None,
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Add a device, or replace the one with this id."""
    from ..storage.devices import parse_device

    attributes = {}
    for item in values or ():
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise DeviceError(f"--set {item!r}: expected NAME=VALUE", field="attributes")
        try:
            attributes[name] = orjson.loads(text)
        except orjson.JSONDecodeError:
            attributes[name] = text
    data = {"id": device_id, "attributes": attributes}
    data.update({k: v for k, v in (("entity_type", entity_type), ("entity_id", entity_id)) if v is not None})
    device = parse_device(data)
    created = _with_registry(state, outbox, lambda registry: registry.put(device, tenant=tenant))
    echo_err(f"{'added' if created else 'replaced'} device {device.id}")


@devices_app.command("import")
def import_csv(
    file: Annotated[
        Path, typer.Argument(help="CSV: id, entity_type, entity_id, then one column per attribute.")
    ],
    state: State = Path(".contextbridge"),
    outbox: OutboxUrl = None,
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Add or replace every device of a CSV inventory (all of them, or none when one is invalid)."""
    from ..storage.devices import devices_from_csv

    with file.open(encoding="utf-8-sig", newline="") as stream:
        try:
            devices = list(devices_from_csv(csv.DictReader(stream)))
        except DeviceError as error:
            raise DeviceError(f"{file}: {error}") from None
    new = _with_registry(state, outbox, lambda registry: registry.put_many(devices, tenant=tenant))
    echo_err(f"imported {len(devices):,} devices ({new:,} new, {len(devices) - new:,} replaced)")


@devices_app.command("list")
def list_devices(
    limit: Annotated[int, typer.Option(help="Devices per page.")] = 100,
    offset: Annotated[int, typer.Option(help="Devices to skip.")] = 0,
    state: State = Path(".contextbridge"),
    outbox: OutboxUrl = None,
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """The devices by id, as NDJSON (one device a line); the total on stderr."""
    devices, count = _with_registry(
        state, outbox, lambda registry: registry.list(tenant=tenant, limit=limit, offset=offset)
    )
    for device in devices:
        typer.echo(orjson.dumps(device.document()).decode())
    echo_err(f"{len(devices):,} of {count:,} devices")


@devices_app.command("show")
def show(
    device_id: Annotated[str, typer.Argument(metavar="ID")],
    state: State = Path(".contextbridge"),
    outbox: OutboxUrl = None,
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """One device, as JSON."""
    device = _with_registry(state, outbox, lambda registry: registry.get(device_id, tenant=tenant))
    if device is None:
        echo_err(f"no device {device_id}")
        raise typer.Exit(1)
    typer.echo(orjson.dumps(device.document(), option=orjson.OPT_INDENT_2).decode())


@devices_app.command("remove")
def remove(
    device_id: Annotated[str, typer.Argument(metavar="ID")],
    state: State = Path(".contextbridge"),
    outbox: OutboxUrl = None,
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Remove a device."""
    if not _with_registry(state, outbox, lambda registry: registry.remove(device_id, tenant=tenant)):
        echo_err(f"no device {device_id}")
        raise typer.Exit(1)
    echo_err(f"removed device {device_id}")
