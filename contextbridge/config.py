"""The configuration file (``contextbridge.yaml``): a city's feeds and where their entities go.

    >>> config = load_config(Path("examples/santander/contextbridge.yaml"))
    >>> [feed.id for feed in config.feeds]
    ['parking', 'environment', ...]

Checked against a JSON Schema with every problem reported at its line. ``${VAR}`` in any string
is replaced from the environment when the file is loaded (an unset variable is a problem);
the values are never written back nor logged (``ApiKey`` keeps its secret out of ``repr``).

Sections: ``feeds`` (what ``run`` translates), ``graph`` (a SPARQL endpoint, or absent: the
embedded store of the state directory), ``service`` (what ``serve`` listens on, its API keys
and limits), ``queries`` (example questions).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .broker import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    ApiKeyHeader,
    BearerToken,
    BrokerClient,
    ClientCredentials,
)
from .documents import Document, Key, load_document, packaged_schema
from .errors import ConfigError, MappingError, Problem
from .graph import GraphStore, open_store
from .graph.base import DEFAULT_LIMIT, DEFAULT_TENANT, DEFAULT_TIMEOUT
from .sources import source_schema

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


@dataclass(frozen=True)
class BrokerConfig:
    """The Orion-LD broker the entities are delivered to (absent: the city graph only)."""

    url: str
    tenant: str | None = None
    context: str | None = None  # the @context URL sent in the Link header
    options: str = "update"
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
            auth=broker_auth(self.auth),
            context_url=self.context,
            options=self.options,  # type: ignore[arg-type]
            batch_size=self.batch_size,
            timeout=self.timeout,
            verify=self.verify,
            **options,
        )


@dataclass(frozen=True)
class GraphConfig:
    """Where the city graph lives: a SPARQL endpoint, or (``endpoint=None``) the embedded store."""

    endpoint: str | None = None
    update_endpoint: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def open(self, state_dir: Path, **options: Any) -> GraphStore:
        """The store: the endpoint's, or the embedded one in ``state_dir`` (the caller closes it)."""
        if self.endpoint is not None:
            return open_store(
                endpoint=self.endpoint, update_url=self.update_endpoint, timeout=self.timeout, **options
            )
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
    outbox: str | None = None  # a postgresql:// URL; None: SQLite in the state directory


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
            )
        )
    ids = [feed.id for feed in feeds]
    problems += [
        document.problem(("feeds",), f"feed id {i!r} is used twice")
        for i in sorted(set(ids))
        if ids.count(i) > 1
    ]
    service = _service(document, data.get("service", {}), problems)
    if problems:
        raise MappingError(problems)
    graph = data.get("graph", {})
    return Config(
        path=path,
        feeds=tuple(feeds),
        queries=tuple(base / query for query in data.get("queries", ())),
        graph=GraphConfig(
            graph.get("endpoint"), graph.get("update_endpoint"), graph.get("timeout", DEFAULT_TIMEOUT)
        ),
        service=service,
        broker=_broker(data["broker"]) if "broker" in data else None,
        outbox=data.get("outbox", {}).get("url"),
    )


def _broker(data: dict[str, Any]) -> BrokerConfig:
    verify: bool | str = data.get("ca") or not data.get("insecure", False)
    return BrokerConfig(
        url=data["url"],
        tenant=data.get("tenant"),
        context=data.get("context"),
        options=data.get("options", "update"),
        batch_size=data.get("batch_size", DEFAULT_BATCH_SIZE),
        concurrency=data.get("concurrency", DEFAULT_CONCURRENCY),
        timeout=data.get("timeout", 30.0),
        retry_max=data.get("retry_max", 60.0),
        verify=verify,
        auth=data.get("auth", {}),
    )


def broker_auth(settings: Mapping[str, Any]) -> httpx.Auth | None:
    """The authentication a broker section names: ``bearer``, ``api_key`` or ``oauth2``."""
    if "oauth2" in settings:
        oauth = settings["oauth2"]
        return ClientCredentials(oauth["token_url"], oauth["client_id"], oauth["client_secret"])
    if "bearer" in settings:
        return BearerToken(settings["bearer"])
    if "api_key" in settings:
        key = settings["api_key"]
        return ApiKeyHeader(key["value"], header=key.get("header", "X-Api-Key"))
    return None


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
            metrics_feeds=data.get("metrics", {}).get("feeds", False),
        )
    except ConfigError as error:
        problems.append(document.problem(("service", "api_keys"), str(error)))
        return ServiceConfig()


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
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
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
