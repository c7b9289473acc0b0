"""Build a source from its configuration section; the kind is the section's one key.

    >>> build_source({"mqtt": {"url": "mqtt://127.0.0.1:1883", "topic": "santander/+device/attrs",
    ...                        "qos": 1, "share": "workers"}}, base_dir=Path("."))
    >>> build_source({"http": {"url": "https://datos.santander.es/api/rest/datasets/x.json", "interval": 60}},
    ...              base_dir=Path("."))
    >>> build_source({"file": "data/*.csv", "watch": True}, base_dir=Path("examples"))
    >>> build_source({"webhook": {"api_key": "${TTN_WEBHOOK_KEY}"}}, base_dir=Path("."))

The rules of every kind's settings are written once, in ``sources.schema.json`` (``source_schema()``),
which the configuration loader also uses: a section is checked against it here, then read. Every
mistake of the section is reported in one OptionsError whose ``key`` names the first (``mqtt.qos``,
``http.pagination.style``), relative to the source section.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from ..errors import ConfigError
from ..language.documents import schema_message
from .base import Source
from .files import FileSource
from .http import HttpPollSource
from .jetstream import JetStreamSource
from .mqtt import MqttSource
from .settings import Settings
from .webhook import WebhookSource

__all__ = ["SOURCES", "build_source", "schema_problems", "source_schema"]

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
    problems = schema_problems(config)
    if kind == "file":
        pattern = config["file"]
        section = {k: v for k, v in config.items() if k != "file"}
        if isinstance(pattern, Mapping):  # the long form: {file: {path: ..., watch: ...}}
            section = {k: v for k, v in pattern.items() if k != "path"}
            pattern = pattern.get("path")
        settings = Settings(section, prefix="file", problems=problems)
        if not isinstance(pattern, str) or not pattern:
            settings.problem("path", f"expected a file, directory or glob pattern, got {pattern!r}")
            pattern = "."
        if once:
            settings.data = {**settings.data, "watch": False}
        source: Source = FileSource.from_config(pattern, settings, base_dir=base_dir, state_dir=state_dir)
        settings.finish()
        return source
    section = config[kind]
    settings = Settings(section if isinstance(section, Mapping) else {}, prefix=kind, problems=problems)
    if kind == "http" and once is not None:
        settings.data = {**settings.data, "once": once}
    source = SOURCES[kind].from_config(settings, base_dir=base_dir)
    settings.finish()
    return source


def schema_problems(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every way ``config`` breaks ``sources.schema.json``: ``(key, message)`` in the order of the
    section, ``key`` dotted as the sources name their settings (``mqtt.qos``, ``file.watch``)."""
    validator = jsonschema.Draft202012Validator(source_schema())
    found: dict[tuple[Any, ...], str] = {}
    for error in validator.iter_errors(config):
        for path, message in _located(error):
            found.setdefault(path, message)
    kind = next((k for k in SOURCES if k in config), None)

    def key(path: tuple[Any, ...]) -> str:
        if kind == "file" and path == ("file",):
            path = ("file", "path")  # the pattern itself
        elif kind == "file" and path and path[0] != "file":
            path = ("file", *path)  # the short form's settings sit beside the pattern
        return ".".join(str(part) for part in path) if path else "source"

    return [
        (key(path), message) for path, message in sorted(found.items(), key=lambda i: _order(config, i[0]))
    ]


def _located(error: jsonschema.ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    """The problems one schema error stands for, each at the key to fix."""
    path = tuple(error.absolute_path)
    if "additionalProperties" in tuple(error.relative_schema_path)[:-1]:
        path = path[:-1]  # a value of a free map (headers, params): the map is the setting to fix
    instance = error.instance
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in instance]
        return [((*path, name), "is required") for name in missing]
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        extra = sorted(set(instance) - set(error.schema.get("properties", {})), key=str)
        return [((*path, name), f"unknown setting (known: {allowed})") for name in extra]
    if error.validator in ("anyOf", "oneOf"):
        alternatives = error.validator_value
        if all(set(alt) <= {"required", "properties"} and alt.get("required") for alt in alternatives):
            names = [alt["required"][0] for alt in alternatives]
            return [((*path, names[0]), "needs one of " + ", ".join(names))]
        fitting = [i for i, alt in enumerate(alternatives) if _fits(instance, alt)]
        if len(fitting) == 1:  # the value has the shape of one alternative: what is wrong inside it
            inner = [e for e in error.context or () if e.relative_schema_path[0] == fitting[0]]
            return [located for e in inner for located in _located(e)]
        shapes = [str(alt["type"]) for alt in alternatives if "type" in alt] or [
            ", ".join(f"{k}: {r['const']}" for k, r in alt.get("properties", {}).items() if "const" in r)
            for alt in alternatives
        ]
        return [(path, f"expected {' or '.join(shapes)}, got {instance!r}")]
    return [(path, f"{schema_message(error)}")]


def _fits(instance: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``instance`` is of the shape an alternative describes: its type, or the constants
    that tell the alternatives apart (``type: bearer``)."""
    if "type" in schema:
        kinds = {"string": str, "array": list, "object": Mapping, "boolean": bool}
        wanted = kinds.get(str(schema["type"]))
        return wanted is not None and isinstance(instance, wanted)
    consts = {name: rule["const"] for name, rule in schema.get("properties", {}).items() if "const" in rule}
    return (
        bool(consts)
        and isinstance(instance, Mapping)
        and all(instance.get(k) == v for k, v in consts.items())
    )


def _order(config: Any, path: tuple[Any, ...]) -> tuple[int, ...]:
    """Where ``path`` sits in ``config``, key by key (a missing key before the present ones: the
    required key a section lacks is its first mistake)."""
    positions = []
    node = config
    for part in path:
        keys = list(node) if isinstance(node, Mapping) else []
        positions.append(keys.index(part) if part in keys else -1)
        node = node.get(part) if isinstance(node, Mapping) else None
    return tuple(positions)


@cache
def source_schema() -> dict[str, Any]:
    """The JSON Schema of a feed's ``source`` section (``$defs`` for each kind), to merge into the config schema."""
    text = (
        resources.files("contextbridge.sources").joinpath("sources.schema.json").read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema
