"""Tenants sealed from one another, and little said to strangers: a webhook feed takes the keys of
its own tenant whatever the headers say, the device registry is per tenant, and a request
without a key cannot tell an existing feed from an unknown one, nor read feed ids off /metrics."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path

from test_service import EVERYWHERE, PORTO, SANTANDER, assert_problem, headers, notification
from test_service_playground import WEATHER, readings
from test_service_status import Console, configured

from contextbridge.runtime.config import ApiKey
from contextbridge.service.auth import Authenticator

HOOK_KEY = "hook-key-0123456789abcdef"
FEEDS = f"""\
  - {{id: santander-hook, tenant: santander, mapping: weather.yaml, source: {{webhook: {{insecure: true}}}}}}
  - {{id: santander-keyed, tenant: santander, mapping: weather.yaml, source: {{webhook: {{api_key: {HOOK_KEY}}}}}}}"""
COUNT = "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?type }"


def served(tmp_path: Path, body: Callable[[Console], Awaitable[None]]) -> None:
    (tmp_path / "weather.yaml").write_text(WEATHER)

    async def main() -> None:
        async with configured(tmp_path, FEEDS) as console:
            await body(console)

    asyncio.run(main())


async def entities(console: Console, key: str, tenant: str) -> int:
    query = "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s <https://smartdatamodels.org/dataModel.Weather/temperature> ?t }"
    response = await console.client.get("/sparql", params={"query": query}, headers=headers(key, tenant))
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def test_a_webhook_feed_takes_only_the_keys_of_its_own_tenant(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        post = console.client.post
        # porto's write key, naming its own tenant, santander's, or none: refused all the same
        for tenant in ("porto", "santander", None):
            response = await post(
                "/feeds/santander-hook", content=readings("9.5"), headers=headers(PORTO, tenant)
            )
            assert_problem(response, 403, "forbidden")
        # santander's key, whatever tenant its request names, writes into the feed's tenant
        for tenant in ("porto", None):
            response = await post(
                "/feeds/santander-hook", content=readings("3.0"), headers=headers(SANTANDER, tenant)
            )
            assert response.status_code == 202, response.text

        async def landed() -> bool:
            return await entities(console, EVERYWHERE, "santander") == 1

        await console.until(landed)
        assert await entities(console, EVERYWHERE, "porto") == 0
        # a feed with its own key takes that key (and no tenant's)
        response = await post(
            "/feeds/santander-keyed", content=readings("1.0"), headers={"X-Api-Key": HOOK_KEY}
        )
        assert response.status_code == 202, response.text

    served(tmp_path, body)


def test_a_stranger_cannot_tell_a_feed_from_no_feed(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        answers = []
        for feed in ("santander-hook", "santander-keyed", "no-such-feed"):
            for sent in ({}, {"X-Api-Key": "wrong-key-0123456789abc"}, {"Authorization": "Bearer nothing"}):
                response = await console.client.post(f"/feeds/{feed}", content=b"{}", headers=sent)
                answers.append(
                    (response.status_code, response.json(), response.headers.get("www-authenticate"))
                )
        assert len(set(map(repr, answers))) == 1, answers
        assert answers[0][0] == 401

        # /metrics, which needs no key, names no feed unless configured to
        await console.client.post(
            "/feeds/santander-hook", content=readings("3.0"), headers=headers(SANTANDER)
        )
        metrics = (await console.client.get("/metrics")).text
        assert "santander-hook" not in metrics and "santander-keyed" not in metrics
        assert 'contextbridge_messages_received_total{feed="*"} 1.0' in metrics

    served(tmp_path, body)


def test_a_dataset_in_the_url_of_a_form_post_is_refused(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        for name in ("default-graph-uri", "named-graph-uri"):
            response = await console.client.post(
                f"/sparql?{name}=urn:contextbridge:tenant:santander",
                data={"query": COUNT},
                headers=headers(PORTO, "porto"),
            )
            assert_problem(response, 400, "bad-request")

    served(tmp_path, body)


def test_notifications_need_the_notify_scope_not_any_write_key(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        writer = "writer-key-0123456789abcdef"
        keys = (*console.service.settings.api_keys, ApiKey("writer", writer, None, write=True))
        console.service.authenticator = Authenticator(keys)
        document = notification()
        sent = headers(writer, "santander")
        assert_problem(
            await console.client.post("/ngsi-ld/notify", json=document, headers=sent), 403, "forbidden"
        )

    served(tmp_path, body)


# --- nothing acknowledged is lost, even when it cannot be parsed ---------------------------------


def test_each_unparsable_webhook_body_is_its_own_dead_letter_with_its_bytes(tmp_path: Path) -> None:
    bodies = [b"{not json", b"{not json", b"\xff\xfe binary", b'[{"sensor": ', *([b"{"] * 14)]  # 18, 14 alike

    async def body(console: Console) -> None:
        for sent in bodies:
            response = await console.client.post(
                "/feeds/santander-hook", content=sent, headers=headers(SANTANDER)
            )
            assert response.status_code == 202, response.text
        response = await console.client.get(
            "/dead-letters",
            params={"feed": "santander-hook", "limit": 100},
            headers=headers(SANTANDER, "santander"),
        )
        letters = response.json()["dead_letters"]
        assert len(letters) == len(bodies), letters
        kept = []
        for letter in letters:
            data = letter["data"]
            raw = data["raw"].encode() if data["encoding"] == "utf-8" else base64.b64decode(data["raw"])
            assert data["size"] == len(raw) and data["truncated"] is False
            kept.append(raw)
        assert sorted(kept) == sorted(bodies)

    served(tmp_path, body)


def test_a_lone_surrogate_escape_is_refused_not_turned_into_another_id(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        for sensor in ("a\\ud800", "a\\ud801", "a\\udc00"):
            sent = f'[{{"sensor": "{sensor}", "t": "1.0", "time": "2026-11-25T10:00:00Z"}}]'
            response = await console.client.post(
                "/feeds/santander-hook", content=sent.encode(), headers=headers(SANTANDER)
            )
            assert response.status_code == 202, response.text
        response = await console.client.get(
            "/dead-letters", params={"feed": "santander-hook"}, headers=headers(SANTANDER, "santander")
        )
        letters = response.json()["dead_letters"]
        assert len(letters) == 3
        assert all(letter["reason"]["type"] == "format" for letter in letters)
        assert all("surrogate" in letter["reason"]["detail"] for letter in letters)
        assert await entities(console, EVERYWHERE, "santander") == 0

    served(tmp_path, body)
