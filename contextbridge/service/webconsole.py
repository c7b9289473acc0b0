"""The web console's files: ``GET /`` (its page) and ``/console/...`` (its scripts, style, icon).

    GET /                     → console/index.html   (public: the page asks for a key itself)
    GET /console/console.js   → the ES module, from contextbridge/service/console/

Every answer carries the console's security headers (``SECURITY_HEADERS``): a Content-Security-
Policy that allows only this origin's scripts, styles and requests (no inline code, no framing,
no form posts elsewhere), no MIME sniffing and no referrer. The page holds no secret: it reads
the data through the API, with the key the user types (kept in ``sessionStorage``).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

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


def _secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


class ConsoleFiles(StaticFiles):
    """The console's static files, each answer with ``SECURITY_HEADERS``.

    >>> Mount("/console", app=ConsoleFiles(directory=CONSOLE_DIR), name="console")
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        return _secured(await super().get_response(path, scope))


async def index_endpoint(request: Request) -> Response:
    """The console's page (no key needed: it holds no data)."""
    # no-cache: a new version of the page (and of the modules it names) is seen at the next load
    return _secured(FileResponse(CONSOLE_DIR / "index.html", headers={"Cache-Control": "no-cache"}))
