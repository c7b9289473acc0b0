"""The mappings and example questions the console starts from; saving a golden sample.

    GET  /mappings                          → {"mappings": [{"name": "santander-parking", "id", "path",
                                               "entity_types": [...], "format": "json", "feeds": [...],
                                               "writable": true}]}
    GET  /mappings/santander-parking        → the same, with "text" (the YAML) and "sample",
                                              "sample_name" (its first golden sample's input, if any)
    POST /mappings/santander-parking/samples   {"sample_name": "busy-hour", "payload": "..."}   (write key)
                                            → 201 {"name": "busy-hour", "sample": ".../busy-hour.json",
                                                   "expected": ".../busy-hour.expected.ndjson", "entities": 12}
    GET  /queries                           → {"queries": [{"name", "title", "query"}]}

The mappings are those of the configured feeds (``writable``: a sample can be saved beside them,
where ``contextbridge test`` finds it) and the example mappings of the source tree (read-only: a
starting point to copy). A mapping's ``name`` is its file's stem. The questions are the
configuration's ``queries``, or the example ones when it names none. Nothing here is tenant data:
any read key may list them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.authoring.golden import save_sample
from contextbridge.errors import ConfigError, ContextBridgeError, MappingError
from contextbridge.language.documents import Document, load_document, packaged_schema
from contextbridge.language.mapping import load_mapping
from contextbridge.language.mapping.compiler import discover_samples
from contextbridge.runtime.config import in_project
from contextbridge.sinks.graph.base import DEFAULT_TENANT, question

from .bodies import read_json, text_member
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

EXAMPLE_MAPPINGS = Path("mappings")
EXAMPLE_QUERIES = Path("examples/queries")
MAX_SAMPLE = 256 * 1024  # bytes of a sample sent to the console (a bigger one is not offered)


@dataclass(frozen=True)
class KnownMapping:
    """A mapping file the console offers: its name, path and the configured feeds that use it."""

    name: str
    path: Path
    feeds: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()  # of those feeds
    root: Path | None = None  # the configuration's directory: what its paths are shown relative to

    @property
    def writable(self) -> bool:
        """A configured feed's mapping: its samples are the operator's; an example's are not."""
        return bool(self.feeds)


def known_mappings(service: Service) -> dict[str, KnownMapping]:
    """The configured feeds' mappings, then the example ones, by name (a repeated stem gets ``-2``)."""
    found: dict[Path, KnownMapping] = {}
    root = service.config.path.parent.resolve() if service.config else None
    for feed in service.config.feeds if service.config else ():
        path = feed.mapping.resolve()
        known = found.get(path) or KnownMapping(path.stem, path, root=root)
        found[path] = dataclasses.replace(
            known, feeds=(*known.feeds, feed.id), tenants=(*known.tenants, feed.tenant or DEFAULT_TENANT)
        )
    examples = in_project(EXAMPLE_MAPPINGS)
    if examples is not None:
        for path in sorted(examples.resolve().glob("*.yaml")):  # keyed like the feeds' (resolved)
            found.setdefault(path, KnownMapping(path.stem, path))
    named: dict[str, KnownMapping] = {}
    for known in found.values():
        name, number = known.name, 1
        while name in named:
            number += 1
            name = f"{known.name}-{number}"
        named[name] = dataclasses.replace(known, name=name)
    return named


def known_mapping(service: Service, name: str) -> KnownMapping:
    found = known_mappings(service).get(name)
    if found is None:
        raise HTTPProblem(404, "not-found", "Not Found", f"no mapping {name!r} (GET /mappings lists them)")
    return found


def mapping_path(service: Service, name: str) -> Path:
    """The file of the mapping ``name`` (404 when the service knows none of that name)."""
    return known_mapping(service, name).path


def display_path(path: Path, root: Path | None = None) -> str:
    """``path`` as the console shows it: relative to ``root`` (the configuration's directory) or
    to the working directory when under one; else its name alone (no server layout is shown)."""
    for base in (root, Path.cwd().resolve()):
        if base is not None and path.is_relative_to(base):
            return str(path.relative_to(base))
    return path.name


@lru_cache(maxsize=256)
def _document(path: Path, modified: int, size: int) -> Document | str:
    """The parsed mapping file (cached while the file is unchanged), or why it cannot be read."""
    try:
        return load_document(path, schema=packaged_schema("mapping.schema.json"))
    except MappingError as error:
        return str(error.problems[0]) if error.problems else str(error)


def read_document(path: Path) -> Document | str:
    """The mapping file parsed (not compiled), or why it cannot be read."""
    try:
        stat = path.stat()
    except OSError as error:
        return f"cannot read {path.name}: {error.strerror}"
    return _document(path, stat.st_mtime_ns, stat.st_size)


def summary(known: KnownMapping) -> dict[str, Any]:
    """What the console's picker shows of a mapping (``problem``: why its file cannot be read)."""
    document = read_document(known.path)
    found: dict[str, Any] = {
        "name": known.name,
        "path": display_path(known.path, known.root),
        "feeds": list(known.feeds),
        "writable": known.writable,
    }
    if isinstance(document, str):
        return {**found, "id": None, "entity_types": [], "format": None, "problem": document}
    data = document.data
    specs = [data["entity"]] if "entity" in data else list(data.get("entities", ()))
    types = list(dict.fromkeys(spec["type"] for spec in specs if isinstance(spec.get("type"), str)))
    return {**found, "id": data.get("id"), "entity_types": types, "format": data["source"].get("format")}


def _samples(known: KnownMapping) -> Iterator[Path]:
    """The input files of the mapping's golden samples: those it lists, then those beside it."""
    document = read_document(known.path)
    if not isinstance(document, str):
        base = known.path.parent
        yield from (base / sample["input"] for sample in document.data.get("samples", ()))
    yield from (sample.input for sample in discover_samples(known.path))


def first_sample(known: KnownMapping) -> tuple[str, str] | None:
    """The name and text of the mapping's first golden sample small enough to show."""
    for path in _samples(known):
        try:
            if path.stat().st_size <= MAX_SAMPLE:
                return path.stem, path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):  # missing or binary: the next one
            continue
    return None


async def mappings_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    service.authenticator.authorize(request)
    listed = await asyncio.to_thread(lambda: [summary(known) for known in known_mappings(service).values()])
    return JSONResponse({"mappings": listed})


async def mapping_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    service.authenticator.authorize(request)
    known = known_mapping(service, request.path_params["name"])

    def read() -> dict[str, Any]:
        try:
            text = known.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise HTTPProblem(
                404, "not-found", "Not Found", f"mapping {known.name!r} cannot be read: {error}"
            ) from None
        sample = first_sample(known)
        return {
            **summary(known),
            "text": text,
            "sample": sample[1] if sample else None,
            "sample_name": sample[0] if sample else None,
        }

    return JSONResponse(await asyncio.to_thread(read))


async def sample_endpoint(request: Request) -> Response:
    """Keep a payload as a golden sample of a configured feed's mapping (``golden.save_sample``)."""
    service: Service = request.app.state.service
    key, _ = service.authenticator.authorize(request, write=True)
    known = known_mapping(service, request.path_params["name"])
    if not known.writable:
        raise HTTPProblem(
            409,
            "read-only-mapping",
            "Conflict",
            f"mapping {known.name!r} is an example, not a configured feed's: copy it to save samples",
        )
    if not any(key.allows(tenant) for tenant in known.tenants):
        raise HTTPProblem(
            403, "forbidden", "Forbidden", f"key {key.name!r} may not use the tenants of {known.name!r}"
        )
    data = await read_json(request, service.settings.max_body_bytes)
    name, payload = text_member(data, "sample_name"), text_member(data, "payload")

    def save() -> dict[str, Any]:
        try:
            mapping = load_mapping(known.path)
            sample, entities = save_sample(mapping, name, payload.encode("utf-8"))
        except MappingError as error:
            raise HTTPProblem(
                422, "mapping-invalid", "Unprocessable Content", f"the saved mapping is broken: {error}"
            ) from None
        except ConfigError as error:  # the sample's name
            raise HTTPProblem(400, "bad-request", "Bad Request", str(error)) from None
        except ContextBridgeError as error:  # the payload as a whole cannot be read: nothing written
            raise HTTPProblem(
                400, "bad-sample", "Bad Request", f"the payload cannot be read: {error}"
            ) from None
        return {
            "name": name,
            "sample": display_path(sample.input, known.root),
            "expected": display_path(sample.expected, known.root),
            "entities": entities,
        }

    return JSONResponse(await asyncio.to_thread(save), 201)


def known_queries(service: Service) -> list[Path]:
    """The configuration's example questions, or the source tree's when it names none."""
    if service.config is not None and service.config.queries:
        return list(service.config.queries)
    examples = in_project(EXAMPLE_QUERIES)
    return sorted(examples.glob("*.rq")) if examples is not None else []


async def queries_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    service.authenticator.authorize(request)

    def read() -> list[dict[str, str]]:
        found = []
        for path in known_queries(service):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):  # a question that cannot be read is not offered
                continue
            found.append({"name": path.stem, "title": question(text), "query": text})
        return found

    return JSONResponse({"queries": await asyncio.to_thread(read)})
