"""The dead-letter queue over HTTP: each tenant's letters only, filters and facets, replay to the
broker (the double) and purge; and the answers of a service that has no outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from broker_double import ERRORS, BrokerDouble
from test_service import EVERYWHERE, PORTO, SANTANDER, SANTANDER_READ, assert_problem, headers, run
from test_service_status import PARKING_ENTITIES, PARKING_REJECTED, Console, configured, parking_feeds

REFUSED = "urn:ngsi-ld:ParkingSpot:santander:3102"  # refused by the broker, in both tenants
BAD_REQUEST = ERRORS + "BadRequestData"


async def letters(console: Console, key: str, tenant: str, query: str = "") -> dict[str, Any]:
    response = await console.client.get(f"/dead-letters?{query}", headers=headers(key, tenant))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def post(console: Console, path: str, key: str, tenant: str, body: Any) -> httpx.Response:
    return await console.client.post(path, json=body, headers=headers(key, tenant))


async def refused_everywhere(console: Console) -> None:
    """Wait until each tenant's refused entity and rejected records are dead letters."""

    async def done() -> bool:
        counts = [(await letters(console, EVERYWHERE, tenant))["count"] for tenant in ("santander", "porto")]
        return counts == [1 + PARKING_REJECTED] * 2

    await console.until(done)


def scenario(tmp_path: Path, body: Any) -> None:
    double = BrokerDouble(multiservice=True, refuse_ids={REFUSED})

    async def main() -> None:
        async with configured(tmp_path, parking_feeds(tmp_path), double=double) as console:
            await refused_everywhere(console)
            await body(console)

    asyncio.run(main())


def test_a_tenant_lists_its_letters_with_facets_and_filters(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        mine = await letters(console, SANTANDER_READ, "santander")
        assert (mine["count"], mine["limit"], mine["offset"]) == (3, 100, 0)
        assert {letter["feed"] for letter in mine["dead_letters"]} == {"parking"}
        assert mine["facets"] == {
            "sink": {"broker": 1, "translate": PARKING_REJECTED},
            "feed": {"parking": 3},
            "type": {BAD_REQUEST: 1, "transform": PARKING_REJECTED},
        }
        (refused,) = [letter for letter in mine["dead_letters"] if letter["sink"] == "broker"]
        assert (refused["entity_id"], refused["tenant"]) == (REFUSED, "santander")
        assert refused["reason"]["type"] == BAD_REQUEST and refused["data"]["id"] == REFUSED
        assert refused["attempts"] >= 1 and refused["created"] > 0

        only = await letters(console, SANTANDER_READ, "santander", "sink=broker")
        assert (only["count"], [d["id"] for d in only["dead_letters"]]) == (1, [refused["id"]])
        assert only["facets"] == mine["facets"]  # what the filters offer, whatever is chosen
        transform = await letters(console, SANTANDER_READ, "santander", "type=transform&limit=1")
        assert transform["count"] == PARKING_REJECTED and len(transform["dead_letters"]) == 1
        rest = await letters(console, SANTANDER_READ, "santander", "type=transform&limit=1&offset=1")
        assert rest["dead_letters"][0]["id"] != transform["dead_letters"][0]["id"]
        assert all("record" in d["reason"] for d in transform["dead_letters"] + rest["dead_letters"])
        other = await letters(console, SANTANDER_READ, "santander", "feed=porto-parking")
        assert (other["count"], other["dead_letters"]) == (0, [])

        porto = await letters(console, PORTO, "porto")
        assert {letter["feed"] for letter in porto["dead_letters"]} == {"porto-parking"}
        assert not {d["id"] for d in porto["dead_letters"]} & {d["id"] for d in mine["dead_letters"]}
        assert (await letters(console, EVERYWHERE, "porto"))["dead_letters"] == porto["dead_letters"]
        assert (await letters(console, PORTO, "default"))["count"] == 0

        one = await console.client.get(
            f"/dead-letters/{refused['id']}", headers=headers(SANTANDER, "santander")
        )
        assert one.status_code == 200 and one.json() == refused
        theirs = porto["dead_letters"][0]["id"]  # another tenant's letter is not found by its id
        assert_problem(
            await console.client.get(f"/dead-letters/{theirs}", headers=headers(SANTANDER, "santander")),
            404,
            "not-found",
        )
        assert_problem(
            await console.client.get("/dead-letters/x1", headers=headers(SANTANDER, "santander")),
            404,
            "not-found",
        )

    scenario(tmp_path, body)


def test_keys_and_queries_are_checked(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        client = console.client
        assert_problem(await client.get("/dead-letters"), 401, "unauthorized")
        assert_problem(
            await client.get("/dead-letters", headers=headers(SANTANDER, "porto")), 403, "forbidden"
        )
        for query in ("limit=5000", "limit=-1", "offset=x", "sink=", "type=" + "t" * 300):
            response = await client.get(f"/dead-letters?{query}", headers=headers(SANTANDER, "santander"))
            assert_problem(response, 400, "bad-request")
        for path in ("/dead-letters/replay", "/dead-letters/purge"):
            assert_problem(await post(console, path, SANTANDER_READ, "santander", {}), 403, "forbidden")
            assert_problem(await post(console, path, SANTANDER, "porto", {}), 403, "forbidden")
            for bad in ([1], {"ids": "1"}, {"ids": [0]}, {"ids": [True]}, {"id": [1]}, {"force": "yes"}):
                assert_problem(await post(console, path, SANTANDER, "santander", bad), 400, "bad-request")
        assert (await letters(console, EVERYWHERE, "santander"))["count"] == 3  # nothing changed

    scenario(tmp_path, body)


def test_a_replayed_letter_is_delivered_and_another_tenants_are_out_of_reach(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        double = console.double
        assert double is not None and REFUSED not in double.entities("santander")
        porto = await letters(console, PORTO, "porto", "sink=broker")
        theirs = porto["dead_letters"][0]["id"]
        for path in ("/dead-letters/replay", "/dead-letters/purge"):  # by id, or by filter: only mine
            response = await post(console, path, SANTANDER, "santander", {"ids": [theirs]})
            assert response.status_code == 200 and response.json() in (
                {"replayed": 0, "stale": 0, "skipped": 0},
                {"purged": 0},
            )
            response = await post(console, path, SANTANDER, "santander", {"feed": "porto-parking"})
            assert response.status_code == 200 and 0 in response.json().values()
        assert (await letters(console, PORTO, "porto"))["count"] == 3

        double.refuse_ids.clear()  # the cause is fixed
        mine = await letters(console, SANTANDER, "santander", "sink=broker")
        replay = await post(
            console, "/dead-letters/replay", SANTANDER, "santander", {"ids": [mine["dead_letters"][0]["id"]]}
        )
        assert replay.status_code == 200 and replay.json() == {"replayed": 1, "stale": 0, "skipped": 0}

        async def delivered() -> bool:
            return REFUSED in double.entities("santander")

        await console.until(delivered)
        assert len(double.entities("santander")) == PARKING_ENTITIES
        assert REFUSED not in double.entities("porto")  # porto's letter is still waiting
        left = await letters(console, SANTANDER, "santander")
        assert (left["count"], left["facets"]["sink"]) == (PARKING_REJECTED, {"translate": PARKING_REJECTED})
        skipped = await post(console, "/dead-letters/replay", SANTANDER, "santander", {"sink": "translate"})
        assert skipped.json() == {"replayed": 0, "stale": 0, "skipped": PARKING_REJECTED}
        assert (await letters(console, PORTO, "porto", "sink=broker"))["count"] == 1

    scenario(tmp_path, body)


def test_purge_deletes_the_selected_letters_of_the_tenant(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        purged = await post(console, "/dead-letters/purge", SANTANDER, "santander", {"type": "transform"})
        assert purged.status_code == 200 and purged.json() == {"purged": PARKING_REJECTED}
        left = await letters(console, SANTANDER, "santander")
        assert [d["sink"] for d in left["dead_letters"]] == ["broker"]
        everything = await console.client.post("/dead-letters/purge", headers=headers(SANTANDER, "santander"))
        assert everything.json() == {"purged": 1}  # no body: every letter of the tenant
        assert (await letters(console, SANTANDER, "santander"))["count"] == 0
        assert (await letters(console, PORTO, "porto"))["count"] == 3

    scenario(tmp_path, body)


def test_without_an_outbox_there_are_no_dead_letters() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        sent = headers(SANTANDER, "santander")
        listed = (await client.get("/dead-letters?feed=parking", headers=sent)).json()
        assert listed == {
            "dead_letters": [],
            "count": 0,
            "limit": 100,
            "offset": 0,
            "facets": {"sink": {}, "feed": {}, "type": {}},
        }
        assert_problem(await client.get("/dead-letters/1", headers=sent), 404, "not-found")
        replay = await client.post("/dead-letters/replay", json={"ids": [1]}, headers=sent)
        assert replay.json() == {"replayed": 0, "stale": 0, "skipped": 0}
        purge = await client.post("/dead-letters/purge", json={}, headers=sent)
        assert purge.json() == {"purged": 0}
        bad = await client.post("/dead-letters/purge", json={"ids": "all"}, headers=sent)
        assert_problem(bad, 400, "bad-request")

    run(body)
