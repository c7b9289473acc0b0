"""The configuration file (``contextbridge.yaml``): a city's feeds and where their entities go.

    >>> config = load_config(Path("examples/santander/contextbridge.yaml"))
    >>> [feed.id for feed in config.feeds]
    ['parking', 'environment', ...]

Checked against a JSON Schema with every problem reported at its line. ``${VAR}`` in any string
is replaced from the environment when the file is loaded (an unset variable is a problem);
the values are never written back nor logged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .documents import Document, Key, load_document, packaged_schema
from .errors import ConfigError, MappingError, Problem

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class FeedConfig:
    id: str
    mapping: Path
    inputs: tuple[Path, ...]
    tenant: str | None = None


@dataclass(frozen=True)
class Config:
    path: Path
    feeds: tuple[FeedConfig, ...]
    graph_endpoint: str | None = None
    queries: tuple[Path, ...] = ()


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Load, interpolate and check a configuration; raise MappingError listing every problem."""
    document = load_document(path, schema=packaged_schema("config.schema.json"))
    problems: list[Problem] = []
    data = _interpolate(document, (), document.data, os.environ if environ is None else environ, problems)
    if problems:
        raise MappingError(problems)
    base = path.parent
    feeds = []
    for index, feed in enumerate(data["feeds"]):
        inputs = _inputs(base, feed["source"]["file"])
        if not inputs:
            problems.append(document.problem(("feeds", index, "source", "file"), "no input file matches"))
        feeds.append(FeedConfig(feed["id"], base / feed["mapping"], inputs, feed.get("tenant")))
    ids = [feed.id for feed in feeds]
    problems += [
        document.problem(("feeds",), f"feed id {i!r} is used twice")
        for i in sorted(set(ids))
        if ids.count(i) > 1
    ]
    if problems:
        raise MappingError(problems)
    return Config(
        path=path,
        feeds=tuple(feeds),
        graph_endpoint=data.get("graph", {}).get("endpoint"),
        queries=tuple(base / query for query in data.get("queries", ())),
    )


def _inputs(base: Path, pattern: str) -> tuple[Path, ...]:
    path = base / pattern
    if path.is_dir():
        return tuple(sorted(p for p in path.iterdir() if p.is_file()))
    if any(char in pattern for char in "*?["):
        return tuple(sorted(p for p in base.glob(pattern) if p.is_file()))
    return (path,) if path.is_file() else ()


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


def default_config_path() -> Path:
    """The Santander example configuration, looked up from the working directory, then the source tree."""
    relative = Path("examples/santander/contextbridge.yaml")
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (base / relative).is_file():
            return base / relative
    raise ConfigError(
        f"no configuration given and {relative} was not found; run from a clone of the repository or pass CONFIG"
    )
