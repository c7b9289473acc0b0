"""API keys: who may read which tenant's graph, and who may write (send notifications).

A key comes in ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. It is compared with
every configured key in constant time (SHA-256 digests compared with ``hmac.compare_digest``,
all of them, whatever matches), so neither the timing nor the order of the keys tells anything
about the secrets. Keys kept in the state directory (``contextbridge keys create``,
``contextbridge.storage.keystore``) are found by their digest beside them. Answers: 401 without a known key
(saying whether no key is configured at all, or this one is not valid), 403 when the key may not use
the tenant (``NGSILD-Tenant``, the default tenant when absent), may not write, or may not notify (the
``notify`` scope, for Orion-LD subscriptions alone). With no key configured
every protected request is refused: the service never runs open by accident.

Only key *names* are ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.requests import Request

from contextbridge.errors import ConfigError
from contextbridge.runtime.config import ApiKey
from contextbridge.sinks.graph.base import DEFAULT_TENANT, tenant_graph
from contextbridge.storage.keystore import KeyStore

from .problems import HTTPProblem

TENANT_HEADER = "NGSILD-Tenant"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="contextbridge"'}
NO_KEY_CONFIGURED = "no key is configured: see docs/service.md"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def request_tenant(request: Request) -> str:
    """The tenant a request names (``NGSILD-Tenant``), checked; the default tenant when absent."""
    tenant = request.headers.get(TENANT_HEADER, "").strip() or DEFAULT_TENANT
    try:
        tenant_graph(tenant)
    except ConfigError as error:
        raise HTTPProblem(400, "bad-tenant", "Bad Request", str(error)) from None
    return tenant


class Authenticator:
    """The configured keys, as digests, and those of a ``KeyStore``; ``authorize`` answers the key
    and tenant of a request."""

    def __init__(self, keys: Iterable[ApiKey], *, stored: KeyStore | None = None) -> None:
        self._keys = [(_digest(key.key), key) for key in keys]
        self._stored = stored

    def _refuse(self, detail: str) -> HTTPProblem:
        if not self._keys and (self._stored is None or not self._stored.count()):
            detail = NO_KEY_CONFIGURED
        return HTTPProblem(401, "unauthorized", "Unauthorized", detail, headers=_CHALLENGE)

    def identify(self, request: Request) -> ApiKey:
        presented = request.headers.get("x-api-key")
        if presented is None:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            presented = token.strip() if scheme.lower() == "bearer" else None
        if not presented:
            raise self._refuse("an API key is needed (X-API-Key)")
        digest = _digest(presented)
        found: ApiKey | None = None
        for known, key in self._keys:
            if hmac.compare_digest(known, digest):
                found = key
        if found is None and self._stored is not None:
            found = self._stored.find(digest)
        if found is None:
            raise self._refuse("this key is not valid")
        return found

    def authorize(
        self, request: Request, *, write: bool = False, notify: bool = False, tenant: str | None = None
    ) -> tuple[ApiKey, str]:
        """The request's key and tenant, or 401/403 as a ``HTTPProblem``. ``tenant``: the tenant
        the request acts on whatever its headers say (a webhook feed's own tenant)."""
        key = self.identify(request)
        tenant = tenant or request_tenant(request)
        if not key.allows(tenant):
            raise HTTPProblem(
                403, "forbidden", "Forbidden", f"key {key.name!r} may not use tenant {tenant!r}"
            )
        if write and not key.write:
            raise HTTPProblem(403, "forbidden", "Forbidden", f"key {key.name!r} is read-only")
        if notify and not key.notify:  # a subscription's key, not any write key
            raise HTTPProblem(403, "forbidden", "Forbidden", f"key {key.name!r} may not send notifications")
        request.scope.setdefault("state", {})["api_key"] = key.name
        return key, tenant
