"""The webhook source: authentication (API key, HMAC-SHA256 signatures), size limit, the bounded
queue, and the 202-after-storage hand-shake, through HTTP requests to a starlette route (httpx's
ASGI transport keeps the route and the consumer on one event loop, as in the service).

The route below does what the service does with a WebhookSource: verify, push, wait for the
consumer's ack, answer 202 (or the refusal's status). The body is a real The Things Stack uplink.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contextbridge import ConfigError, build_source, get_format
from contextbridge.sources import (
    PayloadTooLarge,
    WebhookAuthError,
    WebhookBusy,
    WebhookRefused,
    WebhookSource,
    records_with_metadata,
)
from contextbridge.sources.webhook import SIGNED_READ

LORAWAN = Path(__file__).resolve().parent / "data" / "formats" / "lorawan"
UPLINK = (LORAWAN / "tts_v3_uplink_example.json").read_bytes()
T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, 20)

    return asyncio.run(bounded())


def hex_signature(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def service(source: WebhookSource) -> Starlette:
    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            stored = await source.push(body, request.headers, metadata={"path": request.url.path})
            await stored
        except WebhookRefused as refused:
            return JSONResponse({"detail": str(refused)}, status_code=refused.status)
        return Response(status_code=202)

    return Starlette(routes=[Route("/hooks/{feed}", receive, methods=["POST"])])


async def exchange(
    source: WebhookSource, requests: list[dict[str, Any]], *, store: bool = True
) -> tuple[list[int], list[Any]]:
    """Send ``requests`` through the service route while a consumer stores and acks each message."""
    stored: list[Any] = []

    async def consume() -> None:
        fmt = get_format("json", {})
        async for message in source.messages():
            records = list(records_with_metadata(fmt.parse(message.open()), message.metadata))
            if store:
                stored.extend(records)
                await message.ack()
            else:
                await message.nack(RuntimeError("outbox unavailable"))

    consumer = asyncio.create_task(consume())
    transport = httpx.ASGITransport(app=service(source))
    async with httpx.AsyncClient(transport=transport, base_url="http://city") as client:
        statuses = []
        for request in requests:
            try:
                response = await client.post("/hooks/ttn", **request)
                statuses.append(response.status_code)
            except RuntimeError:
                statuses.append(500)  # the nack's error, raised by the route
    await source.close()
    await consumer
    return statuses, stored


def test_good_api_key_is_answered_202_after_the_records_are_stored() -> None:
    source = WebhookSource("ttn", api_key="k3y")
    statuses, stored = run(
        exchange(source, [{"content": UPLINK, "headers": {"X-Api-Key": "k3y", "X-Gateway": "gw-1"}}])
    )
    assert statuses == [202]
    (record,) = stored
    assert record["end_device_ids"]["device_id"] == "dev1"
    assert record["_source"]["path"] == "/hooks/ttn"
    assert record["_source"]["headers"]["x-gateway"] == "gw-1"
    assert "x-api-key" not in record["_source"]["headers"]  # credentials never reach the records


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"}, {"X-Api-Key": ""}, {"Authorization": "k3y"}])
def test_missing_or_wrong_api_key_is_refused_401_and_nothing_is_queued(headers: dict[str, str]) -> None:
    source = WebhookSource("ttn", api_key="k3y")
    statuses, stored = run(exchange(source, [{"content": UPLINK, "headers": headers}]))
    assert statuses == [401]
    assert stored == []
    assert source.refused == 1


def test_bearer_scheme_in_the_authorization_header() -> None:
    source = WebhookSource("ttn", api_key="k3y", header="Authorization", scheme="Bearer")
    good = {"content": UPLINK, "headers": {"Authorization": "Bearer k3y"}}
    bad = {"content": UPLINK, "headers": {"Authorization": "Basic k3y"}}
    statuses, stored = run(exchange(source, [good, bad]))
    assert statuses == [202, 401]
    assert len(stored) == 1


def test_hex_hmac_signature_of_the_body() -> None:
    source = WebhookSource("lns", secret="s3cret", prefix="sha256=", signature_header="X-Hub-Signature-256")
    signature = "sha256=" + hex_signature(b"s3cret", UPLINK)
    tampered = UPLINK.replace(b"dev1", b"my-devicf")
    requests = [
        {"content": UPLINK, "headers": {"X-Hub-Signature-256": signature}},
        {"content": tampered, "headers": {"X-Hub-Signature-256": signature}},  # body changed on the way
        {"content": UPLINK, "headers": {}},  # unsigned
        {
            "content": UPLINK,
            "headers": {"X-Hub-Signature-256": hex_signature(b"s3cret", UPLINK)},
        },  # no prefix
        {"content": UPLINK, "headers": {"X-Hub-Signature-256": "sha256=zz-not-hex"}},
    ]
    statuses, stored = run(exchange(source, requests))
    assert statuses == [202, 401, 401, 401, 401]
    assert len(stored) == 1
    assert source.sign(UPLINK) == signature


def test_base64_hmac_signature_and_api_key_together() -> None:
    source = WebhookSource("lns", api_key="k3y", secret="s3cret", encoding="base64")
    signature = base64.b64encode(hmac.digest(b"s3cret", UPLINK, "sha256")).decode()
    good = {"X-Api-Key": "k3y", "X-Signature-256": signature}
    statuses, stored = run(
        exchange(
            source,
            [
                {"content": UPLINK, "headers": good},
                {"content": UPLINK, "headers": {**good, "X-Api-Key": "no"}},
                {"content": UPLINK, "headers": {**good, "X-Signature-256": signature.lower()}},
            ],
        )
    )
    assert statuses == [202, 401, 401]
    assert len(stored) == 1


def test_verify_raises_typed_errors_without_queueing() -> None:
    source = WebhookSource("ttn", api_key="k3y", max_body=100)
    with pytest.raises(WebhookAuthError, match="missing X-Api-Key"):
        source.verify(b"{}", {})
    with pytest.raises(PayloadTooLarge) as caught:
        source.verify(b"x" * 101, {"X-Api-Key": "k3y"})
    assert caught.value.status == 413
    source.verify(b"{}", {"x-api-key": "k3y"})  # header names are case-insensitive
    assert source.queued == 0


def test_a_body_over_the_limit_is_refused_413() -> None:
    source = WebhookSource("ttn", api_key="k3y", max_body=len(UPLINK) - 1)
    statuses, stored = run(exchange(source, [{"content": UPLINK, "headers": {"X-Api-Key": "k3y"}}]))
    assert statuses == [413]
    assert stored == []


def test_credentials_are_judged_before_the_size() -> None:
    keyed = WebhookSource("ttn", api_key="k3y", max_body=100)
    signed = WebhookSource("lns", secret="s3cret", max_body=100)
    big = b"x" * 101
    for source, wrong in ((keyed, {"X-Api-Key": "no"}), (signed, {"X-Signature-256": "00" * 32})):
        for sent in ({}, wrong):
            with pytest.raises(WebhookAuthError):
                source.verify(big, sent)  # a stranger hears 401, not that the body is too large
    with pytest.raises(PayloadTooLarge):
        signed.verify(big, {"X-Signature-256": hex_signature(b"s3cret", big)})


async def chunks_of(size: int, read: list[int], chunk: int = 10) -> AsyncIterator[bytes]:
    """``size`` bytes in chunks, counting in ``read`` what was taken."""
    while sum(read) < size:
        piece = b"x" * min(chunk, size - sum(read))
        read.append(len(piece))
        yield piece


def test_receive_reads_nothing_for_a_wrong_key_and_a_signed_body_up_to_a_bound() -> None:
    keyed = WebhookSource("ttn", api_key="k3y", max_body=100)
    signed = WebhookSource("lns", secret="s3cret", max_body=100)
    bound = 100 * SIGNED_READ

    async def scenario() -> None:
        read: list[int] = []
        with pytest.raises(WebhookAuthError):
            await keyed.receive(chunks_of(10_000, read), {"X-Api-Key": "no"})
        assert read == []
        with pytest.raises(PayloadTooLarge):  # the key holds: the size is told
            await keyed.receive(chunks_of(10_000, read), {"X-Api-Key": "k3y"})
        assert sum(read) <= 110
        read.clear()
        with pytest.raises(WebhookAuthError, match="does not match"):
            await signed.receive(chunks_of(bound, read), {"X-Signature-256": "00" * 32})
        assert sum(read) == bound
        read.clear()
        with pytest.raises(WebhookAuthError, match="not verified"):  # over the bound: never verified
            await signed.receive(chunks_of(10_000, read), {"X-Signature-256": "00" * 32})
        assert sum(read) <= bound + 10
        read.clear()
        with pytest.raises(WebhookAuthError, match="not verified"):  # declared too large: nothing read
            await signed.receive(chunks_of(10_000, read), {"X-Signature-256": "00" * 32}, length=10_000)
        assert read == []
        body = b"x" * 250
        with pytest.raises(PayloadTooLarge):  # verified: the sender hears 413
            await signed.receive(chunks_of(250, []), {"X-Signature-256": hex_signature(b"s3cret", body)})
        small = b"x" * 100
        got = await signed.receive(chunks_of(100, []), {"X-Signature-256": hex_signature(b"s3cret", small)})
        assert got == small

    run(scenario())
    assert (keyed.refused, signed.refused) == (2, 4)


def test_a_message_that_could_not_be_stored_fails_the_request() -> None:
    source = WebhookSource("ttn", api_key="k3y")
    statuses, stored = run(
        exchange(source, [{"content": UPLINK, "headers": {"X-Api-Key": "k3y"}}], store=False)
    )
    assert statuses == [500]  # the sender keeps the data and retries
    assert stored == []


def test_a_full_queue_answers_busy_after_the_enqueue_timeout() -> None:
    async def scenario() -> None:
        source = WebhookSource("ttn", api_key="k3y", queue_size=2, enqueue_timeout=0.05)
        headers = {"X-Api-Key": "k3y"}
        waiting = [await source.push(b'{"n": %d}' % n, headers) for n in range(2)]  # nobody consumes
        with pytest.raises(WebhookBusy) as caught:
            await source.push(b'{"n": 2}', headers)
        assert caught.value.status == 503
        assert source.queued == 2
        messages = source.messages()
        first = await anext(messages)
        assert first.read() == b'{"n": 0}'
        assert not waiting[0].done()
        await first.ack()
        assert waiting[0].done() and not waiting[1].done()
        await source.close()
        with pytest.raises(WebhookBusy):
            await source.push(b"{}", headers)  # stopping: refused
        assert [m.read() async for m in messages] == [b'{"n": 1}']  # what was queued is still drained

    run(scenario())


def test_webhook_configuration() -> None:
    source = build_source({"webhook": {"name": "ttn", "api_key": "k3y", "max_body": 10}}, base_dir=Path("."))
    assert isinstance(source, WebhookSource) and source.max_body == 10
    with pytest.raises(ConfigError) as caught:
        build_source({"webhook": {"encoding": "base32"}}, base_dir=Path("."))
    assert caught.value.key == "webhook.api_key"
    assert "webhook.encoding" in str(caught.value)
    assert isinstance(build_source({"webhook": {"insecure": True}}, base_dir=Path(".")), WebhookSource)


def test_close_does_not_wait_for_room_in_a_full_queue() -> None:
    async def scenario() -> None:
        source = WebhookSource("ttn", api_key="k3y", queue_size=1)
        await source.push(b"{}", {"X-Api-Key": "k3y"})
        await asyncio.wait_for(source.close(), 1)
        assert [m.read() async for m in source.messages()] == [b"{}"]  # drained, then the stream ends

    run(scenario())
