"""Pagination of polled HTTP collections: RFC 8288 Link, a next link in the body, offset or page parameters.

    >>> Pagination()                                                       # Link: <…>; rel="next"
    >>> Pagination(style="json", next='["@iot.nextLink"]')                  # OGC SensorThings
    >>> Pagination(style="offset", size=100, records="resources")          # ?offset=0&limit=100, …
    >>> Pagination(style="page", size_param="items", size=80, records="resources")   # Santander: ?page=1&items=80

With parameters, the page whose record list (at ``records``; ``""``: the body is the list) holds
fewer than ``size`` items is the last, so a full last page costs one more request for an empty
one. Paths are compiled once; the JSON body of a page is parsed here only for the styles that
need it (json, offset, page): the format parses it again for the records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin

import httpx
import orjson

from ..language.fieldpaths import MISSING, Getter, compile_path
from .settings import Settings

__all__ = ["Pagination", "Style"]

Style = Literal["link", "json", "offset", "page", "none"]


@dataclass(frozen=True)
class Pagination:
    """How to find the next page. ``records`` is the path of the record list (``""``: the body is the list)."""

    style: Style = "link"
    next: str | None = None  # style json: path of the next link in the body
    param: str | None = None  # style offset/page: the query parameter (default offset / page)
    size_param: str | None = None  # the page-size parameter (default limit for offset)
    size: int = 100
    start: int = 1  # style page: the number of the first page
    records: str = ""
    max_pages: int = 10_000
    _next: Getter | None = field(default=None, init=False, repr=False, compare=False)
    _records: Getter | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Paths compiled once, not per page.
        if self.style == "json":
            if not self.next:
                raise ValueError("pagination style json needs the path of the next link")
            object.__setattr__(self, "_next", compile_path(self.next))
        if self.style in ("offset", "page") and self.records:
            object.__setattr__(self, "_records", compile_path(self.records))

    def first_params(self) -> dict[str, str]:
        if self.style == "offset":
            return {self.param or "offset": "0", self.size_param or "limit": str(self.size)}
        if self.style == "page":
            params = {self.param or "page": str(self.start)}
            if self.size_param:
                params[self.size_param] = str(self.size)
            return params
        return {}

    def next_request(
        self, response: httpx.Response, params: dict[str, str], page: int
    ) -> tuple[str, dict[str, str]] | None:
        """The URL and parameters of the page after ``response`` (``page`` is 1-based), or None."""
        url = str(response.url.copy_with(query=None))
        if self.style == "link":
            link = response.links.get("next", {}).get("url")
            return (urljoin(str(response.url), link), {}) if link else None
        if self.style == "json":
            assert self._next is not None
            value = self._next(_json(response))
            return (urljoin(str(response.url), value), {}) if isinstance(value, str) and value else None
        if self.style in ("offset", "page"):
            body = _json(response)
            items = self._records(body) if self._records is not None else body
            if not isinstance(items, list) or len(items) < self.size:
                return None  # an empty or short page is the last one
            following = dict(params)
            if self.style == "offset":
                name = self.param or "offset"
                following[name] = str(int(params.get(name, "0")) + self.size)
            else:
                name = self.param or "page"
                following[name] = str(self.start + page)
            return url, following
        return None

    @classmethod
    def from_settings(cls, settings: Settings | None) -> Pagination:
        if settings is None:
            return cls()
        style: Style = settings.choice("style", "link")
        values: dict[str, Any] = {
            "next": settings.text("next"),
            "param": settings.text("param"),
            "size_param": settings.text("size_param"),
            "size": settings.integer("size", 100),
            "start": settings.integer("start", 1),
            "records": settings.text("records") or "",
            "max_pages": settings.integer("max_pages", 10_000),
        }
        if style == "json" and not values["next"]:
            return cls(style="none")  # the missing key is already reported
        try:
            return cls(style=style, **values)
        except Exception as error:  # a malformed path
            settings.problem("records" if style != "json" else "next", str(error))
            return cls(style="none")


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return MISSING  # not JSON: no next page; the format reports the body itself
