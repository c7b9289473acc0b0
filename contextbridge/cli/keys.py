"""``contextbridge keys``: the service's API keys kept in the state directory.

    $ contextbridge keys create analysts --tenant santander --state /var/lib/contextbridge
    $ contextbridge keys create ops --tenant '*' --write
    $ contextbridge keys list ; contextbridge keys revoke analysts

``serve`` accepts these keys beside those of ``service.api_keys``, with the same tenants and write
right; only their SHA-256 digest is kept, so a key is shown once, when it is created.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from ..errors import ConfigError
from ..sinks.graph.options import DEFAULT_TENANT
from .app import RUN, app, echo_err

keys_app = typer.Typer(help="The service's API keys kept in the state directory.", no_args_is_help=True)
app.add_typer(keys_app, name="keys", rich_help_panel=RUN)

State = Annotated[Path, typer.Option("--state", help="State directory holding the keys.")]


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The key's name (what logs show).")],
    tenants: Annotated[
        list[str] | None,
        typer.Option("--tenant", help="A tenant it may use (repeatable; '*': all; default: default)."),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="It may also write: notifications, replays, devices, samples.")
    ] = False,
    state: State = Path(".contextbridge"),
) -> None:
    """Create a key and print it (shown once: only its digest is kept)."""
    allowed: frozenset[str] | None = frozenset(tenants or (DEFAULT_TENANT,))
    if tenants and "*" in tenants:
        if len(tenants) > 1:
            raise ConfigError("--tenant '*' means every tenant: give no other", key="tenant")
        allowed = None
    from ..storage.keystore import KeyStore

    store = KeyStore(state)
    try:
        key, secret = store.create(name, tenants=allowed, write=write)
    finally:
        store.close()
    typer.echo(secret)
    scope = "every tenant" if allowed is None else ", ".join(sorted(allowed))
    echo_err(
        f"key {key.name!r} ({'read and write' if write else 'read'}; {scope}) created in {store.path}:"
        " copy it now, it is not shown again"
    )


@keys_app.command("list")
def list_keys(
    state: State = Path(".contextbridge"),
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The keys: name, prefix, rights, tenants, creation time (never the secrets)."""
    if output_format not in ("table", "json"):
        raise ConfigError(f"unknown --format {output_format!r} (known: table, json)", key="format")
    from ..storage.keystore import KeyStore

    store = KeyStore(state)
    try:
        found = store.list()
    finally:
        store.close()
    if output_format == "json":
        typer.echo(orjson.dumps([key.document() for key in found]).decode())
        return
    for key in found:
        created = datetime.datetime.fromtimestamp(key.created, datetime.UTC).strftime("%Y-%m-%d %H:%M")
        tenants = "*" if key.tenants is None else ",".join(sorted(key.tenants))
        typer.echo(f"{key.name}\t{key.prefix}…\t{'write' if key.write else 'read'}\t{tenants}\t{created}")
    if not found:
        echo_err(f"no key in {store.path}")


@keys_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")], state: State = Path(".contextbridge")
) -> None:
    """Revoke a key: the service refuses it from its next request."""
    from ..storage.keystore import KeyStore

    store = KeyStore(state)
    try:
        if not store.revoke(name):
            echo_err(f"no key named {name!r} in {store.path}")
            raise typer.Exit(1)
    finally:
        store.close()
    echo_err(f"key {name!r} revoked")
