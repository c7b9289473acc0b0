"""The broker client against the broker double (Orion-LD's answers) and httpx.MockTransport."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from broker_double import BrokerDouble
from hypothesis import given, settings
from hypothesis import strategies as st

from contextbridge import BrokerClient, BrokerError, DeliveryError
from contextbridge.remote.auth import ApiKeyHeader, BearerToken, ClientCredentials
from contextbridge.remote.retry import retry_after
from contextbridge.sinks.broker import pack, pack_encoded

BAD_REQUEST = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def entity(number: int, version: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Sensor:{number}",
        "type": "Sensor",
        "v": {"type": "Property", "value": version},
        **extra,
    }


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def recording(
    status: int = 204, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        content = orjson.dumps(body) if body is not None else b""
        return httpx.Response(status, content=content, headers=headers)

    return seen, httpx.MockTransport(handler)


def test_upsert_created_updated_and_mixed() -> None:
    double = BrokerDouble()

    async def scenario() -> list[Any]:
        async with BrokerClient("http://orion", transport=double.transport()) as broker:
            return [
                await broker.upsert([entity(1), entity(2)]),
                await broker.upsert([entity(1, 2), entity(2, 2)]),
                await broker.upsert([entity(2, 3), entity(3)]),
            ]

    created, updated, mixed = run(scenario())
    assert [status for _, _, status in double.requests] == [201, 204, 207]
    assert all(result.ok for result in (created, updated, mixed))  # 207 with empty errors: success
    assert sorted(mixed.success) == ["urn:ngsi-ld:Sensor:2", "urn:ngsi-ld:Sensor:3"]


def test_207_names_each_failure_with_its_problem_details() -> None:
    double = BrokerDouble()
    bad = {"id": "urn:ngsi-ld:Sensor:9", "type": "Sensor", "v": {"type": "Relationship"}}

    async def scenario() -> Any:
        async with BrokerClient("http://orion", transport=double.transport()) as broker:
            return await broker.upsert([entity(1), bad])

    result = run(scenario())
    assert result.success == ("urn:ngsi-ld:Sensor:1",)
    (failure,) = result.errors
    assert failure.entity_id == "urn:ngsi-ld:Sensor:9" and failure.problem["type"] == BAD_REQUEST


def test_context_goes_in_a_link_header_or_in_the_body() -> None:
    seen, transport = recording()

    async def scenario() -> None:
        async with BrokerClient(
            "http://orion", transport=transport, context_url="https://c.example/ctx.jsonld"
        ) as broker:
            await broker.upsert([entity(1)])
            await broker.upsert([entity(2, **{"@context": "https://other.example/ctx.jsonld"}), entity(3)])

    run(scenario())
    plain, ld = seen
    assert plain.headers["content-type"] == "application/json"
    assert plain.headers["link"] == (
        '<https://c.example/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    )
    assert ld.headers["content-type"] == "application/ld+json" and "link" not in ld.headers
    assert [e["@context"] for e in orjson.loads(ld.content)] == [
        "https://other.example/ctx.jsonld", "https://c.example/ctx.jsonld"
    ]  # fmt: skip
    assert "ngsild-tenant" not in plain.headers  # only when a tenant is set
    assert plain.url.params["options"] == "update"


def test_a_per_type_context_groups_the_batches_by_type() -> None:
    """Orion-LD ignores type-scoped contexts: each type's entities go with the flat context of their type."""
    seen, transport = recording()
    weather = {"id": "urn:ngsi-ld:WeatherObserved:1", "type": "WeatherObserved"}
    air = {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved"}
    template = "https://cb.example/context.jsonld?type={type}"

    async def scenario() -> None:
        async with BrokerClient("http://orion", transport=transport, context_url=template) as broker:
            for batch in broker.batches([weather, air, {**weather, "id": "urn:ngsi-ld:WeatherObserved:2"}]):
                await broker.upsert(batch)

    run(scenario())
    sent = {request.headers["link"].split(">")[0][1:]: orjson.loads(request.content) for request in seen}
    assert {url: [e["id"] for e in body] for url, body in sent.items()} == {
        "https://cb.example/context.jsonld?type=WeatherObserved": [
            "urn:ngsi-ld:WeatherObserved:1", "urn:ngsi-ld:WeatherObserved:2"
        ],
        "https://cb.example/context.jsonld?type=AirQualityObserved": ["urn:ngsi-ld:AirQualityObserved:1"],
    }  # fmt: skip


def test_the_double_applies_orion_ld_content_rules() -> None:
    double = BrokerDouble()
    url = "http://orion/ngsi-ld/v1/entityOperations/upsert"
    link = '<https://c.example/ctx>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    with_context = [entity(1, **{"@context": "https://c.example/ctx"})]

    async def post(body: Any, content_type: str, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=double.transport()) as http:
            return await http.post(
                url, content=orjson.dumps(body), headers={"Content-Type": content_type, **headers}
            )

    async def scenario() -> list[int]:
        return [
            (await post(with_context, "application/json")).status_code,  # @context in a JSON body
            (await post([entity(1)], "application/ld+json")).status_code,  # ld+json without @context
            (await post(with_context, "application/ld+json", Link=link)).status_code,  # ld+json and Link
            (await post([], "application/json")).status_code,  # empty array
            (await post([entity(1)], "text/plain")).status_code,
            (await post([entity(1)], "application/json", Link=link)).status_code,
            (await post(with_context, "application/ld+json")).status_code,
        ]

    # in a batch, the @context rules are each item's: the item fails alone, in a 207
    # (batchEntitiesFinalCheck.cpp); a Link with application/ld+json fails the request
    assert run(scenario()) == [207, 207, 400, 400, 415, 201, 204]


def test_tenant_header_and_tenants() -> None:
    double = BrokerDouble(multiservice=True)

    async def scenario() -> Any:
        async with BrokerClient("http://orion", tenant="santander", transport=double.transport()) as broker:
            await broker.upsert([entity(1)])
            with pytest.raises(BrokerError) as unknown:
                await broker.query(type="Sensor", tenant="nowhere")
            return unknown.value

    error = run(scenario())
    assert set(double.entities("santander")) == {"urn:ngsi-ld:Sensor:1"} and double.entities() == {}
    assert error.status == 404 and error.problem["type"].endswith("NonExistingTenant")


def test_refusals_and_transient_failures_are_told_apart() -> None:
    async def call(status: int, headers: dict[str, str] | None = None) -> BaseException:
        _, transport = recording(status, {"type": BAD_REQUEST, "title": "no"}, headers)
        async with BrokerClient("http://orion", transport=transport) as broker:
            with pytest.raises((BrokerError, DeliveryError)) as error:
                await broker.upsert([entity(1)])
        return error.value

    refused = run(call(400))
    assert isinstance(refused, BrokerError) and refused.problem == {
        "type": BAD_REQUEST,
        "title": "no",
        "status": 400,
    }
    for status in (409, 413, 422):
        assert isinstance(run(call(status)), BrokerError)
    for status in (429, 500, 502, 503, 504):
        assert isinstance(run(call(status)), DeliveryError)
    limited = run(call(429, {"Retry-After": "7"}))
    assert isinstance(limited, DeliveryError) and limited.retry_after == 7


def test_connection_errors_are_transient() -> None:
    async def scenario() -> None:
        async with BrokerClient("http://127.0.0.1:9", timeout=2) as broker:
            await broker.upsert([entity(1)])

    with pytest.raises(DeliveryError):
        run(scenario())


def test_retry_after_as_seconds_or_date() -> None:
    assert retry_after("120") == 120
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert retry_after("soon") is None and retry_after(None) is None


def test_batches_by_count_and_bytes_with_one_version_per_id() -> None:
    entities = [entity(n % 50, n) for n in range(100)]
    batches = pack(entities, max_count=20, max_bytes=10**6)
    assert [len(batch) for batch in batches] == [20, 20, 10]
    sent = [e for batch in batches for e in orjson.loads(batch.body)]
    assert {e["id"]: e["v"]["value"] for e in sent} == {f"urn:ngsi-ld:Sensor:{n}": n + 50 for n in range(50)}
    small = pack(entities, max_count=1000, max_bytes=1000)
    assert all(len(batch.body) <= 1000 for batch in small) and sum(len(b) for b in small) == 50
    assert pack([], max_count=10, max_bytes=1000) == []


def stored(entities: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """The entities as the outbox stores them: (id, sorted-keys JSON)."""
    return [(str(e["id"]), orjson.dumps(e, option=orjson.OPT_SORT_KEYS)) for e in entities]


def same_batches(entities: list[dict[str, Any]], **options: Any) -> None:
    """``pack_encoded`` of the stored JSON sends exactly what ``pack`` sent of it decoded."""
    encoded = stored(entities)
    before = pack([orjson.loads(body) for _, body in encoded], **options)
    after = pack_encoded(encoded, **options)
    assert after == before
    assert [batch.body for batch in after] == [batch.body for batch in before]


CONTEXT = "https://c.example/ctx.jsonld"
plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
an_entity = st.builds(
    lambda number, attributes, context: {
        "id": f"urn:ngsi-ld:Sensor:{number}",
        "type": "Sensor",
        **attributes,
        **({"@context": context} if context is not None else {}),
    },
    st.integers(0, 6),
    st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda k: k not in ("id", "@context")), plain, max_size=4
    ),
    st.none() | st.just(CONTEXT) | st.just([CONTEXT, {"x": "urn:x"}]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(an_entity, max_size=12),
    st.integers(1, 5),
    st.integers(1024, 4096),
    st.none() | st.just(CONTEXT) | st.just(CONTEXT + "?type={type}"),
)
def test_stored_json_is_packed_without_decoding_into_the_same_bytes(
    entities: list[dict[str, Any]], count: int, size: int, context: str | None
) -> None:
    same_batches(entities, max_count=count, max_bytes=size, context=context)


def test_stored_json_packing_cases() -> None:
    nested = entity(1, v2={"type": "Property", "value": {"@context": "not the entity's"}})
    cases = [
        [entity(n, n) for n in range(10)],  # no @context anywhere: application/json
        [entity(1), entity(2, **{"@context": CONTEXT})],  # one has its own: the others get the client's
        [nested, entity(2)],  # an @context inside a value does not make the entity ld
        [nested, entity(3, **{"@context": [CONTEXT]})],
        [{**entity(4), "name": {"type": "Property", "value": 'Café «ü» \u2028 "q"'}}],
        [{**entity(5), "x": {"type": "Property", "value": 0.1 + 0.2}}, entity(5, 2)],  # latest per id
    ]
    for entities in cases:
        for context in (None, CONTEXT):
            same_batches(entities, max_count=3, max_bytes=10**6, context=context)
            same_batches(entities, max_count=100, max_bytes=1024, context=context)
    batches = pack_encoded(
        stored([entity(1), entity(2, **{"@context": CONTEXT})]), max_count=9, max_bytes=10**6
    )
    assert [e["@context"] for e in orjson.loads(batches[0].body)] == [
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld", CONTEXT
    ] and batches[0].ld  # fmt: skip


def test_an_empty_upsert_is_never_sent() -> None:
    seen, transport = recording()

    async def scenario() -> None:
        async with BrokerClient("http://orion", transport=transport) as broker:
            await broker.upsert([])

    with pytest.raises(ValueError):
        run(scenario())
    assert seen == []


def test_entities_query_pages_and_subscriptions() -> None:
    double = BrokerDouble()

    async def scenario() -> dict[str, Any]:
        async with BrokerClient("http://orion", transport=double.transport()) as broker:
            await broker.upsert([entity(n) for n in range(25)])
            await broker.create_entity(entity(100))
            with pytest.raises(BrokerError) as exists:
                await broker.create_entity(entity(100))
            await broker.update_entity("urn:ngsi-ld:Sensor:100", {"v": {"type": "Property", "value": 7}})
            page = await broker.query(type="Sensor", limit=10, offset=20, count=True)
            everything = [e async for e in broker.query_all(type="Sensor", page_size=10)]
            with pytest.raises(BrokerError) as broad:
                await broker.query()
            got = await broker.get_entity("urn:ngsi-ld:Sensor:100")
            await broker.delete_entity("urn:ngsi-ld:Sensor:100")
            subscription = {"type": "Subscription", "entities": [{"type": "Sensor"}],
                            "notification": {"endpoint": {"uri": "http://cb/notify"}}}  # fmt: skip
            sid = await broker.create_subscription(subscription)
            listed = await broker.subscriptions()
            await broker.delete_subscription(sid)
            return {
                "exists": exists.value, "page": page, "all": everything, "broad": broad.value, "got": got,
                "gone": await broker.get_entity("urn:ngsi-ld:Sensor:100"), "sid": sid, "listed": listed,
                "after": await broker.subscriptions(),
            }  # fmt: skip

    found = run(scenario())
    assert found["exists"].status == 409 and found["exists"].problem["type"].endswith("AlreadyExists")
    assert (len(found["page"].entities), found["page"].count) == (6, 26)
    assert len(found["all"]) == 26
    assert found["broad"].status == 400
    assert found["got"]["v"]["value"] == 7 and found["gone"] is None
    assert [s["id"] for s in found["listed"]] == [found["sid"]] and found["after"] == []


def test_bearer_and_api_key() -> None:
    seen, transport = recording()

    async def scenario() -> None:
        async with BrokerClient("http://orion", transport=transport, auth=BearerToken("t0k")) as broker:
            await broker.upsert([entity(1)])
        async with BrokerClient(
            "http://orion", transport=transport, auth=ApiKeyHeader("k", header="apikey")
        ) as b:
            await b.upsert([entity(1)])

    run(scenario())
    assert seen[0].headers["authorization"] == "Bearer t0k" and seen[1].headers["apikey"] == "k"


def test_oauth2_client_credentials_caches_and_refreshes() -> None:
    now = [0.0]
    tokens: list[str] = []
    revoked: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            assert request.headers["authorization"].startswith("Basic ")
            assert b"grant_type=client_credentials" in request.content
            tokens.append(f"token-{len(tokens)}")
            return httpx.Response(200, json={"access_token": tokens[-1], "expires_in": 300})
        token = request.headers["authorization"].removeprefix("Bearer ")
        return httpx.Response(401 if token in revoked else 204)

    auth = ClientCredentials("http://idp/token", "cb", "secret", clock=lambda: now[0])

    async def scenario() -> None:
        async with BrokerClient("http://orion", transport=httpx.MockTransport(handler), auth=auth) as broker:
            await asyncio.gather(*(broker.upsert([entity(n)]) for n in range(5)))
            assert tokens == ["token-0"]  # one token for concurrent requests
            now[0] = 280.0  # within the leeway before expiry
            await broker.upsert([entity(1)])
            assert tokens == ["token-0", "token-1"]
            revoked.add("token-1")  # revoked early: the 401 brings a new token
            await broker.upsert([entity(1)])
            assert tokens[-1] == "token-2"

    run(scenario())
