"""``POST /feeds/{id}`` judges credentials before the body's size: a stranger's oversized body gets
the same 401 from a feed with its own key, a signed feed, a feed taking the service's keys and no
feed at all, and only a sender whose credentials hold hears 413. A signed body is read (and
hashed) up to a bound, never to its end."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from test_service import SANTANDER, assert_problem, headers
from test_service_playground import WEATHER, readings
from test_service_status import Console, configured

from contextbridge.sources.webhook import SIGNED_READ

KEY = "hook-key-0123456789abcdef"
SECRET = "hook-secret-0123456789abcdef"
LIMIT = 256
FEEDS = f"""\
  - {{id: open-hook, tenant: santander, mapping: weather.yaml, source: {{webhook: {{insecure: true, max_body: {LIMIT}}}}}}}
  - {{id: keyed-hook, tenant: santander, mapping: weather.yaml, source: {{webhook: {{api_key: {KEY}, max_body: {LIMIT}}}}}}}
  - {{id: signed-hook, tenant: santander, mapping: weather.yaml, source: {{webhook: {{secret: {SECRET}, max_body: {LIMIT}}}}}}}"""
FEED_IDS = ("open-hook", "keyed-hook", "signed-hook", "no-such-feed")
STRANGERS = (
    {},
    {"X-Api-Key": "wrong-key-0123456789abc"},
    {"X-Signature-256": "00" * 32},
    {"Authorization": "Bearer nothing"},
)


def sign(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def served(tmp_path: Path, body: Callable[[Console], Awaitable[None]]) -> None:
    (tmp_path / "weather.yaml").write_text(WEATHER)

    async def main() -> None:
        async with configured(tmp_path, FEEDS) as console:
            await body(console)

    asyncio.run(main())


class Chunks:
    """A chunked body (no Content-Length) of ``size`` bytes, counting what the service read."""

    def __init__(self, size: int, chunk: int = 64) -> None:
        self.size, self.chunk, self.sent = size, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.size:
            piece = b" " * min(self.chunk, self.size - self.sent)
            self.sent += len(piece)
            yield piece


def answer(response: httpx.Response) -> tuple[int, str, str | None]:
    return response.status_code, response.text, response.headers.get("www-authenticate")


@pytest.mark.parametrize("feed", ["keyed-hook", "signed-hook", "open-hook"])
def test_a_strangers_body_of_any_size_gets_the_401_of_no_feed(tmp_path: Path, feed: str) -> None:
    async def body(console: Console) -> None:
        answers: dict[str, set[tuple[int, str, str | None]]] = {feed: set(), "no-such-feed": set()}
        for target, found in answers.items():
            for sent in STRANGERS:
                for size in (2, LIMIT + 1, LIMIT * SIGNED_READ + 1, 10 * LIMIT * SIGNED_READ):
                    declared = await console.client.post(
                        f"/feeds/{target}", content=b" " * size, headers=sent
                    )
                    chunked = await console.client.post(
                        f"/feeds/{target}", content=Chunks(size), headers=sent
                    )
                    found |= {answer(declared), answer(chunked)}
        assert answers[feed] == answers["no-such-feed"]
        assert len(answers[feed]) == 1 and next(iter(answers[feed]))[0] == 401

    served(tmp_path, body)


def test_only_a_sender_whose_credentials_hold_hears_413(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        post = console.client.post
        big = b" " * (LIMIT + 1)
        for chunked in (False, True):  # with a Content-Length, and without

            def content(chunked: bool = chunked) -> bytes | Chunks:
                return Chunks(LIMIT + 1) if chunked else big

            response = await post("/feeds/keyed-hook", content=content(), headers={"X-Api-Key": KEY})
            assert_problem(response, 413, "payload-too-large")
            signature = {"X-Signature-256": sign(big)}
            response = await post("/feeds/signed-hook", content=content(), headers=signature)
            assert_problem(response, 413, "payload-too-large")
            response = await post("/feeds/open-hook", content=content(), headers=headers(SANTANDER))
            assert_problem(response, 413, "payload-too-large")
        # and what fits is taken
        small = readings("3.0").encode()
        response = await post("/feeds/signed-hook", content=small, headers={"X-Signature-256": sign(small)})
        assert response.status_code == 202, response.text
        response = await post("/feeds/keyed-hook", content=small, headers={"X-Api-Key": KEY})
        assert response.status_code == 202, response.text

    served(tmp_path, body)


def test_a_signed_body_is_read_up_to_a_bound_not_to_its_end(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        post = console.client.post
        endless = Chunks(1000 * LIMIT)
        response = await post("/feeds/signed-hook", content=endless, headers={"X-Signature-256": "00" * 32})
        assert_problem(response, 401, "unauthorized")
        assert endless.sent <= LIMIT * SIGNED_READ + endless.chunk
        # a body too large to verify is not verified, even from the sender: 401, not 413
        huge = b" " * (LIMIT * SIGNED_READ + 1)
        response = await post("/feeds/signed-hook", content=huge, headers={"X-Signature-256": sign(huge)})
        assert_problem(response, 401, "unauthorized")
        # a key is judged before anything is read
        unread = Chunks(100 * LIMIT)
        response = await post("/feeds/keyed-hook", content=unread, headers={"X-Api-Key": "wrong"})
        assert_problem(response, 401, "unauthorized")
        assert unread.sent == 0

    served(tmp_path, body)
