"""The HTTP surface under attack: keys on every write, tenants apart, SPARQL read-only and bounded,
bodies bounded, no remote fetch an attacker can name, and no 500 for any request the OpenAPI
document allows (``test_hostile_openapi``) or any hostile body (hypothesis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fuzz import FUZZ, bounded, recording_server
from hypothesis import given, settings
from hypothesis import strategies as st
from test_service import (
    EVERYWHERE,
    PORTO,
    SANTANDER,
    SANTANDER_READ,
    TEMPERATURES,
    assert_problem,
    headers,
    notification,
    notify,
    run,
    weather,
)

CONTEXT_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


CONTEXT = json.dumps({"@context": {"temperature": "https://attacker.example/t"}}).encode()


@pytest.fixture
def loopback() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback that records every request: nothing may reach it."""
    with recording_server(CONTEXT, "application/ld+json") as found:
        yield found


# --- keys and tenants ----------------------------------------------------------------------------


def test_every_write_needs_a_key_that_may_write() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        document = notification(weather(1, 3.0))
        for sent in ({}, {"X-API-Key": "wrong-key-0123456789"}, {"Authorization": "Bearer "}):
            response = await client.post("/ngsi-ld/notify", json=document, headers=sent)
            assert_problem(response, 401, "unauthorized")
        read_only = headers(SANTANDER_READ, "santander")
        assert_problem(
            await client.post("/ngsi-ld/notify", json=document, headers=read_only), 403, "forbidden"
        )
        everywhere = headers(EVERYWHERE, "santander")  # reads every tenant, writes none
        assert_problem(
            await client.post("/ngsi-ld/notify", json=document, headers=everywhere), 403, "forbidden"
        )
        # a webhook feed that declares no secret of its own takes the service's keys
        assert (await client.post("/feeds/anything", content=b"{}")).status_code in (401, 404)
        rows = (
            await client.get("/sparql", params={"query": TEMPERATURES}, headers=headers(EVERYWHERE))
        ).json()
        assert rows["results"]["bindings"] == []

    run(body)


def test_tenants_are_apart() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        assert (await notify(client, weather(1, 3.0))).status_code == 204  # into santander
        # porto's key can neither write to nor read santander
        assert_problem(await notify(client, weather(2, 9.0), key=PORTO), 403, "forbidden")
        sent = headers(PORTO, "santander")
        assert_problem(
            await client.get("/sparql", params={"query": TEMPERATURES}, headers=sent), 403, "forbidden"
        )
        # porto's own tenant does not see santander's data, whatever the query names
        for query in (
            TEMPERATURES,
            "SELECT ?s WHERE { GRAPH ?g { ?s ?p ?o } }",
            "SELECT ?s WHERE { GRAPH <urn:contextbridge:tenant:santander> { ?s ?p ?o } }",
        ):
            response = await client.get("/sparql", params={"query": query}, headers=headers(PORTO, "porto"))
            assert response.status_code == 200, response.text
            assert "santander:1" not in response.text
        dataset = {"query": TEMPERATURES, "default-graph-uri": "urn:contextbridge:tenant:santander"}
        response = await client.get("/sparql", params=dataset, headers=headers(PORTO, "porto"))
        assert_problem(response, 400, "bad-request")
        for tenant in ("../santander", "santander\r\nX-Evil: 1", "a" * 500, "tenant with spaces"):
            response = await client.get(
                "/sparql",
                params={"query": TEMPERATURES},
                headers={"X-API-Key": EVERYWHERE, "NGSILD-Tenant": tenant},
            )
            assert response.status_code == 400, (tenant, response.text)

    run(body)


# --- SPARQL --------------------------------------------------------------------------------------

UPDATES = [
    "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
    "DELETE WHERE { ?s ?p ?o }",
    "CLEAR ALL",
    "DROP GRAPH <urn:contextbridge:tenant:santander>",
    "LOAD <http://127.0.0.1:9/x.ttl>",
    "PREFIX a: <urn:a> # a comment\nINSERT DATA { a:b a:c a:d }",
    "select * { ?s ?p ?o } ; INSERT DATA { <urn:a> <urn:b> <urn:c> }",
]


@pytest.mark.parametrize("update", UPDATES)
def test_the_sparql_endpoint_is_read_only(update: str) -> None:
    async def count(client: httpx.AsyncClient) -> str:
        query = "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
        rows = (
            await client.get("/sparql", params={"query": query}, headers=headers(SANTANDER, "santander"))
        ).json()
        return str(rows["results"]["bindings"][0]["n"]["value"])

    async def body(client: httpx.AsyncClient) -> None:
        sent = headers(SANTANDER, "santander")
        before = await count(client)
        answers = [
            await client.get("/sparql", params={"query": update}, headers=sent),
            await client.get("/sparql", params={"update": update}, headers=sent),
            await client.post("/sparql", data={"update": update}, headers=sent),
            await client.post(
                "/sparql", content=update, headers={**sent, "Content-Type": "application/sparql-update"}
            ),
            await client.post(
                "/sparql", content=update, headers={**sent, "Content-Type": "application/sparql-query"}
            ),
        ]
        for response in answers:
            assert response.status_code in (400, 403), response.text
        assert await count(client) == before

    run(body)


def test_sparql_queries_are_cut_at_their_time_and_row_limits() -> None:
    explosive = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    many_rows = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f }"

    async def body(client: httpx.AsyncClient) -> None:
        sent = headers(EVERYWHERE)
        with bounded(seconds=10, megabytes=256):
            response = await client.get("/sparql", params={"query": explosive}, headers=sent)
        assert_problem(response, 503, "query-timeout")
        response = await client.get("/sparql", params={"query": many_rows}, headers=sent)
        assert response.status_code in (200, 503), response.text
        if response.status_code == 200:
            assert response.headers["X-Result-Truncated"] == "true"
            assert len(response.json()["results"]["bindings"]) == 50

    run(body, sparql_timeout=0.5, sparql_limit=50)


def test_a_federated_query_fetches_nothing(loopback: tuple[str, list[str]]) -> None:
    url, seen = loopback

    async def body(client: httpx.AsyncClient) -> None:
        for query in (
            f"SELECT * WHERE {{ SERVICE <{url}/sparql> {{ ?s ?p ?o }} }}",
            f"SELECT * WHERE {{ service silent <{url}/sparql> {{ ?s ?p ?o }} }}",
            f"PREFIX x: <{url}/>\nASK {{ SERVICE x:sparql {{ ?s ?p ?o }} }}",
        ):
            response = await client.get("/sparql", params={"query": query}, headers=headers(EVERYWHERE))
            assert_problem(response, 403, "federation-refused")
        innocent = 'SELECT * WHERE { ?s <urn:service> "SERVICE" } # SERVICE <http://x>'
        response = await client.get("/sparql", params={"query": innocent}, headers=headers(EVERYWHERE))
        assert response.status_code == 200, response.text

    run(body)
    assert seen == []


# --- bodies --------------------------------------------------------------------------------------


def test_bodies_over_the_limit_are_refused_before_they_are_read() -> None:
    async def chunks() -> Any:
        for _ in range(1_000):
            yield b"x" * 65_536  # 64 MB if it were all read

    async def body(client: httpx.AsyncClient) -> None:
        sent = headers(
            SANTANDER,
            "santander",
            Content_Type="application/json",
            Link=f"<http://testserver/context.jsonld>; {CONTEXT_REL}",
        )
        with bounded(seconds=10, megabytes=32):
            response = await client.post("/ngsi-ld/notify", content=chunks(), headers=sent)
        assert_problem(response, 413, "payload-too-large")
        for declared in ("-1", "1e9", "0x10", " 12", "99999999999999999999999"):
            response = await client.post(
                "/ngsi-ld/notify", content=b"{}", headers={**sent, "Content-Length": declared}
            )
            assert response.status_code in (400, 413), (declared, response.text)

    run(body, max_body_bytes=65_536)


HOSTILE_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"data": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    b'{"data": [{"id": "urn:a", "type": "T", "x": {"type": "Property", "value": NaN}}]}',
    b'{"data": [{"id": "urn:a", "type": "T", "x": {"type": "Property", "value": 1e999}}]}',
    b'{"data": [{"id": "urn:a", "type": "T", "x": {"type": "Property", "value": 1' + b"0" * 5_000 + b"}}]}",
    b'{"data": "\xff\xfe"}',
    b'{"data": [{"id": "\xed\xa0\x80", "type": "T"}]}',
    b'{"data": [' + b'{"id": "urn:ngsi-ld:T:1", "type": "T"},' * 2_000 + b"{}]}",
    b'{"data": [{"id": "urn:a", "type": "T", "@context": {"@version": 1.1, "@import": "http://127.0.0.1:9/x"}}]}',
    b'{"data": [{"id": "urn:a", "type": "T", "x": {"type": "Property", "value": {"@context": "http://127.0.0.1:9/c"}}}]}',
    b'{"data": [{"id": "urn:a", "type": "T", "x": {"type": "Relationship", "object": "'
    + b"x" * 200_000
    + b'"}}]}',
    b"null",
    b"",
    b"\x00" * 1_000,
]


@pytest.mark.parametrize("content", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
@pytest.mark.parametrize("media", ["application/json", "application/ld+json"])
def test_hostile_notifications_are_answered_without_a_server_error(content: bytes, media: str) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        sent = headers(SANTANDER, "santander", Content_Type=media)
        with bounded(seconds=10, megabytes=256):
            response = await client.post("/ngsi-ld/notify", content=content, headers=sent)
        assert response.status_code < 500, response.text

    run(body)


@pytest.mark.parametrize("character", ["[", "]", "\ufffe", "\ue000", "\U0010ffff"])
def test_an_entity_id_the_graph_cannot_name_is_refused_alone(character: str) -> None:
    bad = {**weather(1, 3.0), "id": f"urn:ngsi-ld:WeatherObserved:santander:{character}"}

    async def body(client: httpx.AsyncClient) -> None:
        response = await notify(client, bad, weather(2, 4.0))
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["upserted"] == 1 and [item["entityId"] for item in report["refused"]] == [bad["id"]]

    run(body)


def test_an_entity_the_graph_store_refuses_is_refused_alone() -> None:
    bad = {**weather(3, 1.0), "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:\ufff0"}}

    async def body(client: httpx.AsyncClient) -> None:
        response = await notify(client, weather(4, 2.0), bad)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["upserted"] == 1 and [item["entityId"] for item in report["refused"]] == [bad["id"]]

    run(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)
entities = st.fixed_dictionaries(
    {
        "id": st.text(max_size=30) | st.just("urn:ngsi-ld:WeatherObserved:santander:1"),
        "type": st.text(max_size=20),
    },
    optional={"temperature": json_values, "location": json_values, "@context": json_values, "x": json_values},
)


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 600))  # a whole app per example: the slow one
@given(
    data=st.lists(entities | json_values, max_size=4),
    link=st.none() | st.text(max_size=60) | st.just("<http://127.0.0.1:9/c.jsonld>; " + CONTEXT_REL),
    media=st.sampled_from(["application/json", "application/ld+json", "text/plain", ""]),
)
def test_any_notification_body_is_answered_without_a_server_error(
    data: Any, link: str | None, media: str
) -> None:
    document = {**notification(), "data": data}
    sent = headers(SANTANDER, "santander", Content_Type=media)
    if link is not None and link.isprintable() and link.isascii():
        sent["Link"] = link

    async def body(client: httpx.AsyncClient) -> None:
        content = json.dumps(document, allow_nan=True).encode()
        response = await client.post("/ngsi-ld/notify", content=content, headers=sent)
        assert response.status_code < 500, response.text

    run(body)


# --- no fetch an attacker can name (SSRF) --------------------------------------------------------


def test_notifications_never_make_the_service_fetch(loopback: tuple[str, list[str]]) -> None:
    url, seen = loopback
    entity = weather(7, 3.0)

    async def body(client: httpx.AsyncClient) -> None:
        attempts = [
            (
                headers(SANTANDER, "santander", Link=f"<{url}/link.jsonld>; {CONTEXT_REL}"),
                notification(entity),
            ),
            (
                headers(SANTANDER, "santander", Content_Type="application/ld+json"),
                {
                    **notification({**entity, "@context": [f"{url}/entity.jsonld"]}),
                    "@context": f"{url}/body.jsonld",
                },
            ),
            (
                headers(SANTANDER, "santander", Content_Type="application/ld+json"),
                notification({**entity, "@context": {"@import": f"{url}/import.jsonld", "@version": 1.1}}),
            ),
            (
                headers(SANTANDER, "santander", Content_Type="application/ld+json"),
                notification({**entity, "@context": [{"x": {"@id": "urn:x", "@context": f"{url}/scoped"}}]}),
            ),
        ]
        for sent, document in attempts:
            response = await client.post(
                "/ngsi-ld/notify", content=json.dumps(document).encode(), headers=sent
            )
            assert response.status_code < 500, response.text
            assert response.status_code != 204 or "@import" not in json.dumps(document), response.text

    run(body)
    assert seen == []


def test_an_allowed_context_is_the_only_one_fetched(loopback: tuple[str, list[str]]) -> None:
    url, seen = loopback
    allowed = f"{url}/allowed.jsonld"

    async def body(client: httpx.AsyncClient) -> None:
        for target in (allowed, f"{url}/other.jsonld", allowed + "?x=1", f"{url}/allowed.jsonld#frag"):
            sent = headers(SANTANDER, "santander", Link=f"<{target}>; {CONTEXT_REL}")
            response = await client.post("/ngsi-ld/notify", json=notification(weather(8, 1.0)), headers=sent)
            assert response.status_code < 500, response.text

    run(body, allowed_contexts=(allowed,))
    assert seen == ["/allowed.jsonld"]
