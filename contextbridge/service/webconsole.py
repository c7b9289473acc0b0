"""The web console's files: ``GET /`` (its page) and ``/console/...`` (its scripts, style, icon).

    GET /                     → console/index.html   (public: the page asks for a key itself)
    GET /console/console.js   → the ES module, from contextbridge/service/console/
    GET /console/settings     → {"tiles": {"url": ..., "attribution": ...} | null}  (public)

Every answer carries the console's security headers (``SECURITY_HEADERS``): a Content-Security-
Policy that allows only this origin's scripts, styles and requests (no inline code, no framing,
no form posts elsewhere), no MIME sniffing and no referrer. Images may come from one more
origin: the tile server of the maps (``service.console.tiles``, OpenStreetMap's by default), and
only that one. The page holds no secret: it reads the data through the API, with the key the user
types (kept in ``sessionStorage``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from contextbridge.runtime.config import TileConfig

CONSOLE_DIR = Path(__file__).resolve().parent / "console"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def content_security_policy(tiles: TileConfig | None) -> str:
    """The console's policy, its images allowed from the tile server's origin too (when there is one)."""
    if tiles is None:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", f"img-src 'self' data: {tiles.origin}")


def _secured(response: Response, scope: Scope) -> Response:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = content_security_policy(
        scope["app"].state.service.settings.tiles
    )
    return response


class ConsoleFiles(StaticFiles):
    """The console's static files, each answer with ``SECURITY_HEADERS``.

    >>> Mount("/console", app=ConsoleFiles(directory=CONSOLE_DIR), name="console")
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        return _secured(await super().get_response(path, scope), scope)


async def index_endpoint(request: Request) -> Response:
    """The console's page (no key needed: it holds no data)."""
    # no-cache: a new version of the page (and of the modules it names) is seen at the next load
    response = FileResponse(CONSOLE_DIR / "index.html", headers={"Cache-Control": "no-cache"})
    return _secured(response, request.scope)


async def settings_endpoint(request: Request) -> Response:
    """What the page needs to know of the configuration: the tile server of its maps."""
    tiles = request.app.state.service.settings.tiles
    found = None if tiles is None else {**dataclasses.asdict(tiles), "origin": tiles.origin}
    return _secured(JSONResponse({"tiles": found}, headers={"Cache-Control": "no-cache"}), request.scope)
