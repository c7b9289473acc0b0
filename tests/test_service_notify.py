"""``POST /ngsi-ld/notify``: Orion-LD notifications, as Orion-LD sends them, into the city graph."""

from __future__ import annotations

import asyncio

import httpx
from test_service import (
    KEYS,
    LINK,
    PORTO,
    SANTANDER,
    TEMPERATURE,
    TEMPERATURES,
    assert_problem,
    headers,
    notification,
    notify,
    run,
    weather,
)

from contextbridge.runtime.config import ServiceConfig
from contextbridge.service import Service, create_app
from contextbridge.sinks.graph import EndpointStore

NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
REMOTE = "https://contexts.example.org/weather.jsonld"


async def temperatures(
    client: httpx.AsyncClient, tenant: str = "santander", key: str = SANTANDER
) -> dict[str, float]:
    response = await client.get("/sparql", params={"query": TEMPERATURES}, headers=headers(key, tenant))
    assert response.status_code == 200, response.text
    return {
        b["s"]["value"].rsplit(":", 1)[-1]: float(b["t"]["value"])
        for b in response.json()["results"]["bindings"]
    }


async def rows(client: httpx.AsyncClient, query: str) -> list[dict[str, str]]:
    response = await client.get("/sparql", params={"query": query}, headers=headers(SANTANDER, "santander"))
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]


def test_normalized_entities_land_in_the_senders_tenant() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        response = await notify(client, weather(1, 3.5), weather(2, 12.0))
        assert response.status_code == 204 and response.content == b""
        assert await temperatures(client) == {"1": 3.5, "2": 12.0}
        # A later notification replaces the entity's state: one temperature, the latest.
        assert (await notify(client, weather(1, 4.0))).status_code == 204
        assert await temperatures(client) == {"1": 4.0, "2": 12.0}
        assert await temperatures(client, "porto", PORTO) == {}

    run(body)


def test_keyvalues_entities_are_normalized_with_the_ontology() -> None:
    entity = {
        "id": "urn:ngsi-ld:WeatherObserved:santander:7",
        "type": "WeatherObserved",
        "temperature": 17.5,
        "refDevice": "urn:ngsi-ld:Device:santander:7",  # a Relationship in the ontology
        "name": "urn:ngsi-ld:not-a-relationship",  # a URI, but a Property in the ontology
        "location": {"type": "Point", "coordinates": [-3.81, 43.46]},
        "dateObserved": "2024-05-01T10:00:00Z",
        "createdAt": "2024-05-01T10:00:00Z",
    }

    async def body(client: httpx.AsyncClient) -> None:
        assert (await notify(client, entity)).status_code == 204
        assert await temperatures(client) == {"7": 17.5}
        found = await rows(
            client,
            "SELECT ?name ?kind ?value WHERE { <urn:ngsi-ld:WeatherObserved:santander:7> ?name ?a . "
            f"?a a ?kind . OPTIONAL {{ ?a <{NGSI_LD}hasObject> ?value }} }}",
        )
        kinds = {row["name"].rsplit("/", 1)[-1]: row["kind"].rsplit("/", 1)[-1] for row in found}
        assert kinds["refDevice"] == "Relationship" and kinds["location"] == "GeoProperty"
        assert kinds["name"] == "Property" and kinds["temperature"] == "Property"
        assert kinds["dateObserved"] == "Property" and "createdAt" not in kinds
        objects = [row["value"] for row in found if "value" in row]
        assert objects == ["urn:ngsi-ld:Device:santander:7"]

    run(body)


def test_concise_attributes_keep_their_members() -> None:
    entity = {
        "id": "urn:ngsi-ld:WeatherObserved:santander:8",
        "type": "WeatherObserved",
        "temperature": {"value": 9.5, "observedAt": "2024-05-01T10:00:00Z", "unitCode": "CEL"},
        "refDevice": {"object": "urn:ngsi-ld:Device:santander:8"},
    }

    async def body(client: httpx.AsyncClient) -> None:
        assert (await notify(client, entity)).status_code == 204
        found = await rows(
            client,
            f"SELECT ?at ?unit WHERE {{ ?s <{TEMPERATURE}> ?a . ?a <{NGSI_LD}observedAt> ?at ; <{NGSI_LD}unitCode> ?unit }}",
        )
        assert found == [{"at": "2024-05-01T10:00:00Z", "unit": "CEL"}]

    run(body)


def test_invalid_entities_are_refused_one_by_one_and_the_others_land() -> None:
    bad_name = {**weather(3, 1.0), "temp=rature": {"type": "Property", "value": 1}}

    async def body(client: httpx.AsyncClient) -> None:
        response = await notify(
            client,
            weather(1, 3.5),
            {"id": "not a uri", "type": "WeatherObserved"},
            "text",
            bad_name,
            weather(2, 8.0),
        )
        assert response.status_code == 200
        report = response.json()
        assert report["upserted"] == 2 and report["subscriptionId"] == "urn:ngsi-ld:Subscription:1"
        refused = {item["entityId"]: item["error"] for item in report["refused"]}
        assert set(refused) == {"not a uri", None, "urn:ngsi-ld:WeatherObserved:santander:3"}
        assert refused["not a uri"]["type"] == NGSI_LD + "errors/BadRequestData"
        assert "temp=rature" in refused["urn:ngsi-ld:WeatherObserved:santander:3"]["detail"]
        assert await temperatures(client) == {"1": 3.5, "2": 8.0}

    run(body)


def test_application_ld_json_carries_the_context_in_the_entities() -> None:
    own = "http://testserver/context.jsonld"

    async def body(client: httpx.AsyncClient) -> None:
        sent = headers(SANTANDER, "santander", Content_Type="application/ld+json")
        with_context = {
            **weather(1, 5.0),
            "@context": [own, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"],
        }
        without = weather(2, 6.0)
        response = await client.post(
            "/ngsi-ld/notify", json=notification(with_context, without), headers=sent
        )
        assert response.status_code == 200
        assert [item["entityId"] for item in response.json()["refused"]] == [without["id"]]
        assert await temperatures(client) == {"1": 5.0}
        # The @context at the top of the notification serves every entity.
        document = {**notification(weather(3, 7.0)), "@context": own}
        assert (await client.post("/ngsi-ld/notify", json=document, headers=sent)).status_code == 204
        assert await temperatures(client) == {"1": 5.0, "3": 7.0}
        # A Link header with ld+json, or an @context in an application/json body: refused, as in NGSI-LD.
        response = await client.post("/ngsi-ld/notify", json=document, headers={**sent, "Link": LINK})
        assert_problem(response, 400, "bad-notification")
        plain = headers(SANTANDER, "santander")
        assert_problem(
            await client.post("/ngsi-ld/notify", json=document, headers=plain), 400, "bad-notification"
        )

    run(body)


def test_without_a_context_the_core_context_alone_applies() -> None:
    expanded = {
        "id": "urn:ngsi-ld:WeatherObserved:santander:4",
        "type": "https://smartdatamodels.org/dataModel.Weather/WeatherObserved",
        TEMPERATURE: {"type": "Property", "value": 21.0},
    }
    short = {"id": "urn:ngsi-ld:WeatherObserved:santander:5", "type": "WeatherObserved", "temperature": 22.0}

    async def body(client: httpx.AsyncClient) -> None:
        sent = headers(SANTANDER, "santander")
        response = await client.post("/ngsi-ld/notify", json=notification(expanded, short), headers=sent)
        assert response.status_code == 204, response.text
        # Full IRIs are the city's; a bare short name is the core context's default vocabulary.
        assert await temperatures(client) == {"4": 21.0}
        found = await rows(client, f"SELECT ?s WHERE {{ ?s <{NGSI_LD}default-context/temperature> ?a }}")
        assert found == [{"s": short["id"]}]

    run(body)


class Remote(httpx.AsyncBaseTransport):
    """A web server holding one @context; counts what it is asked."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if str(request.url) != REMOTE:
            return httpx.Response(404)
        context = {
            "temp": TEMPERATURE,
            "Weather": "https://smartdatamodels.org/dataModel.Weather/WeatherObserved",
        }
        return httpx.Response(200, json={"@context": context})


def test_remote_contexts_are_fetched_only_when_allowed() -> None:
    remote = Remote()
    link = f'<{REMOTE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    entity = {
        "id": "urn:ngsi-ld:WeatherObserved:santander:6",
        "type": "Weather",
        "temp": {"type": "Property", "value": 2.5},
    }

    async def allowed(client: httpx.AsyncClient) -> None:
        for _ in range(2):
            response = await client.post(
                "/ngsi-ld/notify",
                json=notification(entity),
                headers=headers(SANTANDER, "santander", Link=link),
            )
            assert response.status_code == 204, response.text
        assert await temperatures(client) == {"6": 2.5}
        assert remote.requests == [REMOTE]  # fetched once

    run(allowed, transport=remote, allowed_contexts=(REMOTE,))

    other = "https://attacker.example/context.jsonld"
    remote.requests.clear()

    async def refused(client: httpx.AsyncClient) -> None:
        for url in (REMOTE, other):
            sent = headers(
                SANTANDER, "santander", Link=f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"'
            )
            response = await client.post("/ngsi-ld/notify", json=notification(entity), headers=sent)
            assert url in assert_problem(response, 400, "context-refused")["detail"]
        assert remote.requests == []
        assert await temperatures(client) == {}

    run(refused, transport=remote)


def test_requests_that_are_not_notifications_are_400_or_415() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        sent = headers(SANTANDER, "santander", Link=LINK)
        for document in ([weather(1, 1.0)], {"type": "Notification"}, {"type": "Entity", "data": []}):
            response = await client.post("/ngsi-ld/notify", json=document, headers=sent)
            assert_problem(response, 400, "bad-notification")
        response = await client.post(
            "/ngsi-ld/notify", content=b"{not json", headers={**sent, "Content-Type": "application/json"}
        )
        assert "invalid JSON" in assert_problem(response, 400, "bad-notification")["detail"]
        response = await client.post(
            "/ngsi-ld/notify", content=b"x", headers={**sent, "Content-Type": "text/plain"}
        )
        assert_problem(response, 415, "unsupported-media-type")
        response = await client.post(
            "/ngsi-ld/notify", json=notification(), headers={**sent, "Link": "<http://x>; rel=next"}
        )
        assert_problem(response, 400, "bad-request")

    run(body)


def test_a_graph_store_that_cannot_be_written_is_503() -> None:
    async def main() -> None:
        store = EndpointStore("http://127.0.0.1:9/query", timeout=2)
        app = create_app(Service(settings=ServiceConfig(api_keys=KEYS), store=store))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await notify(client, weather(1, 1.0))
            assert_problem(response, 503, "graph-unavailable")
        await store.close()

    asyncio.run(main())


def test_the_public_url_of_the_service_names_its_own_context() -> None:
    public = "https://city.example/contextbridge"
    link = (
        f'<{public}/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    )
    remote = Remote()

    async def body(client: httpx.AsyncClient) -> None:
        sent = headers(SANTANDER, "santander", Link=link)
        response = await client.post("/ngsi-ld/notify", json=notification(weather(1, 6.5)), headers=sent)
        assert response.status_code == 204, response.text
        assert await temperatures(client) == {"1": 6.5}
        assert remote.requests == []  # recognized, not fetched

    run(body, transport=remote, public_url=public)
