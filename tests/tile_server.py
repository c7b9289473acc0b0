"""A slippy-map tile server on loopback for the console's map tests: ``/{z}/{x}/{y}.png``.

    with serve_tiles() as tiles:              # a thread; stops on exit
        url = tiles.template                  # "http://127.0.0.1:PORT/{z}/{x}/{y}.png"
        ...; assert tiles.served              # the tiles the browser fetched, as (z, x, y)

Each tile is a real 256×256 PNG (written with zlib, no imaging library): a pale ground with a
street along its top and left edges, so that a screenshot shows a street grid, and the tile's
z/x/y drawn nowhere (the tests read what was fetched from ``served``).
"""

from __future__ import annotations

import contextlib
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIZE = 256
GROUND = bytes((0xF2, 0xEF, 0xE9))
STREET = bytes((0xFF, 0xFF, 0xFF))
KERB = bytes((0xC9, 0xC2, 0xB6))
_PATH = re.compile(r"^/(\d{1,2})/(\d{1,7})/(\d{1,7})\.png$")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tile_png() -> bytes:
    """One tile: 8-bit RGB, a street (white, with kerbs) along the top and the left edge."""
    rows = []
    for y in range(SIZE):
        if y < 10:
            row = (KERB if y in (0, 9) else STREET) * SIZE
        else:
            row = KERB + STREET * 8 + KERB + GROUND * (SIZE - 10)
        rows.append(b"\x00" + row)
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


class TileServer:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        host, port = server.server_address[:2]
        self.template = f"http://{host}:{port}/{{z}}/{{x}}/{{y}}.png"
        self.origin = f"http://{host}:{port}"
        self.served: list[tuple[int, int, int]] = []


@contextlib.contextmanager
def serve_tiles() -> Iterator[TileServer]:
    body = tile_png()
    found: list[TileServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            match = _PATH.match(self.path)
            if match is None:
                self.send_error(404)
                return
            found[0].served.append((int(match[1]), int(match[2]), int(match[3])))
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=3600")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.append(TileServer(server))
    thread = threading.Thread(target=server.serve_forever, name="tiles", daemon=True)
    thread.start()
    try:
        yield found[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
