"""Which @context a notification's entities are written in, and reading them in the city's terms.

The city graph reads an entity's short names with the city @context (``contextbridge.entities.rdf``), so
an entity written in another context must first be put into the city's terms. A notification
names its context in a Link header (``application/json``), in its body or in each entity
(``application/ld+json``), or not at all (the core context alone: non-core short names then
mean ``https://uri.etsi.org/ngsi-ld/default-context/<name>``, as for Orion-LD).

- the city context (this service's ``/context.jsonld``, alone or with the core context) — the
  entities are already in the city's terms: nothing to do (the common case, and a fast one);
- the core context, the city's, and the URLs of ``allowed_contexts`` — the entity is expanded
  with its context and compacted with the city's (pyld, offline: an allowed URL is fetched once,
  then served from memory);
- any other URL — refused. A remote @context is never fetched unless the configuration allows it:
  a notification must not make the service fetch what an attacker names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import orjson
from pyld import jsonld

from contextbridge.entities.jsonld import CORE_CONTEXT_URL, context_document, core_context, document_loader
from contextbridge.entities.ontology import Ontology
from contextbridge.errors import ConfigError

CORE_PREFIXES = (
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context",
    "http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context",
)
MAX_CONTEXT_BYTES = 1_000_000


class ContextRefused(ConfigError):
    """A @context that is neither the core, the city's nor an allowed one, or that cannot be had."""


def is_core(url: str) -> bool:
    return url.startswith(CORE_PREFIXES) and url.endswith(".jsonld")


def urls(context: Any) -> list[str]:
    """The URLs a @context value names at its top level."""
    items = context if isinstance(context, list) else [context]
    return [item for item in items if isinstance(item, str)]


class ContextResolver:
    """Puts entities into the city's terms; fetches allowed remote contexts once."""

    def __init__(
        self,
        ontology: Ontology,
        *,
        allowed: Iterable[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.ontology = ontology
        self.city = context_document(ontology)
        self.allowed = frozenset(allowed)
        self._documents: dict[str, dict[str, Any]] = {}
        self._lock = asyncio.Lock()
        self._transport = transport

    def is_city(self, context: Any, own: Iterable[str]) -> bool:
        """True when ``context`` is the city context (by one of its ``own`` URLs), maybe with the core."""
        items = context if isinstance(context, list) else [context]
        names = set(own)
        return (
            bool(items)
            and all(isinstance(item, str) and (item in names or is_core(item)) for item in items)
            and any(item in names for item in items)
        )

    async def prepare(self, context: Any, own: Iterable[str]) -> None:
        """Check every URL of ``context`` and fetch the allowed remote ones (once)."""
        names = set(own)
        for url in urls(context):
            if is_core(url) or url in names or url in self._documents:
                continue
            if url not in self.allowed:
                raise ContextRefused(
                    f"@context {url!r} is not allowed (service.allowed_contexts)", key="@context"
                )
            async with self._lock:
                if url not in self._documents:
                    self._documents[url] = await self._fetch(url)

    async def _fetch(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=10.0, transport=self._transport) as client:
                response = await client.get(url, headers={"Accept": "application/ld+json, application/json"})
        except httpx.HTTPError as error:
            raise ContextRefused(f"@context {url!r} cannot be fetched: {error!r}", key="@context") from error
        if response.status_code != 200 or len(response.content) > MAX_CONTEXT_BYTES:
            raise ContextRefused(f"@context {url!r} answered {response.status_code}", key="@context")
        try:
            document = orjson.loads(response.content)
        except orjson.JSONDecodeError as error:
            raise ContextRefused(f"@context {url!r} is not JSON: {error}", key="@context") from error
        if not isinstance(document, dict) or "@context" not in document:
            raise ContextRefused(f"@context {url!r} holds no @context", key="@context")
        return dict(document)

    def compact(self, entities: list[Mapping[str, Any]], context: Any, own: Iterable[str]) -> list[Any]:
        """Each entity read with ``context``, written in the city's terms (a ``ContextRefused`` in place
        of an entity JSON-LD cannot read). CPU work: run it in a thread."""
        documents = {CORE_CONTEXT_URL: core_context(), **self._documents}
        for url in own:
            documents[url] = self.city
        loader = document_loader(documents)
        options = {"documentLoader": loader}
        out: list[Any] = []
        for entity in entities:
            data = {key: value for key, value in entity.items() if key != "@context"}
            data["@context"] = with_core(context)
            try:
                expanded = jsonld.expand(data, options)
                compacted = jsonld.compact(expanded, self.city, options)
            except jsonld.JsonLdError as error:
                out.append(ContextRefused(f"JSON-LD processing failed: {_cause(error)}", key="@context"))
                continue
            compacted.pop("@context", None)
            out.append(compacted)
        return out


def with_core(context: Any) -> list[Any]:
    """``context`` with the core context last, as NGSI-LD reads every payload (it is implied)."""
    items = [] if context is None else list(context) if isinstance(context, list) else [context]
    if not any(isinstance(item, str) and is_core(item) for item in items):
        items.append(CORE_CONTEXT_URL)
    return items


def _cause(error: BaseException) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConfigError):
            return str(cause)
        cause = getattr(cause, "cause", None) or cause.__cause__
    return str(error).splitlines()[0]
