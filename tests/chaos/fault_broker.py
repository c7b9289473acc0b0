"""The Orion-LD double behind a raw HTTP/1.1 front on loopback that fails at random, seeded.

    >>> broker = FaultyBroker(random.Random(seed), Faults(server_error=0.1, drop_before_body=0.05))
    >>> broker.refuse("urn:ngsi-ld:Sensor:7")          # always refused in a 207 (400 per entity)
    >>> broker.poison("urn:ngsi-ld:Sensor:9")          # any batch holding it refused whole (400)
    >>> with broker as url: ...                       # BrokerClient(url) delivers to it
    >>> broker.double.entities()                       # what the broker holds in the end

The front reads each request itself, so it can do what an HTTP framework cannot: close the socket
after the request head, before reading the body (the request never reached the broker), or after
applying it, before answering (it did, and the client cannot know). Otherwise a request is, by
the dice: answered 5xx without being applied, applied and answered 500 all the same, answered
429 with ``Retry-After``, applied in part and answered 207 naming only the part (the rest is
"missing": neither a success nor an error), or passed to the double as it is. ``injected`` counts
each fault, so a test can check that the dice did roll.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import orjson
from broker_double import ERRORS, BrokerDouble

UPSERT = "/ngsi-ld/v1/entityOperations/upsert"
REFUSED = {"type": ERRORS + "BadRequestData", "title": "refused by the test", "status": 400}


def poisoned(entity_id: str) -> dict[str, Any]:
    """The ProblemDetails of a batch refused whole because it holds ``entity_id``."""
    return {"type": ERRORS + "BadRequestData", "title": "Invalid entity", "status": 400, "detail": entity_id}


@dataclass(frozen=True)
class Faults:
    """The probability of each fault per upsert request (the rest pass through)."""

    server_error: float = 0.0  # 500/502/503/504, nothing applied
    applied_then_500: float = 0.0  # applied, answered 500
    too_many: float = 0.0  # 429 with Retry-After 0 or 1
    partial: float = 0.0  # a random part applied, 207 naming only that part
    drop_before_body: float = 0.0  # the socket closed after the head, body unread
    drop_after_body: float = 0.0  # the body read, applied or not, the socket closed unanswered


class FaultyBroker:
    """A ``BrokerDouble`` served on loopback through a front that injects ``faults``."""

    def __init__(self, rng: random.Random, faults: Faults) -> None:
        self.rng = rng
        self.faults = faults
        self.double = BrokerDouble()
        self.poisoned: set[str] = set()
        self.injected: collections.Counter[str] = collections.Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="faulty broker")
        self._server: asyncio.Server | None = None
        self._client: httpx.AsyncClient | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def refuse(self, entity_id: str) -> None:
        self.double.refuse_ids.add(entity_id)

    def poison(self, entity_id: str) -> None:
        self.poisoned.add(entity_id)

    def __enter__(self) -> str:
        self._thread.start()

        async def start() -> asyncio.Server:
            transport = httpx.ASGITransport(app=self.double)
            self._client = httpx.AsyncClient(transport=transport, base_url="http://orion")
            return await asyncio.start_server(self._serve, "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        async def stop() -> None:
            assert self._server is not None and self._client is not None
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()
            await self._client.aclose()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # --- HTTP/1.1, as much of it as httpx speaks to a broker ---------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                with contextlib.suppress(asyncio.IncompleteReadError):
                    head = await reader.readuntil(b"\r\n\r\n")
                    break_after = await self._request(head, reader, writer)
                    if not break_after:
                        continue
                return
        except (ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _request(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Handle one request; True when the connection is to be closed."""
        line, *fields = head.decode("latin-1").split("\r\n")
        method, target, _ = line.split(" ", 2)
        headers = [tuple(part.strip() for part in field.split(":", 1)) for field in fields if ":" in field]
        length = int(next((value for name, value in headers if name.lower() == "content-length"), "0"))
        upsert = method == "POST" and target.split("?")[0] == UPSERT
        fault = self._dice() if upsert else None
        if fault == "drop_before_body":
            return True
        body = await reader.readexactly(length)
        forwarded = [
            (name, value) for name, value in headers if name.lower() not in ("host", "content-length")
        ]
        if fault == "drop_after_body":
            if self.rng.random() < 0.5:
                await self._apply(method, target, forwarded, body)
            return True
        if fault == "server_error":
            status, answer, extra = self.rng.choice((500, 502, 503, 504)), b"", {}
        elif fault == "too_many":
            status, answer, extra = 429, b"", {"Retry-After": self.rng.choice(("0", "1"))}
        elif fault == "applied_then_500":
            await self._apply(method, target, forwarded, body)
            status, answer, extra = 500, b"", {}
        elif fault == "partial":
            status, answer, extra = await self._partial(method, target, forwarded, body)
        else:
            status, answer, extra = await self._apply(method, target, forwarded, body)
        if status >= 400 and not answer:
            kind = "InternalError" if status >= 500 else "TooManyRequests"
            answer = orjson.dumps({"type": ERRORS + kind, "title": f"injected {status}", "status": status})
        extra = {"Content-Type": "application/json", **extra} if answer else extra
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(answer)}"]
        lines += [f"{name}: {value}" for name, value in extra.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + answer)
        await writer.drain()
        return any(name.lower() == "connection" and value.lower() == "close" for name, value in headers)

    def _dice(self) -> str | None:
        roll = self.rng.random()
        for name, chance in vars(self.faults).items():
            if roll < chance:
                self.injected[name] += 1
                return name
            roll -= chance
        return None

    async def _apply(
        self, method: str, target: str, headers: list[Any], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        """The double's answer (a batch holding a poisoned id is refused whole, as invalid)."""
        if method == "POST" and target.split("?")[0] == UPSERT:
            ids = [item.get("id") for item in orjson.loads(body) if isinstance(item, dict)]
            if found := next((entity_id for entity_id in ids if entity_id in self.poisoned), None):
                return 400, orjson.dumps(poisoned(found)), {}
        assert self._client is not None
        response = await self._client.request(method, target, headers=headers, content=body)
        extra = (
            {"Content-Type": response.headers["content-type"]} if "content-type" in response.headers else {}
        )
        return response.status_code, response.content, extra

    async def _partial(
        self, method: str, target: str, headers: list[Any], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        """Apply a random part of the batch; answer 207 naming only that part's outcome."""
        items = orjson.loads(body)
        part = self.rng.sample(items, self.rng.randrange(len(items)))  # never the whole batch
        if not part:
            return 207, orjson.dumps({"success": [], "errors": []}), {}
        status, answer, extra = await self._apply(method, target, headers, orjson.dumps(part))
        if status in (201, 204):
            outcome = {"success": [item["id"] for item in part], "errors": []}
        elif status == 207:
            outcome = orjson.loads(answer)
        else:
            return status, answer, extra
        return 207, orjson.dumps(outcome), {}
