"""HTTP authentication, as ``httpx.Auth`` classes, for every client that calls out: the broker,
the webhook sink, the HTTP poll source.

    >>> client = BrokerClient(url, auth=auth_from_config({"bearer": "s3cr3t"}))
    >>> client = BrokerClient(url, auth=BearerToken("s3cr3t"))
    >>> client = BrokerClient(url, auth=ApiKeyHeader("k3y", header="X-Api-Key"))
    >>> client = BrokerClient(url, auth=ClientCredentials(
    ...     "https://keycloak.example/realms/city/protocol/openid-connect/token", "cb", "secret"))

``ClientCredentials`` (OAuth2, RFC 6749 §4.4) fetches a token through the client's own connection
pool and transport, keeps it until shortly before it expires, and fetches a new one when the broker
answers 401 (a token revoked early).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any

import httpx

from ..errors import DeliveryError


class BearerToken(httpx.Auth):
    """A fixed bearer token (``Authorization: Bearer ...``)."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class ApiKeyHeader(httpx.Auth):
    """An API key in a header of the gateway's choice (Kong, APISIX, 3scale: ``apikey``, ``X-Api-Key``)."""

    def __init__(self, key: str, *, header: str = "X-Api-Key") -> None:
        self.key = key
        self.header = header

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.header] = self.key
        yield request


class ClientCredentials(httpx.Auth):
    """OAuth2 client-credentials grant with token caching and refresh.

    ``leeway`` seconds before ``expires_in`` the token is renewed, so a request never leaves with a
    token about to expire; ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        leeway: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.leeway = leeway
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.fetched = 0  # how many tokens were fetched (observability, tests)

    def _valid(self) -> bool:
        return self._token is not None and self.clock() < self._expires

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        # Client authentication with HTTP Basic is the one every server must support (RFC 6749 §2.3.1).
        basic = httpx.BasicAuth(self.client_id, self.client_secret)
        request = httpx.Request("POST", self.token_url, data=form, headers={"Accept": "application/json"})
        return next(basic.auth_flow(request))

    def _store(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            # The token endpoint down or refusing: the data waits in the outbox, so retry later.
            raise DeliveryError(f"token endpoint answered {response.status_code}", url=self.token_url)
        try:
            body = response.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError) as error:
            raise DeliveryError("token endpoint answered without access_token", url=self.token_url) from error
        lifetime = float(body.get("expires_in") or 300)
        self._token = token
        self._expires = self.clock() + max(lifetime - self.leeway, lifetime / 2)
        self.fetched += 1

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        for _attempt in range(2):  # a 401 drops the token: fetch a new one and try once more
            if not self._valid():
                async with self._lock:
                    # Concurrent requests wait for one refresh instead of each fetching a token.
                    if not self._valid():
                        response = yield self._token_request()
                        await response.aread()
                        self._store(response)
            request.headers["Authorization"] = f"Bearer {self._token}"
            response = yield request
            if response.status_code != 401:
                return
            self._token = None


def auth_from_config(settings: Mapping[str, Any]) -> httpx.Auth | None:
    """The authentication a configuration section names (``auth:`` of ``broker`` or of a webhook
    sink): ``bearer``, ``api_key`` or ``oauth2``; ``None`` when it names none."""
    if "oauth2" in settings:
        oauth = settings["oauth2"]
        return ClientCredentials(oauth["token_url"], oauth["client_id"], oauth["client_secret"])
    if "bearer" in settings:
        return BearerToken(settings["bearer"])
    if "api_key" in settings:
        key = settings["api_key"]
        return ApiKeyHeader(key["value"], header=key.get("header", "X-Api-Key"))
    return None
