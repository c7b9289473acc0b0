"""Service commands: ``serve`` (the long-running adapter service) and ``subscribe`` (Orion-LD → it).

    $ contextbridge serve contextbridge.yaml --state /var/lib/contextbridge --port 8080
    $ contextbridge subscribe --broker http://orion:1026 --type WeatherObserved --type ParkingSpot \\
          --notify http://contextbridge:8080/ngsi-ld/notify --api-key-env CB_ORION_KEY
    $ contextbridge subscribe --broker http://orion:1026 --list
    $ contextbridge subscribe --broker http://orion:1026 --delete urn:ngsi-ld:Subscription:1

``serve`` stops gracefully on SIGTERM or SIGINT (requests in flight finish, the graph store is
closed) and exits 0. ``subscribe`` creates an NGSI-LD subscription whose notifications carry
our API key (``receiverInfo``, so Orion-LD sends it as ``X-API-Key``) and whose @context is the
service's own ``/context.jsonld`` (so the entity types and attributes mean the city's).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from ..errors import ConfigError
from .app import GRAPH, RUN, app, echo_err
from .mappings import OntologyOption

if TYPE_CHECKING:
    from ..remote.auth import BearerToken
    from ..runtime.config import Config

FORMATS = ("normalized", "keyValues", "concise")


@app.command(rich_help_panel=RUN)
def serve(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="The configuration file.")],
    state: Annotated[Path, typer.Option("--state", help="State directory: the embedded graph store.")] = Path(
        ".contextbridge"
    ),
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: service.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default: service.port).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    log_format: Annotated[str, typer.Option(help="json (one object per line) or text.")] = "json",
    ontology_paths: OntologyOption = None,
) -> None:
    """Run the service: every feed continuously, delivered to Orion-LD and the city graph.

    Serves the HTTP API: webhooks, SPARQL, notifications, health, metrics, @context."""
    import uvicorn  # the server and the service load when it runs, not for every command

    from ..runtime.config import config_ontology, load_config
    from ..runtime.logs import configure_logging
    from ..service import Service, create_app

    config = load_config(config_path)
    if log_format not in ("json", "text"):
        raise ConfigError(f"--log-format: {log_format!r} is not json or text", key="log-format")
    configure_logging(log_format, log_level)  # type: ignore[arg-type]
    settings = config.service
    host, port = host or settings.host, settings.port if port is None else port
    config = _with_console_key(config, state, host, port)
    service = Service.from_config(
        config, state_dir=state, ontology=config_ontology(config, ontology_paths or ())
    )
    # Live feeds run beside the server as named background tasks: service.tasks[name] = coroutine factory.
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service),
            host=host,
            port=port,
            log_level=log_level.lower(),
            log_config=None,  # uvicorn's records go through the handler configured above
            lifespan="on",
            proxy_headers=False,
        )
    )
    # uvicorn shuts down on these signals, then raises them again for the previous handlers: make
    # those harmless, so that a requested stop is a clean exit (0), not a death by signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: None)
    server.run()
    if not server.started:
        echo_err("error: the service did not start (see the log above)")
        raise typer.Exit(1)


def loopback(host: str) -> bool:
    """Whether ``host`` (an address to listen on) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def console_url(host: str, port: int, key: str) -> str:
    """The console's URL with ``key`` in its fragment (never sent to the server, nor logged)."""
    name = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{name}:{port}/#key={key}"


def _with_console_key(config: Config, state: Path, host: str, port: int) -> Config:
    """``config`` with an admin key for the console when it has none and the service listens on
    loopback (a developer's machine), printed as Jupyter prints its token URL; else unchanged."""
    from ..runtime.config import ApiKey
    from ..storage.keystore import CONSOLE_FILE, KeyStore, console_key

    stored = KeyStore(state)
    try:
        if config.service.api_keys or stored.count():
            return config
    finally:
        stored.close()
    if not loopback(host):
        echo_err(
            f"warning: no API key is configured: every route but the console's page, health and @context"
            f" refuses. Create one: contextbridge keys create NAME --state {state} (see docs/service.md)"
        )
        return config
    secret = console_key(state)
    echo_err(
        f"No API key is configured: this run's admin key (kept in {state / CONSOLE_FILE}) opens the console:\n"
        f"    {console_url(host, port, secret)}\n"
        f"API key (X-API-Key): {secret}"
    )
    admin = ApiKey("console", secret, tenants=None, write=True)
    return dataclasses.replace(config, service=dataclasses.replace(config.service, api_keys=(admin,)))


def _context_for(notify: str) -> str:
    parts = urlsplit(notify)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--notify {notify!r} is not an http(s) URL", key="notify")
    return f"{parts.scheme}://{parts.netloc}/context.jsonld"


def subscription(
    types: list[str],
    notify: str,
    *,
    api_key: str | None = None,
    notification_format: str = "normalized",
    watch: list[str] | None = None,
) -> dict[str, Any]:
    """The NGSI-LD Subscription that sends the changes of ``types`` to ``notify``."""
    endpoint: dict[str, Any] = {"uri": notify, "accept": "application/json"}
    if api_key:
        endpoint["receiverInfo"] = [{"key": "X-API-Key", "value": api_key}]
    found: dict[str, Any] = {
        "type": "Subscription",
        "description": f"contextbridge: {', '.join(types)} into the city graph",
        "entities": [{"type": name} for name in types],
        "notification": {"format": notification_format, "endpoint": endpoint},
    }
    if watch:
        found["watchedAttributes"] = list(watch)
    return found


@app.command(rich_help_panel=GRAPH)
def subscribe(
    broker: Annotated[
        str, typer.Option("--broker", envvar="CONTEXTBRIDGE_BROKER", help="Orion-LD base URL.")
    ],
    entity_types: Annotated[
        list[str] | None, typer.Option("--type", help="An entity type to subscribe to (repeatable).")
    ] = None,
    notify: Annotated[
        str | None, typer.Option(help="The service's notification URL (…/ngsi-ld/notify).")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="NGSILD-Tenant (multi-tenant brokers only).")] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the API key Orion-LD must send to the service."),
    ] = None,
    notification_format: Annotated[
        str, typer.Option("--format", help="normalized, keyValues or concise.")
    ] = "normalized",
    watch: Annotated[
        list[str] | None,
        typer.Option("--watch", help="Notify only when this attribute changes (repeatable)."),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option(help="@context URL of the subscription (default: the service's /context.jsonld)."),
    ] = None,
    broker_token_env: Annotated[
        str | None, typer.Option(help="Environment variable holding a bearer token for the broker.")
    ] = None,
    list_all: Annotated[bool, typer.Option("--list", help="List the subscriptions instead.")] = False,
    delete: Annotated[str | None, typer.Option(help="Delete this subscription instead.")] = None,
) -> None:
    """Create the Orion-LD subscription that notifies the service of entity changes; print its id."""
    from ..remote.auth import BearerToken
    from ..sinks.broker import BrokerClient

    token = _secret(broker_token_env, "broker-token-env") if broker_token_env else None
    auth = BearerToken(token) if token else None
    if list_all or delete:
        asyncio.run(_manage(broker, tenant, auth, delete))
        return
    if not entity_types:
        raise ConfigError("give at least one --type", key="type")
    if not notify:
        raise ConfigError("give --notify URL (the service's /ngsi-ld/notify)", key="notify")
    if notification_format not in FORMATS:
        raise ConfigError(
            f"unknown --format {notification_format!r} (known: {', '.join(FORMATS)})", key="format"
        )
    api_key = _secret(api_key_env, "api-key-env") if api_key_env else None
    body = subscription(
        list(entity_types), notify, api_key=api_key, notification_format=notification_format, watch=watch
    )

    async def create() -> str:
        async with BrokerClient(
            broker, tenant=tenant, auth=auth, context_url=context or _context_for(notify)
        ) as client:
            return await client.create_subscription(body)

    typer.echo(asyncio.run(create()))


async def _manage(broker: str, tenant: str | None, auth: BearerToken | None, delete: str | None) -> None:
    from ..sinks.broker import BrokerClient

    async with BrokerClient(broker, tenant=tenant, auth=auth) as client:
        if delete:
            await client.delete_subscription(delete)
            echo_err(f"deleted {delete}")
            return
        for item in await client.subscriptions():
            types = ",".join(str(e.get("type", "")) for e in item.get("entities", []) if isinstance(e, dict))
            endpoint = item.get("notification", {}).get("endpoint", {}).get("uri", "")
            typer.echo(f"{item.get('id', '')}\t{types}\t{endpoint}")  # receiverInfo (our key) never shown


def _secret(variable: str, option: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"environment variable {variable} is not set", key=option)
    return value
