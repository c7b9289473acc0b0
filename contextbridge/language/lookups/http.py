"""Lookup rows from an HTTP URL, fetched again on an interval with ``If-None-Match``.

    >>> source = HttpSource("https://datos.example/sensors.csv", fmt="csv", interval=300)
    >>> rows = list(source.fetch())  # 200: the rows; once read, their ETag is kept
    >>> source.fetch() is None    # 304 Not Modified: the table in memory stays
    True

A sync httpx client: the refresher calls ``fetch`` from its own thread, away from translation and
from any event loop. A failure is a DeliveryError (retry at the next interval), a refusal (401, 403,
404...) a RemoteRefused (fix the lookup's URL or credentials); both carry the URL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from ...errors import DeliveryError, RemoteRefused
from .base import TABLE_FORMATS, LookupSource, Row, parse_rows

_MEDIA_TYPES = {"text/csv": "csv", "application/x-ndjson": "ndjson", "application/json": "json"}


class HttpSource(LookupSource):
    """``GET url``; the format comes from ``fmt``, else from the Content-Type (JSON by default)."""

    kind = "http"
    remote = True

    def __init__(
        self,
        url: str,
        *,
        fmt: str | None = None,
        options: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        interval: float | None = 300.0,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.format = fmt
        self.options = dict(options or {})
        self.headers = dict(headers or {})
        self.interval = interval
        self.timeout = timeout
        self.transport = transport  # the test seam
        self.etag: str | None = None

    def fetch(self) -> Iterator[Row] | None:
        headers = dict(self.headers)
        if self.etag is not None:
            headers["If-None-Match"] = self.etag
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = client.get(self.url, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryError(f"lookup fetch failed: {error!r}", url=self.url) from error
        if response.status_code == 304:
            return None
        if 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429):
            # Refused for good (401, 403, 404...): the lookup's URL or credentials must change.
            raise RemoteRefused(
                f"lookup fetch answered {response.status_code}", url=self.url, status=response.status_code
            )
        if response.status_code != 200:
            raise DeliveryError(
                f"lookup fetch answered {response.status_code}", url=self.url, status=response.status_code
            )
        rows = parse_rows(response.content, self._format_of(response), self.options, origin=self.url)
        return self._remember_etag(rows, response.headers.get("etag"))

    def _remember_etag(self, rows: Iterator[Row], etag: str | None) -> Iterator[Row]:
        yield from rows
        self.etag = etag  # only once every row was read: a refused table is fetched in full next time

    def _format_of(self, response: httpx.Response) -> str:
        if self.format is not None:
            return self.format
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        fmt = _MEDIA_TYPES.get(media, "json")
        return fmt if fmt in TABLE_FORMATS else "json"

    def describe(self) -> str:
        return self.url
