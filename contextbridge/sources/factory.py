"""Build a source from its configuration section; the kind is the section's one key.

    >>> build_source({"mqtt": {"url": "mqtt://127.0.0.1:1883", "topic": "santander/+device/attrs",
    ...                        "qos": 1, "share": "workers"}}, base_dir=Path("."))
    >>> build_source({"http": {"url": "https://datos.santander.es/api/rest/datasets/x.json", "interval": 60}},
    ...              base_dir=Path("."))
    >>> build_source({"file": "data/*.csv", "watch": True}, base_dir=Path("examples"))
    >>> build_source({"webhook": {"api_key": "${TTN_WEBHOOK_KEY}"}}, base_dir=Path("."))

Every mistake of the section is reported in one ConfigError whose ``key`` names the first
(``mqtt.qos``, ``http.pagination.style``), relative to the source section. The same rules, as a
JSON Schema fragment for the configuration loader, are in ``sources.schema.json`` (``source_schema()``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .base import Source
from .files import FileSource
from .http import HttpPollSource
from .jetstream import JetStreamSource
from .mqtt import MqttSource
from .settings import Settings
from .webhook import WebhookSource

__all__ = ["SOURCES", "build_source", "source_schema"]

SOURCES: dict[str, Any] = {
    "file": FileSource,
    "http": HttpPollSource,
    "jetstream": JetStreamSource,
    "mqtt": MqttSource,
    "webhook": WebhookSource,
}


def build_source(
    config: Mapping[str, Any], *, base_dir: Path, state_dir: Path | None = None, once: bool | None = None
) -> Source:
    """The source a configuration section describes.

    ``base_dir`` resolves relative paths (files, CA bundles); ``state_dir`` holds the watched
    file sources' state (default ``base_dir/.contextbridge``); ``once`` (for ``contextbridge run``)
    overrides the HTTP source's ``once`` and turns file watching off.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"source: expected a mapping, got {config!r}", key="source")
    kinds = [kind for kind in SOURCES if kind in config]
    if len(kinds) != 1:
        known = ", ".join(sorted(SOURCES))
        found = ", ".join(repr(k) for k in config) or "nothing"
        raise ConfigError(f"source: expected exactly one of {known}; found {found}", key="source")
    kind = kinds[0]
    if kind == "file":
        pattern = config["file"]
        settings = Settings({k: v for k, v in config.items() if k != "file"}, prefix="file")
        if isinstance(pattern, Mapping):  # the long form: {file: {path: ..., watch: ...}}
            settings = Settings({k: v for k, v in pattern.items() if k != "path"}, prefix="file")
            pattern = pattern.get("path")
        if not isinstance(pattern, str) or not pattern:
            settings.problem("path", f"expected a file, directory or glob pattern, got {pattern!r}")
            pattern = "."
        if once:
            settings.data = {**settings.data, "watch": False}
        source: Source = FileSource.from_config(pattern, settings, base_dir=base_dir, state_dir=state_dir)
        settings.finish()
        return source
    extra = sorted(set(config) - {kind})
    section = config[kind]
    settings = Settings(section if section is not None else {}, prefix=kind)
    for key in extra:
        settings.problems.append((key, f"unknown setting beside {kind!r}"))
    if kind == "http" and once is not None:
        settings.data = {**settings.data, "once": once}
    source = SOURCES[kind].from_config(settings, base_dir=base_dir)
    settings.finish()
    return source


@cache
def source_schema() -> dict[str, Any]:
    """The JSON Schema of a feed's ``source`` section (``$defs`` for each kind), to merge into the config schema."""
    text = (
        resources.files("contextbridge.sources").joinpath("sources.schema.json").read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema
