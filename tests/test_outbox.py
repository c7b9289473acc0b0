"""The outbox contract, one test class run against every backend: SQLite and PostgreSQL.

PostgreSQL is a real server the test session starts (``postgres_url``; ``CONTEXTBRIDGE_TEST_POSTGRES``
names a running one); each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from broker_double import BrokerDouble

from contextbridge import (
    BrokerClient,
    ConfigError,
    Drainer,
    DrainSettings,
    Outbox,
    RetryPolicy,
    TransformError,
    UpdatePolicy,
    open_outbox,
)
from contextbridge.entities.updates import REPLACE
from contextbridge.outbox import TRANSLATE, DeadLetterFilter
from contextbridge.outbox.sql import VERSION, Tx

FAST = RetryPolicy(initial=0.001, maximum=0.01, jitter=0.001)
MERGE = UpdatePolicy(merge=True)


def entity(number: int, version: int = 1) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Sensor:{number}",
        "type": "Sensor",
        "v": {"type": "Property", "value": version},
    }


@pytest.fixture(params=["sqlite", "postgres"])
def make_outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Outbox]]:
    """A factory of outboxes on one store (several connections = several workers)."""
    opened: list[Outbox] = []
    schema = f"cb_test_{uuid.uuid4().hex[:12]}"
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""

    def make(**options: Any) -> Outbox:
        location = url if request.param == "postgres" else str(tmp_path / "state")
        outbox = open_outbox(location, schema=schema, **options)
        opened.append(outbox)
        return outbox

    yield make
    for outbox in opened:
        asyncio.run(outbox.close())
    if request.param == "postgres":
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 60))


class TestOutbox:
    def test_put_claim_ack(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            result = await outbox.put([entity(1), entity(2)], tenant="city", feed="f")
            assert result.queued == 2
            claimed = await outbox.claim("broker", limit=10, lease=60)
            assert [entry.entity_id for entry in claimed] == ["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]
            assert claimed[0].entity == entity(1) and claimed[0].tenant == "city" and claimed[0].feed == "f"
            assert await outbox.claim("broker", limit=10, lease=60) == []
            await outbox.ack("broker", claimed)
            assert await outbox.pending("broker") == 0
            (status,) = [s for s in await outbox.status() if s.sink == "broker"]
            assert (status.pending, status.delivered) == (0, 2)

        run(scenario())

    def test_a_newer_version_supersedes_the_waiting_one(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            await outbox.put([entity(1, 1), entity(2, 1)])
            result = await outbox.put([entity(1, 2), entity(1, 3)])
            assert (result.queued, result.superseded) == (1, 2)
            claimed = await outbox.claim("broker", limit=10, lease=60)
            assert {e.entity_id: e.entity["v"]["value"] for e in claimed} == {
                "urn:ngsi-ld:Sensor:1": 3,
                "urn:ngsi-ld:Sensor:2": 1,
            }

        run(scenario())

    def test_versions_are_kept_when_supersession_is_off(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox(supersede=False)

        async def scenario() -> None:
            await outbox.put([entity(1, 1), entity(1, 2)])
            await outbox.put([entity(1, 3)])
            claimed = await outbox.claim("broker", limit=10, lease=60)
            assert [e.entity["v"]["value"] for e in claimed] == [1, 2, 3]

        run(scenario())

    def test_an_unchanged_entity_is_not_queued_again(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            await outbox.put([entity(1, 1)])
            assert (await outbox.put([entity(1, 1)])).unchanged == 1  # equal to the waiting one
            await outbox.ack("broker", await outbox.claim("broker", limit=10, lease=60))
            result = await outbox.put([entity(1, 1), entity(2, 1)])  # equal to the delivered one
            assert (result.queued, result.unchanged) == (1, 1)
            assert (await outbox.put([entity(1, 2)])).queued == 1

        run(scenario())

    def test_a_key_is_never_claimed_twice(self, make_outbox: Callable[..., Outbox]) -> None:
        first, second = make_outbox(), make_outbox()

        async def scenario() -> None:
            await first.put([entity(1, 1)])
            claimed = await first.claim("broker", limit=10, lease=60)
            await first.put([entity(1, 2), entity(2, 1)])
            # version 2 of sensor 1 waits until version 1 is settled, for every worker
            assert [e.entity_id for e in await second.claim("broker", limit=10, lease=60)] == [
                "urn:ngsi-ld:Sensor:2"
            ]
            await first.ack("broker", claimed)
            (next_,) = await second.claim("broker", limit=10, lease=60)
            assert next_.entity["v"]["value"] == 2

        run(scenario())

    def test_claims_of_a_dead_worker_are_freed(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox, other = make_outbox(), make_outbox()

        async def scenario() -> None:
            await outbox.put([entity(1)])
            await outbox.claim("broker", limit=10, lease=3600)
            dead = "999999999" if outbox.__class__.__name__.startswith("Postgres") else "999999999:x"
            outbox._owner = dead  # type: ignore[attr-defined]  # its claims now name a process that is gone
            await outbox.release("broker", [])
            outbox_claims = await other.claim("broker", limit=10, lease=60)
            assert outbox_claims == []  # still owned by the live one...
            await outbox._run(True, lambda tx: tx.run("UPDATE deliveries SET owner = ?", (dead,)))  # type: ignore[attr-defined]
            assert len(await other.claim("broker", limit=10, lease=60)) == 1  # ...then freed at once

        run(scenario())

    def test_an_expired_lease_is_freed_and_renew_tells_what_is_lost(
        self, make_outbox: Callable[..., Outbox]
    ) -> None:
        first, second = make_outbox(), make_outbox()

        async def scenario() -> None:
            await first.put([entity(1), entity(2)])
            claimed = await first.claim("broker", limit=1, lease=-1)  # already expired
            assert len(await first.renew("broker", claimed, lease=60)) == 1
            await first._run(True, lambda tx: tx.run("UPDATE deliveries SET lease_until = 0"))  # type: ignore[attr-defined]
            stolen = await second.claim("broker", limit=10, lease=60)
            assert {e.entity_id for e in stolen} == {"urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"}
            assert await first.renew("broker", claimed, lease=60) == []

        run(scenario())

    def test_release_keeps_the_attempts(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            await outbox.put([entity(1)])
            (claimed,) = await outbox.claim("broker", limit=10, lease=60)
            import dataclasses

            await outbox.release("broker", [dataclasses.replace(claimed, attempts=3)], error="503")
            (again,) = await outbox.claim("broker", limit=10, lease=60)
            assert again.attempts == 3 and again.first_attempt is not None

        run(scenario())

    def test_dead_letters_replay_and_purge(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()
        problem = {
            "type": "https://uri.etsi.org/ngsi-ld/errors/BadRequestData",
            "title": "Invalid",
            "status": 400,
        }

        async def scenario() -> None:
            await outbox.put([entity(1, 1), entity(2, 1)], feed="f")
            claimed = await outbox.claim("broker", limit=10, lease=60)
            await outbox.dead_letter("broker", [(entry, problem) for entry in claimed], attempts=2)
            letters = await outbox.dead_letters(sink="broker")
            assert [(d.entity_id, d.reason, d.attempts, d.feed) for d in letters] == [
                ("urn:ngsi-ld:Sensor:1", problem, 2, "f"),
                ("urn:ngsi-ld:Sensor:2", problem, 2, "f"),
            ]
            assert (await outbox.dead_letter_entry(letters[0].id)).data == entity(1, 1)  # type: ignore[union-attr]
            # sensor 1 gets a newer version delivered: replaying the old one would go back in time
            await outbox.put([entity(1, 2)])
            await outbox.ack("broker", await outbox.claim("broker", limit=10, lease=60))
            result = await outbox.replay(sink="broker")
            assert (result.replayed, result.stale) == (1, 1)
            (replayed,) = await outbox.claim("broker", limit=10, lease=60)
            assert replayed.entity == entity(2, 1)
            assert (await outbox.replay([letters[0].id], force=True)).replayed == 1
            assert await outbox.purge(sink="broker") == 0
            assert await outbox.dead_letters() == []

        run(scenario())

    def test_rejected_records_are_kept_once(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()

        def error() -> TransformError:
            return TransformError("not a number", record=3, field="t", source="in.json", data={"t": "x"})

        async def scenario() -> None:
            assert await outbox.reject([error()], feed="f") == 1
            assert await outbox.reject([error()], feed="f") == 0  # the feed synced again
            (letter,) = await outbox.dead_letters(sink=TRANSLATE)
            assert letter.data == {"t": "x"}
            assert letter.reason == {
                "type": "transform", "detail": "not a number", "record": 3, "field": "t", "source": "in.json"
            }  # fmt: skip
            assert (await outbox.replay([letter.id])).skipped == 1
            assert await outbox.purge([letter.id]) == 1

        run(scenario())

    def test_a_dead_letter_filter_selects_by_sink_feed_type_and_tenant(
        self, make_outbox: Callable[..., Outbox]
    ) -> None:
        outbox = make_outbox(sinks=("broker", "graph"))
        bad = {
            "type": "https://uri.etsi.org/ngsi-ld/errors/BadRequestData",
            "title": "Invalid",
            "status": 400,
        }
        gone = {
            "type": "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound",
            "title": "Gone",
            "status": 404,
        }

        def error(record: int) -> TransformError:
            return TransformError("not a number", record=record, field="t", data={"t": f"x{record}"})

        async def refuse(sink: str, reason: dict[str, Any]) -> None:
            claimed = await outbox.claim(sink, limit=10, lease=60)
            await outbox.dead_letter(sink, [(entry, reason) for entry in claimed])

        async def scenario() -> None:
            await outbox.put([entity(1)], tenant="porto", feed="buses")
            await outbox.put([entity(2)], feed="parking")  # the default tenant: stored without one
            await refuse("broker", bad)
            await refuse("graph", gone)
            await outbox.reject([error(1)], feed="buses")  # a tenant only through its feed
            await outbox.reject([error(2)], feed="weather", tenant="porto")
            feeds = {"buses": "porto", "parking": ""}
            porto = DeadLetterFilter(tenants=frozenset({"porto"}), feed_tenants=feeds)
            default = DeadLetterFilter(tenants=frozenset({"", "default"}), feed_tenants=feeds)

            async def selected(where: DeadLetterFilter) -> list[tuple[str, str | None, Any]]:
                return [
                    (d.sink, d.feed, d.entity_id or d.data["t"])
                    for d in await outbox.dead_letters(where=where)
                ]

            assert await selected(porto) == [
                ("broker", "buses", "urn:ngsi-ld:Sensor:1"),
                ("graph", "buses", "urn:ngsi-ld:Sensor:1"),
                (TRANSLATE, "buses", "x1"),
                (TRANSLATE, "weather", "x2"),
            ]
            assert await selected(default) == [
                ("broker", "parking", "urn:ngsi-ld:Sensor:2"),
                ("graph", "parking", "urn:ngsi-ld:Sensor:2"),
            ]
            assert await selected(replace(porto, sink="graph")) == [
                ("graph", "buses", "urn:ngsi-ld:Sensor:1")
            ]
            assert await selected(replace(porto, type="transform", feed="weather")) == [
                (TRANSLATE, "weather", "x2")
            ]
            assert await selected(replace(default, type=bad["type"])) == [
                ("broker", "parking", "urn:ngsi-ld:Sensor:2")
            ]
            counts = await outbox.dead_letter_counts(porto)
            assert counts.count == 4
            assert counts.facets == {
                "sink": {"broker": 1, "graph": 1, TRANSLATE: 2},
                "feed": {"buses": 3, "weather": 1},
                "type": {bad["type"]: 1, gone["type"]: 1, "transform": 2},
            }
            assert (
                counts.narrowed(sink=TRANSLATE) == 2 and counts.narrowed(feed="buses", type="transform") == 1
            )
            assert counts.narrowed(sink="graph", type=bad["type"]) == 0
            assert (await outbox.dead_letter_counts()).count == 6
            assert (await outbox.dead_letter_counts(replace(default, feed="buses"))).count == 0

            # Ids outside the filter are not touched: a tenant cannot reach another's letters by id.
            others = [d.id for d in await outbox.dead_letters(where=default)]
            assert (await outbox.replay(others, where=porto)).replayed == 0
            assert await outbox.purge(others, where=porto) == 0
            result = await outbox.replay(where=replace(porto, sink="broker"))
            assert (result.replayed, result.stale, result.skipped) == (1, 0, 0)
            (entry,) = await outbox.claim("broker", limit=10, lease=60)
            assert (entry.tenant, entry.entity) == ("porto", entity(1))
            result = await outbox.replay(where=porto)  # rejected records are translated again, not replayed
            assert (result.replayed, result.skipped) == (1, 2)
            assert await selected(porto) == [(TRANSLATE, "buses", "x1"), (TRANSLATE, "weather", "x2")]
            assert await outbox.purge(where=replace(porto, feed="weather")) == 1
            assert await selected(porto) == [(TRANSLATE, "buses", "x1")]
            assert len(await outbox.dead_letters(where=default)) == 2

        run(scenario())

    def test_dead_letters_are_paged_in_order(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            await outbox.reject(
                [TransformError("bad", record=n, data={"n": n}) for n in range(5)], feed="f", tenant="a"
            )
            where = DeadLetterFilter(tenants=frozenset({"a"}))
            pages = [await outbox.dead_letters(where=where, limit=2, offset=o) for o in (0, 2, 4)]
            assert [[d.data["n"] for d in page] for page in pages] == [[0, 1], [2, 3], [4]]
            assert await outbox.dead_letters(where=DeadLetterFilter(tenants=frozenset({"b"}))) == []
            assert await outbox.dead_letters(where=DeadLetterFilter(ids=())) == []

        run(scenario())

    def test_each_sink_has_its_own_queue(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox(sinks=("broker", "graph"))

        async def scenario() -> None:
            await outbox.put([entity(1)])
            await outbox.ack("broker", await outbox.claim("broker", limit=10, lease=60))
            assert await outbox.pending("broker") == 0 and await outbox.pending("graph") == 1
            (entry,) = await outbox.claim("graph", limit=10, lease=60)
            assert entry.entity == entity(1)
            await outbox.ack("graph", [entry])
            assert {s.sink: s.delivered for s in await outbox.status()} == {"broker": 1, "graph": 1}

        run(scenario())

    def test_tenants_are_separate_keys(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            await outbox.put([entity(1, 1)], tenant="a")
            await outbox.put([entity(1, 2)], tenant="b")
            claimed = await outbox.claim("broker", limit=10, lease=60)
            assert sorted((e.tenant, e.entity["v"]["value"]) for e in claimed) == [("a", 1), ("b", 2)]

        run(scenario())

    def test_each_call_is_a_fixed_number_of_statements(
        self, make_outbox: Callable[..., Outbox], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Heartbeats run their own transactions, on a thread of their own: none falls in this test.
        outbox = make_outbox(liveness=3600)
        statements: list[str] = []
        for name in ("run", "rows", "many"):
            method = getattr(Tx, name)

            def counted(tx: Tx, text: str, params: Any = (), *, _method: Any = method) -> Any:
                statements.append(text)
                return _method(tx, text, params)

            monkeypatch.setattr(Tx, name, counted)

        async def costs(count: int, version: int) -> dict[str, int]:
            spent: dict[str, int] = {}
            for step in ("put", "claim", "ack"):
                statements.clear()
                if step == "put":
                    await outbox.put([entity(n, version) for n in range(count)])
                elif step == "claim":
                    claimed = await outbox.claim("broker", limit=count, lease=60)
                    assert len(claimed) == count
                else:
                    await outbox.ack("broker", claimed)
                spent[step] = len(statements)
            return spent

        async def scenario() -> None:
            await costs(5, 0)  # the first calls also create what later ones reuse
            assert await costs(10, 1) == await costs(1000, 2)

        run(scenario())

    def test_a_claimed_entry_carries_the_stored_json(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            await outbox.put([{"type": "Sensor", "id": "urn:ngsi-ld:Sensor:1", "b": 1, "a": 2}])
            (claimed,) = await outbox.claim("broker", limit=10, lease=60)
            assert claimed.body == orjson.dumps(claimed.entity, option=orjson.OPT_SORT_KEYS)
            assert orjson.loads(claimed.body) == {
                "type": "Sensor",
                "id": "urn:ngsi-ld:Sensor:1",
                "b": 1,
                "a": 2,
            }

        run(scenario())

    def test_a_store_of_another_schema_version_is_refused(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()
        run(outbox._run(True, lambda tx: tx.run("UPDATE meta SET value = ?", (str(VERSION + 1),))))  # type: ignore[attr-defined]
        with pytest.raises(ConfigError, match=f"schema {VERSION + 1}"):
            make_outbox()

    def test_two_workers_drain_one_outbox_in_order_per_id(self, make_outbox: Callable[..., Outbox]) -> None:
        producer, worker_a, worker_b = make_outbox(), make_outbox(), make_outbox()
        double = BrokerDouble()
        double.faults.latency = 0.002

        async def scenario() -> None:
            settings = DrainSettings(batch_size=15, concurrency=2, retry=FAST, poll=0.005)
            async with (
                BrokerClient("http://orion", transport=double.transport()) as client_a,
                BrokerClient("http://orion", transport=double.transport()) as client_b,
            ):
                drainers = [Drainer(worker_a, client_a, settings), Drainer(worker_b, client_b, settings)]
                tasks = [asyncio.create_task(d.run(until_empty=False)) for d in drainers]
                for version in range(1, 6):
                    await producer.put([entity(number, version) for number in range(60)])
                    await asyncio.sleep(0.02)
                while await producer.pending("broker"):
                    await asyncio.sleep(0.01)
                for drainer in drainers:
                    drainer.stop()
                stats = await asyncio.gather(*tasks)
            assert all(s.delivered > 0 for s in stats), "both workers took part"

        run(scenario())
        assert {e["id"]: e["v"]["value"] for e in double.entities().values()} == {
            f"urn:ngsi-ld:Sensor:{n}": 5 for n in range(60)
        }
        seen: dict[str, int] = {}
        for _, entity_id, sent in double.writes:
            assert sent["v"]["value"] >= seen.get(entity_id, 0), f"{entity_id} went back in time"
            seen[entity_id] = sent["v"]["value"]
        assert double.duplicate_ids == 0

    # --- partial versions (merge) and history -------------------------------------------------

    def test_a_partial_version_is_merged_into_the_waiting_one(
        self, make_outbox: Callable[..., Outbox]
    ) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            full = {**entity(1, 1), "w": {"type": "Property", "value": "full"}}
            await outbox.put([full], policy=MERGE)
            result = await outbox.put([entity(1, 2)], policy=MERGE)  # only ``v``: ``w`` must stay
            assert (result.queued, result.merged, result.superseded) == (0, 1, 0)
            assert (await outbox.put([entity(1, 2)], policy=MERGE)).unchanged == 1
            (claimed,) = await outbox.claim("broker", limit=10, lease=60)
            assert (claimed.entity["v"]["value"], claimed.entity["w"]["value"]) == (2, "full")
            assert claimed.policy == MERGE
            await outbox.ack("broker", [claimed])
            (status,) = await outbox.status()
            assert (status.delivered, status.merged, status.superseded) == (1, 1, 0)

        run(scenario())

    def test_a_whole_state_supersedes_a_waiting_partial_one(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            await outbox.put([{**entity(1, 1), "w": {"type": "Property", "value": "w"}}], policy=MERGE)
            result = await outbox.put([entity(1, 2)])
            assert (result.queued, result.superseded) == (1, 1)
            (claimed,) = await outbox.claim("broker", limit=10, lease=60)
            assert "w" not in claimed.entity and claimed.policy == REPLACE
            # and a partial version after a waiting whole one completes it, as a whole state
            await outbox.ack("broker", [claimed])
            await outbox.put([entity(1, 3)])
            await outbox.put([{"id": entity(1)["id"], "type": "Sensor", "w": {"type": "Property", "value": 9}}],
                             policy=MERGE)  # fmt: skip
            (claimed,) = await outbox.claim("broker", limit=10, lease=60)
            assert (claimed.entity["v"]["value"], claimed.entity["w"]["value"], claimed.policy) == (
                3,
                9,
                REPLACE,
            )

        run(scenario())

    def test_partial_versions_in_one_put_are_merged_newest_last(
        self, make_outbox: Callable[..., Outbox]
    ) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            sensor = entity(1)["id"]
            parts = [
                {"id": sensor, "type": "Sensor", "a": {"type": "Property", "value": 1}},
                {"id": sensor, "type": "Sensor", "b": {"type": "Property", "value": 2}},
                {"id": sensor, "type": "Sensor", "a": {"type": "Property", "value": 3}},
            ]
            result = await outbox.put(parts, policy=MERGE)
            assert (result.queued, result.merged) == (1, 2)
            (claimed,) = await outbox.claim("broker", limit=10, lease=60)
            assert (claimed.entity["a"]["value"], claimed.entity["b"]["value"]) == (3, 2)

        run(scenario())

    def test_history_versions_are_never_superseded(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()
        history = UpdatePolicy(history=True, keep=86400.0)

        async def scenario() -> None:
            await outbox.put([entity(1, 1), entity(1, 2)], policy=history)
            result = await outbox.put([entity(1, 3)], policy=history)
            assert (result.queued, result.superseded) == (1, 0)
            claimed = await outbox.claim("broker", limit=10, lease=60)
            assert [e.entity["v"]["value"] for e in claimed] == [1, 2, 3]
            assert {e.policy for e in claimed} == {history}
            # a later whole state does not reach back past them
            await outbox.release("broker", claimed)
            await outbox.put([entity(1, 4)])
            claimed = await outbox.claim("broker", limit=10, lease=60)
            assert [e.entity["v"]["value"] for e in claimed] == [1, 2, 3, 4]

        run(scenario())

    def test_a_replayed_dead_letter_keeps_its_policy(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            await outbox.put([entity(1, 1)], policy=MERGE)
            claimed = await outbox.claim("broker", limit=10, lease=60)
            await outbox.dead_letter("broker", [(claimed[0], {"type": "x"})])
            assert (await outbox.replay()).replayed == 1
            (again,) = await outbox.claim("broker", limit=10, lease=60)
            assert again.policy == MERGE

        run(scenario())

    def test_the_drainer_sends_history_in_order_and_partial_versions_with_update(
        self, make_outbox: Callable[..., Outbox]
    ) -> None:
        outbox = make_outbox()
        double = BrokerDouble()

        async def scenario() -> None:
            await outbox.put([entity(1, v) for v in range(1, 6)], policy=UpdatePolicy(history=True))
            await outbox.put([entity(2, 1)], policy=MERGE)
            async with BrokerClient("http://orion", transport=double.transport()) as client:
                await Drainer(outbox, client, DrainSettings(retry=FAST)).run()

        run(scenario())
        sent = [w[2]["v"]["value"] for w in double.writes if w[1] == entity(1)["id"]]
        assert sent == [1, 2, 3, 4, 5]
        assert double.upsert_options.count("update") == 1  # the partial one, alone in its request
        assert double.upsert_options.count("replace") == 5  # one request per history version
        assert double.duplicate_ids == 0

    @pytest.mark.parametrize("version", [2, 3])
    def test_a_store_of_an_earlier_schema_is_migrated_with_its_entries(
        self, make_outbox: Callable[..., Outbox], version: int
    ) -> None:
        outbox = make_outbox()
        postgres = outbox.__class__.__name__.startswith("Postgres")

        def downgrade(tx: Tx) -> None:
            # Schema 3: no ordering keys, tokens, tops, nor counters per writer.
            for table, column in (("deliveries", "ordering"), ("deliveries", "token"), ("heads", "ordering"),
                                  ("dead_letters", "ordering")):  # fmt: skip
                tx.run(f"ALTER TABLE {table} DROP COLUMN {column}")
            tx.run("DROP TABLE tops")
            tx.run(
                "CREATE TABLE counters_4 AS SELECT sink, name, SUM(value) AS value FROM counters GROUP BY sink, name"
            )
            tx.run("DROP TABLE counters")
            tx.run("CREATE TABLE counters (sink TEXT NOT NULL, name TEXT NOT NULL, value BIGINT NOT NULL,"
                   " PRIMARY KEY (sink, name))")  # fmt: skip
            tx.run("INSERT INTO counters SELECT sink, name, value FROM counters_4")
            tx.run("DROP TABLE counters_4")
            if postgres:
                tx.run("INSERT INTO counters VALUES ('', 'seq', (SELECT last_value FROM entry_seq))")
                tx.run("DROP SEQUENCE entry_seq")
            if version == 2:
                for table, column in (("deliveries", "policy"), ("dead_letters", "policy"),
                                      ("deliveries", "observed"), ("heads", "observed")):  # fmt: skip
                    tx.run(f"ALTER TABLE {table} DROP COLUMN {column}")
            tx.run("UPDATE meta SET value = ?", (str(version),))

        run(outbox.put([entity(1, 1), entity(2, 1)]))
        run(outbox.ack("broker", run(outbox.claim("broker", limit=1, lease=60))))
        run(outbox.put([entity(1, 2)]))
        run(outbox._run(True, downgrade))  # type: ignore[attr-defined]
        run(outbox.close())
        again = make_outbox()
        claimed = run(again.claim("broker", limit=10, lease=60))
        assert sorted((e.entity["v"]["value"], e.policy) for e in claimed) == [(1, REPLACE), (2, REPLACE)]
        run(again.ack("broker", claimed))
        # what was stored and delivered keeps its place: numbers go on, and the counters too
        assert run(again.put([entity(3, 1)])).queued == 1
        (new,) = run(again.claim("broker", limit=10, lease=60))
        assert new.seq > max(e.seq for e in claimed)
        (status,) = run(again.status())
        assert status.delivered == 3

    def test_history_read_again_after_a_crash_queues_only_what_is_new(
        self, make_outbox: Callable[..., Outbox]
    ) -> None:
        outbox = make_outbox()
        history = UpdatePolicy(history=True)

        def at(hour: int) -> dict[str, Any]:
            sensor = entity(1, hour)
            sensor["v"]["observedAt"] = f"2024-05-01T{hour:02d}:00:00Z"
            return sensor

        async def scenario() -> None:
            await outbox.put([at(hour) for hour in range(5)], policy=history)
            claimed = await outbox.claim("broker", limit=10, lease=60)
            await outbox.ack("broker", claimed[:3])
            await outbox.release("broker", claimed[3:])
            result = await outbox.put([at(hour) for hour in range(10)], policy=history)  # the file again
            assert (result.queued, result.unchanged) == (5, 5)
            claimed = await outbox.claim("broker", limit=20, lease=60)
            assert [e.entity["v"]["value"] for e in claimed] == list(range(3, 10))

        run(scenario())
