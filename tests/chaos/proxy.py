"""A loopback TCP proxy that cuts connections on demand: the network failing between contextbridge
and a service it needs (Mosquitto, PostgreSQL).

    >>> with TcpProxy(mqtt_broker) as proxy:                # listens on proxy.port
    ...     proxy.cut()                                     # every open connection reset at once
    ...     proxy.refuse(True); ...; proxy.refuse(False)    # new connections closed at once meanwhile
    ...     proxy.outage(1.5)                               # cut, refuse for 1.5 s, restore
    ...     proxy.outage(1.5, listening=False)              # the same, the port closed meanwhile

The proxy runs its own event loop in a thread, so the code under test may live in the test's
loop, in another thread or in another process. A cut is a reset (``SO_LINGER`` 0), as when a
router or a NAT table drops the flow: neither side is told politely.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from types import TracebackType
from typing import Any


class TcpProxy:
    """Forwards every connection to ``target``; ``cut``, ``refuse`` and ``outage`` break them."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.accepted = 0  # connections taken through
        self.refused = 0  # connections closed at once while refusing
        self.cuts = 0
        self._refusing = False
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="tcp proxy")

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            self._call(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def cut(self) -> int:
        """Reset every open connection (both sides); how many there were."""

        async def reset() -> int:
            writers = list(self._open)
            for writer in writers:
                _reset(writer)
            self._open.clear()
            return len(writers)

        count: int = self._call(reset())
        self.cuts += 1
        return count

    def refuse(self, refusing: bool, *, listening: bool = True) -> None:
        """While ``refusing``, a new connection is reset as soon as it is accepted (a firewall
        dropping the flow); with ``listening=False`` the port is closed instead, and a connect fails
        at once with "connection refused" (the service down)."""
        self._refusing = refusing
        if refusing and not listening:
            self._call(self._close_listener())
        elif not refusing:
            self._call(self._listen())

    @property
    def refusing(self) -> bool:
        return self._refusing

    def outage(self, seconds: float, *, listening: bool = True) -> None:
        """Cut every connection and refuse new ones for ``seconds`` (blocking), then let them through."""
        self.refuse(True, listening=listening)
        self.cut()
        time.sleep(seconds)
        self.refuse(False)

    @property
    def connections(self) -> int:
        """Client connections open through the proxy now (each also has its upstream half)."""
        return len(self._open) // 2

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            self.refused += 1
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self.accepted += 1
        pair = {writer, up_writer}
        self._open |= pair
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for one in pair:
                if one in self._open:
                    self._open.discard(one)
                    one.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, not a FIN: the peer's next read or write fails at once."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
