"""The configuration file (``contextbridge.yaml``): a city's feeds and where their entities go.

    >>> config = load_config(Path("examples/santander/contextbridge.yaml"))
    >>> [feed.id for feed in config.feeds]
    ['parking', 'environment', ...]

Checked against a JSON Schema with every problem reported at its line. ``${VAR}`` in any string
is replaced from the environment when the file is loaded (an unset variable is a problem);
the values are never written back nor logged (``ApiKey`` keeps its secret out of ``repr``).

Sections: ``feeds`` (what ``run`` translates), ``graph`` (a SPARQL endpoint, or absent: the
embedded store of the state directory), ``broker`` (Orion-LD), ``webhooks`` (plain HTTP/JSON
sinks), ``service`` (what ``serve`` listens on, its API keys
and limits), ``queries`` (example questions).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..delivery.sink import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from ..entities.ontology import Ontology, union_ontology
from ..entities.updates import UpdatePolicy
from ..errors import ConfigError, MappingError, Problem
from ..language.documents import Document, Key, load_document, packaged_schema
from ..language.mapping import Mapping as MappingRules
from ..language.mapping import load_mapping
from ..language.mapping.compiler import constraints_mode
from ..remote.auth import auth_from_config
from ..sinks.broker import BrokerClient
from ..sinks.graph import GraphStore, open_store
from ..sinks.graph.base import DEFAULT_LIMIT, DEFAULT_TENANT, DEFAULT_TIMEOUT
from ..sources import source_schema
from ..sources.factory import SOURCES

if TYPE_CHECKING:
    from ..sinks.webhook import WebhookSink

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class FeedConfig:
    """A feed: its source section (see ``contextbridge.sources``), its mapping, its tenant."""

    id: str
    mapping: Path
    source: Mapping[str, Any]
    base: Path  # what relative paths of the source are relative to: the configuration's directory
    tenant: str | None = None
    batch_size: int = 1000
    constraints: str | None = None  # reject, warn or off; None: the mapping's
    overrides: Mapping[str, Any] = field(default_factory=dict)  # the feed's own ``update``/``history``

    @property
    def kind(self) -> str | None:
        """The kind of the feed's source: file, http, mqtt or webhook."""
        return next((kind for kind in SOURCES if kind in self.source), None)

    def policy(self, mapping: MappingRules, *, options: str | None = None) -> UpdatePolicy:
        """How this feed's entities update the sinks: its mapping's policy (by default that of the
        source kind), with the feed's own ``update`` and ``history`` in place of the mapping's;
        ``options`` (the broker section's ``update`` or ``replace``) forces the mode of every feed."""
        declared = mapping.policy(self.kind)
        own = UpdatePolicy.parse(self.overrides, default=declared.update)
        if "history" not in self.overrides:
            own = replace(own, history=declared.history, keep=declared.keep)
        return own if options is None else replace(own, merge=options == "update")


@dataclass(frozen=True)
class BrokerConfig:
    """The Orion-LD broker the entities are delivered to (absent: the city graph only)."""

    url: str
    tenant: str | None = None
    context: str | None = None  # the @context URL sent in the Link header
    options: str | None = None  # update or replace for every entity; None: each mapping's ``update``
    batch_size: int = DEFAULT_BATCH_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = 30.0
    retry_max: float = 60.0  # the longest backoff while the broker fails (serve)
    verify: bool | str = True
    auth: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def client(self, **options: Any) -> BrokerClient:
        """A client for this broker (the caller closes it)."""
        return BrokerClient(
            self.url,
            tenant=self.tenant,
            auth=auth_from_config(self.auth),
            context_url=self.context,
            options=self.options or "update",  # type: ignore[arg-type]
            batch_size=self.batch_size,
            timeout=self.timeout,
            verify=self.verify,
            **options,
        )


@dataclass(frozen=True)
class WebhookConfig:
    """A plain HTTP/JSON webhook the entities are delivered to: one more sink of the outbox."""

    name: str
    url: str
    secret: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    batch_size: int = DEFAULT_BATCH_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = 30.0
    retry_max: float = 60.0  # the longest backoff while the webhook fails (serve)
    verify: bool | str = True
    auth: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def sink(self) -> WebhookSink:
        """The sink of this webhook (the caller closes it)."""
        from ..sinks.webhook import WebhookSink

        return WebhookSink(
            self.url,
            name=self.name,
            secret=self.secret,
            auth=auth_from_config(self.auth),
            headers=self.headers,
            batch_size=self.batch_size,
            timeout=self.timeout,
            verify=self.verify,
        )


@dataclass(frozen=True)
class GraphConfig:
    """Where the city graph lives: a SPARQL endpoint, or (``endpoint=None``) the embedded store."""

    endpoint: str | None = None
    update_endpoint: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    cache_mb: float | None = None  # the embedded store's state cache (None: its default)

    def open(self, state_dir: Path, **options: Any) -> GraphStore:
        """The store: the endpoint's, or the embedded one in ``state_dir`` (the caller closes it)."""
        if self.endpoint is not None:
            return open_store(
                endpoint=self.endpoint, update_url=self.update_endpoint, timeout=self.timeout, **options
            )
        if self.cache_mb is not None:
            options["state_cache"] = int(self.cache_mb * 1024 * 1024)
        return open_store(state_dir=state_dir, **options)


@dataclass(frozen=True)
class ApiKey:
    """A client of the service: its name (for logs), secret, tenants (``None``: all), right to write
    and right to send Orion-LD notifications (``notify``: the scope a subscription's key needs)."""

    name: str
    key: str = field(repr=False)
    tenants: frozenset[str] | None = frozenset({DEFAULT_TENANT})
    write: bool = False
    notify: bool = False

    def allows(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants


OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
OSM_COPYRIGHT = "https://www.openstreetmap.org/copyright"
_TILE_URL = re.compile(r"^(https?://)((?:\{s\}\.)?[A-Za-z0-9.-]+(?::\d{1,5})?)/[^\s\"'<>]*$")


@dataclass(frozen=True)
class TileConfig:
    """The console's street map: a tile URL template (``{z}/{x}/{y}``, ``{s}`` for subdomains) and
    the attribution its licence asks for; the page's Content-Security-Policy allows its ``origin``."""

    url: str = OSM_TILES
    attribution: str = OSM_ATTRIBUTION
    attribution_url: str | None = OSM_COPYRIGHT
    max_zoom: int = 19

    def __post_init__(self) -> None:
        if not _TILE_URL.match(self.url) or not all(p in self.url for p in ("{z}", "{x}", "{y}")):
            raise ConfigError(
                f"tile URL {self.url!r} is not an http(s) URL template with {{z}}, {{x}} and {{y}}",
                key="service.console.tiles",
            )

    @property
    def origin(self) -> str:
        """The CSP source of the tiles: ``https://tile.openstreetmap.org``, ``https://*.tiles.example``."""
        found = _TILE_URL.match(self.url)
        assert found is not None
        return found.group(1) + found.group(2).replace("{s}", "*")


@dataclass(frozen=True)
class ServiceConfig:
    """The settings of ``contextbridge serve``; the defaults are safe for a loopback deployment."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    api_keys: tuple[ApiKey, ...] = ()
    max_body_bytes: int = 4 * 1024 * 1024
    sparql_timeout: float = DEFAULT_TIMEOUT
    sparql_limit: int = DEFAULT_LIMIT
    allowed_contexts: tuple[str, ...] = ()
    tiles: TileConfig | None = TileConfig()  # the console's street map (None: a plain grid)
    metrics_feeds: bool = False  # /metrics (public) labels its counts with the feeds' ids

    def __post_init__(self) -> None:
        names = [key.name for key in self.api_keys]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"API key name {twice[0]!r} is used twice", key="service.api_keys")
        secrets = [key.key for key in self.api_keys]
        if len(set(secrets)) != len(secrets):
            raise ConfigError("two API keys have the same secret", key="service.api_keys")
        for key in self.api_keys:
            if len(key.key) < 16:
                raise ConfigError(
                    f"API key {key.name!r} is shorter than 16 characters", key="service.api_keys"
                )


@dataclass(frozen=True)
class Config:
    path: Path
    feeds: tuple[FeedConfig, ...]
    queries: tuple[Path, ...] = ()
    graph: GraphConfig = GraphConfig()
    service: ServiceConfig = ServiceConfig()
    broker: BrokerConfig | None = None
    webhooks: tuple[WebhookConfig, ...] = ()
    outbox: str | None = None  # a postgresql:// URL; None: SQLite in the state directory
    outbox_liveness: float | None = None  # seconds claims outlive their worker's heartbeat (None: 10)
    ontologies: tuple[Path, ...] = ()  # vendors' Turtle files added to the bundled ontology


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Load, interpolate and check a configuration; raise MappingError listing every problem."""
    document = load_document(path, schema=config_schema())
    problems: list[Problem] = []
    data = _interpolate(document, (), document.data, os.environ if environ is None else environ, problems)
    if problems:
        raise MappingError(problems)
    base = path.parent
    feeds = []
    for index, feed in enumerate(data.get("feeds", ())):
        source = feed["source"]
        pattern = source.get("file")
        if isinstance(pattern, str) and not source.get("watch") and not _matches(base, pattern):
            problems.append(document.problem(("feeds", index, "source", "file"), "no input file matches"))
        feeds.append(
            FeedConfig(
                feed["id"],
                base / feed["mapping"],
                source,
                base,
                feed.get("tenant"),
                feed.get("batch_size", 1000),
                None if feed.get("constraints") is None else constraints_mode(feed["constraints"]),
                {key: feed[key] for key in ("update", "history") if key in feed},
            )
        )
        try:
            UpdatePolicy.parse(feeds[-1].overrides)
        except ConfigError as error:
            problems.append(document.problem(("feeds", index, error.key or "history"), str(error)))
    ids = [feed.id for feed in feeds]
    problems += [
        document.problem(("feeds",), f"feed id {i!r} is used twice")
        for i in sorted(set(ids))
        if ids.count(i) > 1
    ]
    service = _service(document, data.get("service", {}), problems)
    webhooks = tuple(_webhook(item) for item in data.get("webhooks", ()))
    names = [webhook.name for webhook in webhooks]
    problems += [
        document.problem(("webhooks", index, "name"), f"webhook name {name!r} is used twice")
        for index, name in enumerate(names)
        if name in names[:index]
    ] + [
        document.problem(
            ("webhooks", index, "name"), f"{name!r} names the {name} sink; call the webhook otherwise"
        )
        for index, name in enumerate(names)
        if name in ("broker", "graph")
    ]
    ontologies = tuple(base / name for name in data.get("ontologies", ()))
    problems += [
        document.problem(("ontologies", index), f"no such ontology file or directory: {path}")
        for index, path in enumerate(ontologies)
        if not path.exists()
    ]
    if problems:
        raise MappingError(problems)
    graph = data.get("graph", {})
    return Config(
        path=path,
        feeds=tuple(feeds),
        queries=tuple(base / query for query in data.get("queries", ())),
        graph=GraphConfig(
            graph.get("endpoint"),
            graph.get("update_endpoint"),
            graph.get("timeout", DEFAULT_TIMEOUT),
            graph.get("cache_mb"),
        ),
        service=service,
        broker=_broker(data["broker"]) if "broker" in data else None,
        webhooks=webhooks,
        outbox=data.get("outbox", {}).get("url"),
        outbox_liveness=data.get("outbox", {}).get("liveness"),
        ontologies=ontologies,
    )


def _broker(data: dict[str, Any]) -> BrokerConfig:
    verify: bool | str = data.get("ca") or not data.get("insecure", False)
    return BrokerConfig(
        url=data["url"],
        tenant=data.get("tenant"),
        context=data.get("context"),
        options=data.get("options"),
        batch_size=data.get("batch_size", DEFAULT_BATCH_SIZE),
        concurrency=data.get("concurrency", DEFAULT_CONCURRENCY),
        timeout=data.get("timeout", 30.0),
        retry_max=data.get("retry_max", 60.0),
        verify=verify,
        auth=data.get("auth", {}),
    )


def _webhook(data: dict[str, Any]) -> WebhookConfig:
    verify: bool | str = data.get("ca") or not data.get("insecure", False)
    return WebhookConfig(
        name=data["name"],
        url=data["url"],
        secret=data.get("secret"),
        headers=data.get("headers", {}),
        batch_size=data.get("batch_size", DEFAULT_BATCH_SIZE),
        concurrency=data.get("concurrency", DEFAULT_CONCURRENCY),
        timeout=data.get("timeout", 30.0),
        retry_max=data.get("retry_max", 60.0),
        verify=verify,
        auth=data.get("auth", {}),
    )


def config_ontology(config: Config, extra: Iterable[Path] = ()) -> Ontology:
    """The ontology a configuration runs with: the bundled one, ``extra`` (``--ontology``), the
    configuration's ``ontologies`` and the ``ontology`` of each feed's mapping."""
    files = [*extra, *config.ontologies]
    for feed in config.feeds:
        files += load_mapping(feed.mapping).ontologies
    return union_ontology(files)


@functools.cache
def config_schema() -> dict[str, Any]:
    """The configuration's JSON Schema, with the sources' schema in place of each feed's ``source``."""
    schema = packaged_schema("config.schema.json")
    schema["properties"]["feeds"]["items"]["properties"]["source"] = source_schema()
    return schema


def _service(document: Document, data: dict[str, Any], problems: list[Problem]) -> ServiceConfig:
    keys = []
    for item in data.get("api_keys", ()):
        tenants = item.get("tenants", [DEFAULT_TENANT])
        keys.append(
            ApiKey(
                item["name"],
                item["key"],
                None if tenants == "*" else frozenset(tenants),
                item.get("write", False),
                item.get("notify", False),
            )
        )
    sparql = data.get("sparql", {})
    try:
        return ServiceConfig(
            host=data.get("host", "127.0.0.1"),
            port=data.get("port", 8080),
            public_url=data.get("public_url"),
            api_keys=tuple(keys),
            max_body_bytes=data.get("max_body_bytes", ServiceConfig.max_body_bytes),
            sparql_timeout=sparql.get("timeout", DEFAULT_TIMEOUT),
            sparql_limit=sparql.get("limit", DEFAULT_LIMIT),
            allowed_contexts=tuple(data.get("allowed_contexts", ())),
            tiles=_tiles(document, data.get("console", {}), problems),
            metrics_feeds=data.get("metrics", {}).get("feeds", False),
        )
    except ConfigError as error:
        problems.append(document.problem(("service", "api_keys"), str(error)))
        return ServiceConfig()


def _tiles(document: Document, data: dict[str, Any], problems: list[Problem]) -> TileConfig | None:
    """``service.console.tiles``: a URL template, ``{url, attribution, ...}``, or false (no tiles)."""
    tiles = data.get("tiles")
    if tiles is None:
        return TileConfig()
    if tiles is False:
        return None
    found = _as_object(tiles)
    # another server's tiles: its credit is the configuration's to give
    uncredited = {} if found["url"] == OSM_TILES else {"attribution": "", "attribution_url": None}
    try:
        return TileConfig(**{**uncredited, **found})
    except ConfigError as error:
        problems.append(document.problem(("service", "console", "tiles"), str(error)))
        return None


def _as_object(tiles: str | dict[str, Any]) -> dict[str, Any]:
    return {"url": tiles} if isinstance(tiles, str) else tiles


def _matches(base: Path, pattern: str) -> bool:
    path = base / pattern
    if path.is_dir():
        return any(p.is_file() for p in path.iterdir())
    if any(char in pattern for char in "*?["):
        return any(p.is_file() for p in base.glob(pattern))
    return path.is_file()


def _interpolate(
    document: Document, key: Key, value: Any, environ: Mapping[str, str], problems: list[Problem]
) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                problems.append(document.problem(key, f"environment variable {name} is not set"))
                return ""
            return environ[name]

        return _VARIABLE.sub(replace, value)
    if isinstance(value, dict):
        return {k: _interpolate(document, (*key, k), v, environ, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(document, (*key, i), v, environ, problems) for i, v in enumerate(value)]
    return value


def in_project(relative: Path) -> Path | None:
    """A file or directory of the project's examples (``examples/...``, ``mappings``), looked up
    from the working directory, then the source tree; None when neither has it (an installed package)."""
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent.parent):
        if (base / relative).exists():
            return base / relative
    return None


def default_config_path() -> Path:
    """The Santander example configuration, looked up from the working directory, then the source tree."""
    relative = Path("examples/santander/contextbridge.yaml")
    if (found := in_project(relative)) is not None:
        return found
    raise ConfigError(
        f"no configuration given and {relative} was not found; run from a clone of the repository or pass CONFIG"
    )
