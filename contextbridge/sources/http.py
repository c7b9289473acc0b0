"""HTTP polling: fetch a URL every ``interval`` seconds, every page of it, only when it changed.

    >>> source = HttpPollSource("https://datos.santander.es/api/rest/datasets/sensores_smart_env_monitoring.json",
    ...                         interval=60, pagination=Pagination(style="page", param="page",
    ...                         size_param="items", size=80, records="resources"))
    >>> async for message in source.messages():   # one Message per page, metadata: url, status, headers, page
    ...     ...; await message.ack()

Conditional requests: the first page is asked with the ``ETag`` (``If-None-Match``) and the
``Last-Modified`` (``If-Modified-Since``) of the last complete poll; a 304 means nothing changed
and yields nothing. The validators are kept only once every page of a poll was acknowledged, so a
poll whose records never reached the outbox is fetched again in full next time.

Pagination: RFC 8288 ``Link: <…>; rel="next"`` (followed by default), a next-link inside the JSON
body (``style: json``, e.g. OGC SensorThings ``["@iot.nextLink"]``), or ``offset``/``page``
parameters until a page with fewer than ``size`` records (its record list is read at ``records``).

Failures (connection, timeout, 408/425/429/5xx) are retried with exponential backoff and jitter,
honouring ``Retry-After``; when the tries run out a one-shot source raises DeliveryError and a
polling source logs it and tries again at the next interval. Other answers (401, 404…) are not
retried: RemoteRefused (a ConfigError) with the status (one-shot) or a logged error (polling).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx

from ..errors import DeliveryError, RemoteRefused
from ..remote.auth import ApiKeyHeader, BearerToken
from ..remote.retry import RetryPolicy, retry_after
from .base import Ack, Message, Nack, pause, utc_now
from .pagination import Pagination
from .settings import Settings

__all__ = ["HttpPollSource"]

log = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


def _transient(error: BaseException) -> bool:
    """Connection failures (no status) and the statuses that mean "later" are retried; others are not."""
    return isinstance(error, DeliveryError) and (error.status is None or error.status in RETRYABLE)


class _Poll:
    """One poll's pages: its validators are committed when every page was acknowledged."""

    def __init__(self, source: HttpPollSource, validators: tuple[str | None, str | None]) -> None:
        self.source = source
        self.validators = validators
        self.pending = 0
        self.complete = False  # every page fetched
        self.failed = False

    def page(self) -> tuple[Ack, Nack]:
        """The ack and nack of one more page; a page counts once however often it is acked."""
        self.pending += 1
        done = False

        async def ack() -> None:
            nonlocal done
            if not done:
                done = True
                self.pending -= 1
                self._commit()

        async def nack(_error: BaseException) -> None:
            self.failed = True

        return ack, nack

    def finish(self) -> None:
        self.complete = True
        self._commit()

    def _commit(self) -> None:
        if self.complete and self.pending <= 0 and not self.failed:
            self.source.validators = self.validators


class HttpPollSource:
    """A URL polled at an interval (or once), with conditional requests, pagination and retries."""

    kind = "http"

    def __init__(
        self,
        url: str,
        *,
        interval: float = 60.0,
        once: bool = False,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        pagination: Pagination | None = None,
        conditional: bool = True,
        backoff: RetryPolicy | None = None,
        verify: bool | ssl.SSLContext = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.interval = interval
        self.once = once
        self.headers = dict(headers or {})
        self.params = dict(params or {})
        self.auth = auth
        self.timeout = timeout
        self.pagination = pagination or Pagination()
        self.conditional = conditional
        self.backoff = backoff or RetryPolicy(max_retry_after=60.0, attempts=5)
        self.verify = verify
        self.transport = transport
        self.validators: tuple[str | None, str | None] = (None, None)  # ETag, Last-Modified
        self.polls = 0
        self.not_modified = 0
        self.failures = 0
        self._closed = asyncio.Event()

    async def messages(self) -> AsyncIterator[Message]:
        async with httpx.AsyncClient(
            headers=self.headers,
            auth=self.auth,
            timeout=self.timeout,
            verify=self.verify,
            transport=self.transport,
            follow_redirects=True,
        ) as client:
            while not self._closed.is_set():
                try:
                    async for message in self._poll(client):
                        yield message
                except (DeliveryError, RemoteRefused) as error:
                    if self.once:
                        raise
                    self.failures += 1
                    log.error(
                        "http source %s: poll failed: %s; next poll in %.0fs", self.url, error, self.interval
                    )
                if self.once:
                    return
                await self._sleep(self.interval)

    async def close(self) -> None:
        self._closed.set()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when the source is closed."""
        await pause(self._closed, seconds)

    async def _poll(self, client: httpx.AsyncClient) -> AsyncIterator[Message]:
        self.polls += 1
        pagination = self.pagination
        params = {**self.params, **pagination.first_params()}
        conditions: dict[str, str] = {}
        etag, modified = self.validators
        if self.conditional and etag:
            conditions["If-None-Match"] = etag
        if self.conditional and modified:
            conditions["If-Modified-Since"] = modified
        url: str = self.url
        poll: _Poll | None = None
        for page in range(1, pagination.max_pages + 1):
            response = await self._fetch(client, url, params, conditions if page == 1 else {})
            if response.status_code == 304:
                self.not_modified += 1
                return
            if poll is None:
                poll = _Poll(self, (response.headers.get("etag"), response.headers.get("last-modified")))
            ack, nack = poll.page()
            yield Message(
                name=str(response.url),
                metadata={
                    "url": str(response.url),
                    "status": response.status_code,
                    "headers": dict(response.headers),
                    "page": page,
                    "received_at": utc_now(),
                },
                payload=response.content,
                _ack=ack,
                _nack=nack,
            )
            following = pagination.next_request(response, params, page)
            if following is None:
                break
            url, params = following
        else:
            log.warning("http source %s: stopped after %d pages", self.url, pagination.max_pages)
        if poll is not None:
            poll.finish()

    async def _fetch(
        self, client: httpx.AsyncClient, url: str, params: Mapping[str, str], conditions: Mapping[str, str]
    ) -> httpx.Response:
        async for attempt in self.backoff.retrying(retry=_transient, sleep=self._sleep):
            with attempt:
                return await self._get(client, url, params, conditions)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get(
        self, client: httpx.AsyncClient, url: str, params: Mapping[str, str], conditions: Mapping[str, str]
    ) -> httpx.Response:
        try:
            response = await client.get(url, params=params or None, headers=conditions)
        except httpx.HTTPError as error:  # connection refused or dropped, timeout, protocol error
            raise DeliveryError(f"GET failed: {type(error).__name__}: {error}", url=url) from error
        if response.status_code in RETRYABLE:
            raise DeliveryError(
                f"GET answered {response.status_code}",
                url=str(response.url),
                status=response.status_code,
                retry_after=retry_after(response.headers.get("retry-after")),
            )
        if response.status_code != 304 and not 200 <= response.status_code < 300:
            # Not transient (401, 403, 404...): retrying will not help, the configuration must change.
            raise RemoteRefused(
                f"GET answered {response.status_code}", url=str(response.url), status=response.status_code
            )
        return response

    @classmethod
    def from_config(cls, settings: Settings, *, base_dir: Path) -> HttpPollSource:
        url = settings.text("url") or "http://invalid"
        if not url.startswith(("http://", "https://")):
            settings.problem("url", f"expected an http:// or https:// URL, got {url!r}")
        auth_settings = settings.mapping("auth")
        source = cls(
            url,
            interval=settings.number("interval", 60.0),
            once=settings.flag("once", False),
            headers=settings.strings("headers"),
            params=settings.strings("params"),
            auth=_auth(auth_settings),
            timeout=settings.number("timeout", 30.0),
            pagination=Pagination.from_settings(settings.mapping("pagination")),
            conditional=settings.flag("conditional", True),
            backoff=RetryPolicy.from_settings(settings.mapping("retry")),
            verify=_verify(settings, base_dir),
        )
        return source


def _auth(settings: Settings | None) -> httpx.Auth | None:
    if settings is None:
        return None
    kind = settings.choice("type", "bearer")
    if kind == "bearer":
        return BearerToken(settings.text("token") or "")
    if kind == "api_key":
        return ApiKeyHeader(settings.text("key") or "", header=settings.text("header", "X-Api-Key") or "")
    username = settings.text("username") or ""
    password = settings._get("password", "")
    if not isinstance(password, str):
        settings.problem("password", "expected a string")
    return httpx.BasicAuth(username, password if isinstance(password, str) else "")


def _verify(settings: Settings, base_dir: Path) -> bool | ssl.SSLContext:
    """``tls_verify``: true, false, or a CA bundle file (relative to the configuration)."""
    value = settings._get("tls_verify", True)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and (base_dir / value).is_file():
        return ssl.create_default_context(cafile=str(base_dir / value))
    settings.problem("tls_verify", f"expected true, false or a CA bundle file, got {value!r}")
    return True
