"""The HTTP poll source against a real loopback server (uvicorn + starlette in a thread).

The server answers with pages of the real Santander open-data response: ETag and Last-Modified,
304 on a matching validator, RFC 8288 Link pagination, a JSON next link (SensorThings style),
offset/limit and page parameters, authentication, and a 500 before recovering.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from broker_double import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from test_sources_base import take_all

from contextbridge import ConfigError, DeliveryError, RemoteRefused, RetryPolicy, build_source, get_format
from contextbridge.sources import HttpPollSource, Message, Pagination, records_with_metadata

SANTANDER = Path(__file__).resolve().parent / "data" / "santander"
RECORDS: list[dict[str, Any]] = json.loads(
    (SANTANDER / "sensores_smart_env_monitoring_2016-04-11_excerpt.json").read_bytes()
)["resources"]
PAGE = 30  # 80 records: pages of 30, 30, 20
FAST = RetryPolicy(initial=0.01, maximum=0.05, jitter=0.01, attempts=4)
T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, 20)

    return asyncio.run(bounded())


class City:
    """The open-data server: its state (version, failures to inject) and every request it saw."""

    def __init__(self) -> None:
        self.version = 1
        self.fail = 0  # answer 500 this many times
        self.seen: list[Request] = []
        routes = [
            Route("/sensors", self.sensors),
            Route("/offset", self.offset),
            Route("/pages", self.pages),
            Route("/things", self.things),
            Route("/private", self.private),
        ]
        self.app = Starlette(routes=routes)

    def records(self) -> list[dict[str, Any]]:
        return RECORDS if self.version == 1 else RECORDS[:-1]  # version 2: one sensor less

    def _failing(self) -> Response | None:
        if self.fail:
            self.fail -= 1
            return JSONResponse({"error": "backend down"}, status_code=500)
        return None

    async def sensors(self, request: Request) -> Response:
        """Link pagination (``?page=N``); validators on the whole collection."""
        self.seen.append(request)
        failing = self._failing()
        if failing:
            return failing
        etag = f'"v{self.version}"'
        modified = "Mon, 11 Apr 2016 13:24:19 GMT"
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        page = int(request.query_params.get("page", "1"))
        records = self.records()
        pages = -(-len(records) // PAGE)
        body = {
            "summary": {"items": len(records), "items_per_page": PAGE, "pages": pages, "current_page": page},
            "resources": records[(page - 1) * PAGE : page * PAGE],
        }
        headers = {"ETag": etag, "Last-Modified": modified}
        if page < pages:
            headers["Link"] = f'</sensors?page={page + 1}>; rel="next", </sensors?page={pages}>; rel="last"'
        return JSONResponse(body, headers=headers)

    async def offset(self, request: Request) -> Response:
        self.seen.append(request)
        start, limit = int(request.query_params["offset"]), int(request.query_params["limit"])
        return JSONResponse({"resources": self.records()[start : start + limit]})

    async def pages(self, request: Request) -> Response:
        """Santander's own style: ``?items=N&page=P`` (pages numbered from 1)."""
        self.seen.append(request)
        page, items = int(request.query_params["page"]), int(request.query_params["items"])
        return JSONResponse(
            {
                "summary": {"current_page": page},
                "resources": self.records()[(page - 1) * items : page * items],
            }
        )

    async def things(self, request: Request) -> Response:
        """OGC SensorThings: the next page's absolute URL in ``@iot.nextLink``."""
        self.seen.append(request)
        skip = int(request.query_params.get("$skip", "0"))
        body: dict[str, Any] = {"value": self.records()[skip : skip + 50]}
        if skip + 50 < len(self.records()):
            body["@iot.nextLink"] = str(request.url_for("things")) + f"?$skip={skip + 50}"
        return JSONResponse(body)

    async def private(self, request: Request) -> Response:
        self.seen.append(request)
        allowed = {"Bearer t0ken", "Basic " + base64.b64encode(b"santander:pw").decode()}
        if request.headers.get("authorization") in allowed or request.headers.get("apikey") == "k3y":
            return JSONResponse({"resources": RECORDS[:2]})
        return JSONResponse({"error": "unauthorized"}, status_code=401)


@pytest.fixture(scope="module")
def city() -> Iterator[tuple[City, str]]:
    server = City()
    with serve(server.app) as url:
        yield server, url


@pytest.fixture
def fresh(city: tuple[City, str]) -> tuple[City, str]:
    server, url = city
    server.version, server.fail = 1, 0
    server.seen.clear()
    return server, url


def identifiers(messages: list[Message]) -> list[str]:
    fmt = get_format("json", {"records": "resources[*]"})
    out = []
    for message in messages:
        for record in records_with_metadata(fmt.parse(message.open()), message.metadata):
            assert isinstance(record, dict)
            assert record["_source"]["url"] == message.metadata["url"]
            out.append(record["dc:identifier"])
    return out


def test_one_shot_poll_follows_link_pagination_to_the_last_page(fresh: tuple[City, str]) -> None:
    server, url = fresh
    messages = run(take_all(HttpPollSource(f"{url}/sensors", once=True)))
    assert [m.metadata["page"] for m in messages] == [1, 2, 3]
    assert identifiers(messages) == [r["dc:identifier"] for r in RECORDS]
    assert messages[0].metadata["status"] == 200
    assert messages[0].metadata["headers"]["etag"] == '"v1"'
    assert [r.query_params.get("page") for r in server.seen] == [None, "2", "3"]


def test_unchanged_collection_answers_304_and_yields_nothing(fresh: tuple[City, str]) -> None:
    server, url = fresh
    source = HttpPollSource(f"{url}/sensors", once=True)
    assert len(run(take_all(source))) == 3
    assert source.validators == ('"v1"', "Mon, 11 Apr 2016 13:24:19 GMT")
    assert run(take_all(source)) == []  # the same source polls again: If-None-Match → 304
    assert source.not_modified == 1
    assert server.seen[-1].headers["if-none-match"] == '"v1"'
    assert server.seen[-1].headers["if-modified-since"] == "Mon, 11 Apr 2016 13:24:19 GMT"
    server.version = 2  # the data changed: a new ETag, every page again
    messages = run(take_all(source))
    assert len(identifiers(messages)) == len(RECORDS) - 1


def test_validators_are_kept_only_once_every_page_is_acked(fresh: tuple[City, str]) -> None:
    _, url = fresh
    source = HttpPollSource(f"{url}/sensors", once=True)
    run(take_all(source, ack=False))  # records never stored: nothing may be skipped next time
    assert source.validators == (None, None)
    assert len(run(take_all(source))) == 3


def test_a_500_is_retried_with_backoff_then_the_poll_recovers(fresh: tuple[City, str]) -> None:
    server, url = fresh
    server.fail = 2
    messages = run(take_all(HttpPollSource(f"{url}/sensors", once=True, backoff=FAST)))
    assert len(identifiers(messages)) == len(RECORDS)
    assert len(server.seen) == 2 + 3  # two 500s, then the three pages


def test_a_one_shot_poll_gives_up_with_delivery_error_when_retries_run_out(fresh: tuple[City, str]) -> None:
    server, url = fresh
    server.fail = 10
    with pytest.raises(DeliveryError) as caught:
        run(take_all(HttpPollSource(f"{url}/sensors", once=True, backoff=FAST)))
    assert caught.value.status == 500
    assert f"{url}/sensors" in str(caught.value)
    assert len(server.seen) == FAST.attempts


def test_a_polling_source_survives_a_failed_poll_and_polls_again(fresh: tuple[City, str]) -> None:
    server, url = fresh
    server.fail = FAST.attempts  # the whole first poll fails
    source = HttpPollSource(f"{url}/sensors", interval=0.05, backoff=FAST)

    async def scenario() -> list[Message]:
        messages: list[Message] = []
        async for message in source.messages():
            messages.append(message)
            await message.ack()
            if len(messages) == 3:
                await source.close()
        return messages

    assert len(run(scenario())) == 3
    assert source.failures == 1


def test_offset_limit_pagination_stops_at_a_short_page(fresh: tuple[City, str]) -> None:
    server, url = fresh
    pagination = Pagination(style="offset", size=25, records="resources")
    messages = run(take_all(HttpPollSource(f"{url}/offset", once=True, pagination=pagination)))
    assert len(identifiers(messages)) == 80
    assert [r.query_params["offset"] for r in server.seen] == ["0", "25", "50", "75"]


def test_page_parameters_in_the_santander_style_until_an_empty_page(fresh: tuple[City, str]) -> None:
    server, url = fresh
    pagination = Pagination(style="page", size_param="items", size=40, records="resources")
    messages = run(take_all(HttpPollSource(f"{url}/pages", once=True, pagination=pagination)))
    assert len(identifiers(messages)) == 80
    assert [r.query_params["page"] for r in server.seen] == ["1", "2", "3"]  # page 3 is empty


def test_json_next_link_pagination(fresh: tuple[City, str]) -> None:
    _, url = fresh
    pagination = Pagination(style="json", next='["@iot.nextLink"]')
    messages = run(take_all(HttpPollSource(f"{url}/things", once=True, pagination=pagination)))
    fmt = get_format("json", {"records": "value[*]"})
    assert sum(1 for m in messages for _ in fmt.parse(m.open())) == 80
    assert len(messages) == 2


@pytest.mark.parametrize(
    "auth",
    [{"type": "bearer", "token": "t0ken"}, {"type": "api_key", "key": "k3y", "header": "apikey"},
     {"type": "basic", "username": "santander", "password": "pw"}],
)  # fmt: skip
def test_authentication_from_the_configuration(fresh: tuple[City, str], auth: dict[str, str]) -> None:
    _, url = fresh
    source = build_source({"http": {"url": f"{url}/private", "once": True, "auth": auth}}, base_dir=Path("."))
    assert isinstance(source, HttpPollSource)
    assert len(run(take_all(source))) == 1


def test_a_refusal_is_not_retried(fresh: tuple[City, str]) -> None:
    server, url = fresh
    with pytest.raises(RemoteRefused) as caught:
        run(take_all(HttpPollSource(f"{url}/private", once=True, backoff=FAST)))
    assert caught.value.status == 401
    assert len(server.seen) == 1


def test_connection_refused_is_a_delivery_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(DeliveryError, match="ConnectError"):
        run(take_all(HttpPollSource(f"http://127.0.0.1:{port}/x", once=True, backoff=FAST)))


def test_a_timeout_is_retried_then_reported() -> None:
    async def slow(request: Request) -> Response:
        await asyncio.sleep(1)
        return JSONResponse({})

    with serve(Starlette(routes=[Route("/slow", slow)])) as url:
        source = HttpPollSource(
            f"{url}/slow", once=True, timeout=0.1, backoff=RetryPolicy(0.01, 0.01, 0, attempts=2)
        )
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="Timeout"):
            run(take_all(source))
        assert time.monotonic() - started < 1.0


def test_bad_http_settings_are_all_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        build_source(
            {
                "http": {
                    "url": "ftp://x",
                    "interval": 0,
                    "pagination": {"style": "cursor"},
                    "auth": {"type": "bearer"},
                }
            },
            base_dir=Path("."),
        )
    message = str(caught.value)
    assert caught.value.key == "http.url"
    for key in ("http.url", "http.interval", "http.pagination.style", "http.auth.token"):
        assert key in message


def test_retry_after_is_honoured() -> None:
    answers = [
        JSONResponse({}, status_code=429, headers={"Retry-After": "1"}),
        JSONResponse({"resources": []}),
    ]

    async def busy(request: Request) -> Response:
        return answers.pop(0)

    with serve(Starlette(routes=[Route("/busy", busy)])) as url:
        source = HttpPollSource(f"{url}/busy", once=True, backoff=RetryPolicy(0.01, 5.0, 0, attempts=3))
        started = time.monotonic()
        assert len(run(take_all(source))) == 1
        assert 1.0 <= time.monotonic() - started < 2.0  # the server's 1 s, not the 0.01 s backoff
