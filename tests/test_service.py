"""The service's HTTP API as clients see it: keys and tenants, the SPARQL protocol, health, @context."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from contextbridge import GraphStore, context_document, default_ontology
from contextbridge.runtime.config import ApiKey, ServiceConfig
from contextbridge.service import Service, create_app
from contextbridge.service.app import lifespan
from contextbridge.sinks.graph import EmbeddedStore, EndpointStore

SANTANDER = "santander-key-0123456789"
SANTANDER_READ = "santander-read-0123456789"
PORTO = "porto-key-0123456789abcd"
EVERYWHERE = "everywhere-read-0123456789"
KEYS = (
    ApiKey("santander", SANTANDER, frozenset({"santander"}), write=True, notify=True),
    ApiKey("santander-reader", SANTANDER_READ, frozenset({"santander"})),
    ApiKey("porto", PORTO, frozenset({"porto", "default"}), write=True, notify=True),
    ApiKey("analyst", EVERYWHERE, None),
)
LINK = '<http://testserver/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
TEMPERATURE = "https://smartdatamodels.org/dataModel.Weather/temperature"
VALUE = "https://uri.etsi.org/ngsi-ld/hasValue"
TEMPERATURES = f"SELECT ?s ?t WHERE {{ ?s <{TEMPERATURE}> ?a . ?a <{VALUE}> ?t }} ORDER BY ?s"


def weather(number: int, temperature: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:WeatherObserved:santander:{number}",
        "type": "WeatherObserved",
        "temperature": {"type": "Property", "value": temperature, "observedAt": "2024-05-01T10:00:00Z"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.81, 43.46]}},
    }


def notification(*entities: Any) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:Notification:1",
        "type": "Notification",
        "subscriptionId": "urn:ngsi-ld:Subscription:1",
        "notifiedAt": "2024-05-01T10:00:01.000Z",
        "data": list(entities),
    }


def headers(key: str | None = None, tenant: str | None = None, **more: str) -> dict[str, str]:
    found = {"X-API-Key": key} if key else {}
    if tenant:
        found["NGSILD-Tenant"] = tenant
    return {**found, **{name.replace("_", "-"): value for name, value in more.items()}}


@contextlib.asynccontextmanager
async def serving(
    store: GraphStore, *, transport: httpx.AsyncBaseTransport | None = None, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app over ``store`` (``transport``: where allowed @contexts are fetched from)."""
    service = Service(
        settings=ServiceConfig(api_keys=KEYS, **settings), store=store, context_transport=transport
    )
    app = create_app(service)
    async with lifespan(app):
        asgi = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=asgi, base_url="http://testserver") as client:
            yield client


Body = Callable[[httpx.AsyncClient], Awaitable[Any]]


def run(body: Body, store: Callable[[], GraphStore] = lambda: EmbeddedStore(None), **settings: Any) -> Any:
    async def main() -> Any:
        graph = store()
        try:
            await graph.clear()
            async with serving(graph, **settings) as client:
                return await body(client)
        finally:
            await graph.close()

    return asyncio.run(main())


async def notify(
    client: httpx.AsyncClient, *entities: Any, key: str = SANTANDER, tenant: str = "santander"
) -> httpx.Response:
    return await client.post(
        "/ngsi-ld/notify", json=notification(*entities), headers=headers(key, tenant, Link=LINK)
    )


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["type"].endswith("/" + kind)
    assert problem["title"] and problem["detail"]
    return problem


# --- health and @context: no key needed ---------------------------------------------------------


def test_health_and_ready_need_no_key() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        assert (await client.get("/health")).json() == {"status": "ok"}
        ready = await client.get("/ready")
        assert ready.status_code == 200 and ready.json()["checks"]["graph"] == {"status": "ok"}

    run(body)


def test_ready_is_503_when_the_graph_store_does_not_answer() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["graph"]["status"] == "error"
        assert (await client.get("/health")).status_code == 200

    async def main() -> None:
        # An endpoint nobody listens on: the lifespan cannot load the ontology, so start without it.
        store = EndpointStore("http://127.0.0.1:9/query", timeout=2)
        service = Service(settings=ServiceConfig(api_keys=KEYS), store=store)
        app = create_app(service)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            await body(client)
        await store.close()

    asyncio.run(main())


def test_the_context_is_the_ontologys_and_public() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        response = await client.get("/context.jsonld")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/ld+json"
        assert response.json() == context_document(default_ontology())

    run(body)


def test_each_type_has_its_flat_context_for_orion_ld() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        weather = (await client.get("/context.jsonld", params={"type": "WeatherObserved"})).json()
        air = (await client.get("/context.jsonld", params={"type": "AirQualityObserved"})).json()
        assert weather == context_document(default_ontology(), entity_type="WeatherObserved")
        assert weather["@context"][0]["temperature"] != air["@context"][0]["temperature"]
        assert_problem(await client.get("/context.jsonld", params={"type": "Unicorn"}), 404, "not-found")

    run(body)


def test_unknown_paths_and_methods_are_problems_too() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/nothing"), 404, "not-found")
        assert_problem(await client.delete("/sparql", headers=headers(SANTANDER)), 405, "method-not-allowed")

    run(body)


# --- keys and tenants ---------------------------------------------------------------------------


def test_no_key_or_an_unknown_key_is_401() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        for sent in ({}, headers("not-a-key-0123456789"), {"Authorization": "Basic abc"}):
            response = await client.get("/sparql", params={"query": "ASK {}"}, headers=sent)
            assert_problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")
        response = await client.post("/ngsi-ld/notify", json=notification(weather(1, 3.0)))
        assert_problem(response, 401, "unauthorized")

    run(body)


def test_the_common_prefixes_need_no_declaration() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        query = {"query": "ASK { sosa:Observation a owl:Class }"}
        response = await client.get("/sparql", params=query, headers=headers(SANTANDER, "santander"))
        assert response.status_code == 200 and response.json()["boolean"] is True  # the ontology's

    run(body)


def test_a_bearer_token_is_a_key_too() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        sent = {"Authorization": f"Bearer {SANTANDER}", "NGSILD-Tenant": "santander"}
        response = await client.get("/sparql", params={"query": "ASK {}"}, headers=sent)
        assert response.status_code == 200 and response.json()["boolean"] is True

    run(body)


def test_a_key_is_refused_other_tenants_and_a_reader_cannot_write() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        query = {"query": "ASK {}"}
        problem = assert_problem(
            await client.get("/sparql", params=query, headers=headers(SANTANDER, "porto")), 403, "forbidden"
        )
        assert "santander" in problem["detail"] and "porto" in problem["detail"]
        # No header is the default tenant, which the santander key may not use either.
        assert_problem(
            await client.get("/sparql", params=query, headers=headers(SANTANDER)), 403, "forbidden"
        )
        assert_problem(await notify(client, weather(1, 3.0), key=SANTANDER, tenant="porto"), 403, "forbidden")
        problem = assert_problem(await notify(client, weather(1, 3.0), key=SANTANDER_READ), 403, "forbidden")
        assert "may not send notifications" in problem["detail"]
        assert_problem(await notify(client, weather(1, 3.0), key=EVERYWHERE), 403, "forbidden")
        assert_problem(
            await client.get("/sparql", params=query, headers=headers(SANTANDER, "bad tenant!")),
            400,
            "bad-tenant",
        )

    run(body)


def test_tenants_do_not_see_each_others_graph() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        assert (await notify(client, weather(1, 3.0))).status_code == 204
        assert (await notify(client, weather(2, 30.0), key=PORTO, tenant="porto")).status_code == 204

        async def temperatures(key: str, tenant: str, query: str = TEMPERATURES) -> list[float]:
            response = await client.get("/sparql", params={"query": query}, headers=headers(key, tenant))
            assert response.status_code == 200, response.text
            return [float(b["t"]["value"]) for b in response.json()["results"]["bindings"]]

        assert await temperatures(SANTANDER, "santander") == [3.0]
        assert await temperatures(PORTO, "porto") == [30.0]
        assert await temperatures(EVERYWHERE, "santander") == [3.0]
        # Naming the other tenant's graph does not open it.
        other = (
            TEMPERATURES.replace("WHERE {", "WHERE { GRAPH <urn:contextbridge:graph:tenant:santander> {")
            + " }"
        )
        other = other.replace("} ORDER BY ?s }", "} } ORDER BY ?s")
        assert await temperatures(PORTO, "porto", other) == []
        assert await temperatures(SANTANDER, "santander", other) == [3.0]

    run(body)


# --- the SPARQL protocol, against the embedded store and a real Oxigraph server ---------------------


@pytest.fixture(params=["embedded", "endpoint"])
def make_store(request: pytest.FixtureRequest) -> Callable[[], GraphStore]:
    if request.param == "embedded":
        return lambda: EmbeddedStore(None)
    url = request.getfixturevalue("oxigraph_server")
    return lambda: EndpointStore(url)


SELECT = f"SELECT ?s ?t WHERE {{ ?s <{TEMPERATURE}> ?a . ?a <{VALUE}> ?t }} ORDER BY ?t"
CONSTRUCT = f"CONSTRUCT {{ ?s <{TEMPERATURE}> ?t }} WHERE {{ ?s <{TEMPERATURE}> ?a . ?a <{VALUE}> ?t }}"
ASK = f"ASK {{ ?s <{TEMPERATURE}> ?a }}"


async def loaded(client: httpx.AsyncClient) -> None:
    response = await notify(client, weather(1, 3.5), weather(2, 12.25))
    assert response.status_code == 204, response.text


async def ask(
    client: httpx.AsyncClient, query: str, accept: str | None = None, method: str = "GET"
) -> httpx.Response:
    sent = headers(SANTANDER, "santander", **({"Accept": accept} if accept else {}))
    if method == "GET":
        return await client.get("/sparql", params={"query": query}, headers=sent)
    if method == "form":
        return await client.post("/sparql", data={"query": query}, headers=sent)
    sent["Content-Type"] = "application/sparql-query"
    return await client.post("/sparql", content=query.encode(), headers=sent)


class TestSparqlProtocol:
    def test_select_in_every_results_format(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(client: httpx.AsyncClient) -> None:
            await loaded(client)
            response = await ask(client, SELECT)  # no Accept: SPARQL JSON
            assert response.headers["content-type"] == "application/sparql-results+json"
            document = response.json()
            assert document["head"]["vars"] == ["s", "t"]
            assert [float(b["t"]["value"]) for b in document["results"]["bindings"]] == [3.5, 12.25]

            response = await ask(client, SELECT, "application/sparql-results+xml")
            assert response.headers["content-type"] == "application/sparql-results+xml"
            root = ElementTree.fromstring(response.content)
            ns = "{http://www.w3.org/2005/sparql-results#}"
            assert [v.get("name") for v in root.iter(ns + "variable")] == ["s", "t"]
            uris = [u.text for u in root.iter(ns + "uri")]
            assert uris == [
                "urn:ngsi-ld:WeatherObserved:santander:1",
                "urn:ngsi-ld:WeatherObserved:santander:2",
            ]

            response = await ask(client, SELECT, "text/csv")
            assert response.headers["content-type"] == "text/csv; charset=utf-8"
            rows = list(csv.reader(io.StringIO(response.text)))
            assert rows[0] == ["s", "t"] and [float(r[1]) for r in rows[1:]] == [3.5, 12.25]

            response = await ask(client, SELECT, "text/tab-separated-values")
            lines = response.text.splitlines()
            assert lines[0] == "?s\t?t" and lines[1].startswith("<urn:ngsi-ld:WeatherObserved:santander:1>\t")

            # Quality values decide; a wildcard takes the default.
            assert (await ask(client, SELECT, "text/csv;q=0.5, application/sparql-results+xml")).headers[
                "content-type"
            ] == "application/sparql-results+xml"
            assert (await ask(client, SELECT, "*/*")).headers[
                "content-type"
            ] == "application/sparql-results+json"

        run(body, make_store)

    def test_ask_and_construct(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(client: httpx.AsyncClient) -> None:
            await loaded(client)
            assert (await ask(client, ASK)).json() == {"head": {}, "boolean": True}
            root = ElementTree.fromstring((await ask(client, ASK, "application/sparql-results+xml")).content)
            assert root.find("{http://www.w3.org/2005/sparql-results#}boolean").text == "true"  # type: ignore[union-attr]
            assert (await ask(client, ASK, "text/csv")).text.split() == ["boolean", "true"]

            response = await ask(client, CONSTRUCT)  # no Accept: Turtle
            assert response.headers["content-type"] == "text/turtle; charset=utf-8"
            assert "12.25" in response.text
            response = await ask(client, CONSTRUCT, "application/n-triples")
            assert response.headers["content-type"].startswith("application/n-triples")
            lines = sorted(response.text.splitlines())
            assert len(lines) == 2 and all(line.endswith(" .") and line.startswith("<urn:") for line in lines)

        run(body, make_store)

    def test_post_forms(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(client: httpx.AsyncClient) -> None:
            await loaded(client)
            for method in ("form", "body"):
                response = await ask(client, SELECT, "text/csv", method=method)
                assert response.status_code == 200 and len(response.text.splitlines()) == 3

        run(body, make_store)

    def test_406_when_no_answer_format_is_acceptable(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(client: httpx.AsyncClient) -> None:
            problem = assert_problem(await ask(client, SELECT, "text/turtle"), 406, "not-acceptable")
            assert "application/sparql-results+json" in problem["detail"]
            assert_problem(await ask(client, CONSTRUCT, "text/csv"), 406, "not-acceptable")
            assert_problem(await ask(client, SELECT, "text/csv;q=0"), 406, "not-acceptable")

        run(body, make_store)

    def test_updates_are_refused_in_every_form(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(client: httpx.AsyncClient) -> None:
            await loaded(client)
            update = "DELETE WHERE { ?s ?p ?o }"
            sent = headers(SANTANDER, "santander")
            answers = [
                await client.get("/sparql", params={"update": update}, headers=sent),
                await client.post("/sparql", data={"update": update}, headers=sent),
                await client.post(
                    "/sparql", content=update, headers={**sent, "Content-Type": "application/sparql-update"}
                ),
                await ask(client, update),
                await ask(client, "INSERT DATA { <urn:a> <urn:b> <urn:c> }", method="body"),
            ]
            for response in answers:
                assert_problem(response, 403, "update-refused")
            assert (await ask(client, ASK)).json()["boolean"] is True

        run(body, make_store)

    def test_syntax_errors_are_400_and_say_what(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(client: httpx.AsyncClient) -> None:
            problem = assert_problem(await ask(client, "SELECT ?s WHERE { ?s ?p }"), 400, "query-syntax")
            assert "invalid SPARQL query" in problem["detail"]
            assert_problem(await ask(client, "HELLO"), 400, "query-syntax")
            sent = headers(SANTANDER, "santander")
            assert_problem(await client.get("/sparql", headers=sent), 400, "bad-request")
            response = await client.get(
                "/sparql",
                params={"query": ASK, "default-graph-uri": "urn:contextbridge:graph:tenant:porto"},
                headers=sent,
            )
            assert_problem(response, 400, "bad-request")
            response = await client.post(
                "/sparql", content=b"ASK {}", headers={**sent, "Content-Type": "text/plain"}
            )
            assert_problem(response, 415, "unsupported-media-type")

        run(body, make_store)

    def test_answers_are_cut_at_the_limit_and_say_so(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(client: httpx.AsyncClient) -> None:
            response = await notify(client, *(weather(n, float(n)) for n in range(8)))
            assert response.status_code == 204
            response = await ask(client, SELECT)
            assert len(response.json()["results"]["bindings"]) == 5
            assert (
                response.headers["x-result-truncated"] == "true" and response.headers["x-result-limit"] == "5"
            )
            response = await ask(client, SELECT.replace("ORDER BY ?t", "ORDER BY ?t LIMIT 3"))
            assert len(response.json()["results"]["bindings"]) == 3
            assert "x-result-truncated" not in response.headers

        run(body, make_store, sparql_limit=5)

    def test_a_slow_query_times_out(self, make_store: Callable[[], GraphStore]) -> None:
        async def body(client: httpx.AsyncClient) -> None:
            await notify(client, *(weather(n, float(n)) for n in range(30)))
            started = time.monotonic()
            response = await ask(client, "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")
            assert_problem(response, 503, "query-timeout")
            assert time.monotonic() - started < 5

        run(body, make_store, sparql_timeout=0.5)


# --- limits -------------------------------------------------------------------------------------


def test_bodies_over_the_limit_are_413() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        big = [weather(n, 1.0) for n in range(40)]
        problem = assert_problem(await notify(client, *big), 413, "payload-too-large")
        assert "4,096" in problem["detail"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b"x" * 1000

        response = await client.post(
            "/ngsi-ld/notify",
            content=chunks(),
            headers=headers(SANTANDER, "santander", Content_Type="application/json", Link=LINK),
        )
        assert_problem(response, 413, "payload-too-large")
        query = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 5000
        assert_problem(await ask(client, query, method="body"), 413, "payload-too-large")
        assert (await notify(client, weather(1, 2.0))).status_code == 204

    run(body, max_body_bytes=4096)


def test_problem_bodies_never_echo_the_key() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        for key in (SANTANDER, "wrong-key-0123456789"):
            response = await client.get("/sparql", params={"query": "ASK {}"}, headers=headers(key, "porto"))
            assert key not in response.text and key not in json.dumps(dict(response.headers))

    run(body)


def test_without_configured_keys_everything_but_health_is_closed() -> None:
    async def main() -> None:
        store = EmbeddedStore(None)
        app = create_app(Service(store=store))
        async with (
            lifespan(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
        ):
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/sparql", params={"query": "ASK {}"})).status_code == 401
        await store.close()

    asyncio.run(main())
