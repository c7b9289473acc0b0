"""Versions never go backwards, and no worker can stop the others: the outbox's ordering keys,
stale versions, leases, watchdog and fencing, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contextbridge import Outbox, OutboxError, UpdatePolicy, open_outbox
from contextbridge.outbox import DeadLetterFilter
from contextbridge.outbox.ordering import STALE, ordering_key

T = TypeVar("T")


def reading(number: int, minute: int, value: Any = None) -> dict[str, Any]:
    """A version of sensor ``number`` observed at ``minute`` past 10:00."""
    return {
        "id": f"urn:ngsi-ld:Sensor:{number}",
        "type": "Sensor",
        "v": {
            "type": "Property",
            "value": minute if value is None else value,
            "observedAt": f"2026-11-25T{10 + minute // 60:02d}:{minute % 60:02d}:00Z",
        },
    }


@pytest.fixture(params=["sqlite", "postgres"])
def make_outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Outbox]]:
    opened: list[Outbox] = []
    schema = f"cb_test_{uuid.uuid4().hex[:12]}"
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    counter = [0]

    def make(*, fresh: bool = False, **options: Any) -> Outbox:
        if fresh:  # a store of its own (hypothesis examples)
            counter[0] += 1
        place = url if url else str(tmp_path / f"state-{counter[0]}")
        outbox = open_outbox(place, schema=f"{schema}_{counter[0]}", **options)
        opened.append(outbox)
        return outbox

    yield make
    for outbox in opened:
        asyncio.run(outbox.close())
    if url:
        with psycopg.connect(url, autocommit=True) as connection:
            for number in range(counter[0] + 1):
                connection.execute(f'DROP SCHEMA IF EXISTS "{schema}_{number}" CASCADE')


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 60))


async def retried(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, again after each ``OutboxError`` (a connection the server ended), a few times."""
    for _ in range(6):
        try:
            return await call()
        except OutboxError:
            await asyncio.sleep(0.05)
    return await call()


async def drain(outbox: Outbox, sink: str = "broker") -> list[tuple[str, int]]:
    """Claim and ack until nothing is left; the (id, value) of each entry acked, in ack order."""
    sent: list[tuple[str, int]] = []
    while claimed := await outbox.claim(sink, limit=50, lease=60):
        sent += [
            (entry.entity_id, entry.entity["v"]["value"]) for entry in sorted(claimed, key=lambda e: e.seq)
        ]
        await outbox.ack(sink, claimed)
    return sent


def test_the_ordering_key_is_observed_at_else_date_observed_else_the_time_stored() -> None:
    assert ordering_key(reading(1, 5), now=1.0) == ordering_key(reading(2, 5), now=2.0) > 1e9
    dated = {
        "id": "urn:x",
        "type": "T",
        "dateObserved": {"type": "Property", "value": "2026-11-25T10:00:00Z"},
    }
    typed = {"id": "urn:x", "type": "T", "dateObserved": {"type": "Property",
             "value": {"@type": "DateTime", "@value": "2026-11-25T10:00:00Z"}}}  # fmt: skip
    assert (
        ordering_key(dated, now=1.0) == ordering_key(typed, now=1.0) == ordering_key(reading(1, 0), now=1.0)
    )
    assert ordering_key({"id": "urn:x", "type": "T", "dateObserved": "not a date"}, now=7.0) == 7.0
    assert ordering_key({"id": "urn:x", "type": "T"}, now=7.0) == 7.0


class TestOrdering:
    def test_an_older_version_than_one_delivered_is_stale_and_kept(
        self, make_outbox: Callable[..., Outbox]
    ) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            await outbox.put([reading(1, 10), reading(2, 10)], feed="f")
            assert await drain(outbox) == [("urn:ngsi-ld:Sensor:1", 10), ("urn:ngsi-ld:Sensor:2", 10)]
            result = await outbox.put([reading(1, 5), reading(2, 11)], feed="f")  # 1 comes late
            assert (result.queued, result.stale) == (1, 1)
            assert await drain(outbox) == [("urn:ngsi-ld:Sensor:2", 11)]
            (letter,) = await outbox.dead_letters(where=DeadLetterFilter(type=STALE))
            assert (letter.entity_id, letter.data["v"]["value"], letter.feed) == (
                "urn:ngsi-ld:Sensor:1",
                5,
                "f",
            )
            assert "replay with force" in letter.reason["detail"]
            assert (await outbox.dead_letter_counts(DeadLetterFilter(type=STALE))).count == 1
            (status,) = await outbox.status()
            assert (status.delivered, status.stale, status.dead_letters) == (3, 1, 1)
            # offered again (a feed read again, a message redelivered): kept once, a duplicate
            again = await outbox.put([reading(1, 5)], feed="f")
            assert (again.stale, again.unchanged) == (0, 1)
            assert len(await outbox.dead_letters()) == 1
            # replayed without force it stays; forced, it goes (an operator's explicit choice)
            assert (await outbox.replay()).stale == 1
            assert await outbox.pending("broker") == 0
            assert (await outbox.replay(force=True)).replayed == 1
            assert await drain(outbox) == [("urn:ngsi-ld:Sensor:1", 5)]

        run(scenario())

    def test_an_older_version_than_one_waiting_or_in_flight_is_stale(
        self, make_outbox: Callable[..., Outbox]
    ) -> None:
        outbox, other = make_outbox(), make_outbox()

        async def scenario() -> None:
            await outbox.put([reading(1, 10)])
            assert (await outbox.put([reading(1, 9)])).stale == 1  # waiting
            claimed = await outbox.claim("broker", limit=10, lease=60)
            assert (await other.put([reading(1, 8)])).stale == 1  # in flight, from another worker
            assert (await other.put([reading(1, 10, value=99)])).queued == 1  # equal keys keep put order
            await outbox.ack("broker", claimed)
            assert await drain(other) == [("urn:ngsi-ld:Sensor:1", 99)]

        run(scenario())

    def test_in_one_put_an_older_version_after_a_newer_one_is_stale_and_every_fate_is_counted(
        self, make_outbox: Callable[..., Outbox]
    ) -> None:
        outbox = make_outbox()

        async def scenario() -> None:
            # 1: 10 then 12 (10 superseded within the put); 2: 12 then 10 (10 is stale)
            result = await outbox.put([reading(1, 10), reading(1, 12), reading(2, 12), reading(2, 10)])
            assert (result.queued, result.superseded, result.stale) == (2, 1, 1)
            assert await drain(outbox) == [("urn:ngsi-ld:Sensor:1", 12), ("urn:ngsi-ld:Sensor:2", 12)]
            (status,) = await outbox.status()
            assert (status.delivered, status.superseded, status.stale) == (2, 1, 1)
            assert status.settled == 4  # every version stored, once

        run(scenario())

    def test_merged_partial_versions_are_ordered_too(self, make_outbox: Callable[..., Outbox]) -> None:
        outbox = make_outbox()
        merge = UpdatePolicy(merge=True)

        async def scenario() -> None:
            await outbox.put([reading(1, 10)], policy=merge)
            assert (await outbox.put([reading(1, 11)], policy=merge)).merged == 1
            assert (await outbox.put([reading(1, 3)], policy=merge)).stale == 1
            assert await drain(outbox) == [("urn:ngsi-ld:Sensor:1", 11)]
            (status,) = await outbox.status()
            assert (status.delivered, status.merged, status.stale, status.settled) == (1, 1, 1, 3)

        run(scenario())

    def test_a_thawed_worker_does_not_deliver_what_was_taken_over(
        self, make_outbox: Callable[..., Outbox], caplog: pytest.LogCaptureFixture
    ) -> None:
        frozen, other = make_outbox(liveness=0.6), make_outbox(liveness=0.6)

        async def scenario() -> None:
            await frozen.put([reading(1, 10), reading(2, 10)])
            held = await frozen.claim("broker", limit=10, lease=300)
            assert len(held) == 2
            assert await frozen.fence("broker", held) == held  # fresh: no round trip needed
            frozen._stopping.set()  # type: ignore[attr-defined]  # its heartbeat stops, as in SIGSTOP
            await asyncio.sleep(0.7)
            with caplog.at_level(logging.WARNING, logger="contextbridge.outbox"):
                taken = await other.claim("broker", limit=10, lease=300)
            assert sorted(e.entity_id for e in taken) == sorted(e.entity_id for e in held)
            owner = frozen._owner  # type: ignore[attr-defined]
            assert any(
                owner in r.getMessage() and "stopped renewing" in r.getMessage() for r in caplog.records
            )
            await other.put([reading(1, 11)])
            # thawed: it holds nothing any more, sends nothing, and its ack changes nothing (on
            # PostgreSQL the watchdog ended its sessions: a call fails once per lost connection,
            # and the next opens it again, as the drainer's retry does)
            assert await retried(lambda: frozen.fence("broker", held)) == []
            await retried(lambda: frozen.ack("broker", held))
            assert await other.pending("broker") == 3
            await other.ack("broker", taken)
            assert await drain(other) == [("urn:ngsi-ld:Sensor:1", 11)]
            status = {s.sink: s for s in await other.status()}["broker"]
            assert (status.delivered, status.reclaimed) == (3, 2)

        run(scenario())

    def test_the_heartbeat_keeps_claims_alive_past_their_liveness(
        self, make_outbox: Callable[..., Outbox]
    ) -> None:
        worker, other = make_outbox(liveness=0.6), make_outbox(liveness=0.6)

        async def scenario() -> None:
            await worker.put([reading(1, 10)])
            held = await worker.claim("broker", limit=10, lease=300)
            await asyncio.sleep(1.5)  # over twice the liveness: beats every 0.2 s keep it
            assert await other.claim("broker", limit=10, lease=300) == []
            assert await worker.fence("broker", held) == held

        run(scenario())


def test_a_frozen_transaction_delays_only_its_own_keys(postgres_url: str) -> None:
    """A worker frozen inside a transaction (here: a session holding a key's row) stops no one:
    claims skip its key, puts and claims of other keys go on, and the server ends the idle
    transaction after ``liveness``, freeing that key too."""
    schema = f"cb_test_{uuid.uuid4().hex[:12]}"

    async def scenario() -> None:
        outbox = open_outbox(postgres_url, schema=schema, liveness=1.0)
        try:
            await outbox.put([reading(n, 10) for n in range(3)])
            frozen = psycopg.connect(postgres_url, autocommit=True)
            frozen.execute(f'SET search_path TO "{schema}"')
            frozen.execute("SET idle_in_transaction_session_timeout = 1000")  # as every worker's session
            frozen.execute("BEGIN")
            frozen.execute("SELECT 1 FROM tops WHERE entity_id = 'urn:ngsi-ld:Sensor:0' FOR UPDATE")
            started = time.monotonic()
            claimed = await outbox.claim("broker", limit=10, lease=60)
            assert sorted(e.entity_id for e in claimed) == ["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]
            assert (await outbox.put([reading(5, 10)])).queued == 1
            await outbox.ack("broker", claimed)
            assert time.monotonic() - started < 0.9, "the others waited for the frozen transaction"
            await asyncio.sleep(1.5)
            late = await outbox.claim("broker", limit=10, lease=60)  # 0 freed with the ended transaction
            assert sorted(e.entity_id for e in late) == ["urn:ngsi-ld:Sensor:0", "urn:ngsi-ld:Sensor:5"]
            with pytest.raises(psycopg.Error):
                frozen.execute("SELECT 1")
            frozen.close()
        finally:
            await outbox.close()
            with psycopg.connect(postgres_url, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    run(scenario())


# --- property: random interleavings of puts and drains --------------------------------------

STEP = st.one_of(
    st.tuples(
        st.just("put"),
        st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20)), min_size=1, max_size=6),
        st.sampled_from(["replace", "merge"]),
        st.integers(0, 1),  # which worker
    ),
    st.tuples(st.just("drain"), st.integers(1, 4), st.sampled_from(["ack", "release"]), st.integers(0, 1)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=12))
def test_every_version_has_one_fate_and_none_is_delivered_out_of_order(
    make_outbox: Callable[..., Outbox], steps: list[tuple[Any, ...]]
) -> None:
    first = make_outbox(fresh=True)
    workers = [first, make_outbox()]  # two workers on one store

    async def scenario() -> None:
        stored = 0
        delivered: dict[str, list[int]] = {}
        for step in steps:
            worker = workers[step[-1]]
            if step[0] == "put":
                policy = UpdatePolicy(merge=step[2] == "merge")
                result = await worker.put([reading(n, minute) for n, minute in step[1]], policy=policy)
                stored += len(step[1]) - result.unchanged  # each version given is stored, or unchanged
            else:
                claimed = await worker.claim("broker", limit=step[1], lease=60)
                if step[2] == "release":
                    await worker.release("broker", claimed)
                    continue
                for entry in sorted(claimed, key=lambda e: e.seq):
                    delivered.setdefault(entry.entity_id, []).append(entry.entity["v"]["value"])
                await worker.ack("broker", claimed)
        for entry_id, value in await drain(first):
            delivered.setdefault(entry_id, []).append(value)
        (status,) = await first.status()
        assert status.pending == 0
        assert status.settled == stored, status
        for entity_id, values in delivered.items():
            assert values == sorted(values), f"{entity_id} went back in time: {values}"

    run(scenario())
    for worker in workers:
        run(worker.close())


def test_the_dlq_command_lists_the_stale_versions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from contextbridge.cli import app

    async def scenario() -> None:
        outbox = open_outbox(tmp_path)
        try:
            await outbox.put([reading(1, 10)])
            await drain(outbox)
            await outbox.put([reading(1, 4), reading(2, 1)])
        finally:
            await outbox.close()

    run(scenario())
    listed = CliRunner().invoke(
        app, ["dlq", "list", "--type", "stale", "--state", str(tmp_path), "--format", "json"]
    )
    assert listed.exit_code == 0, listed.output
    (letter,) = orjson.loads(listed.stdout)
    assert (letter["entity_id"], letter["reason"]["type"]) == ("urn:ngsi-ld:Sensor:1", STALE)
    replayed = CliRunner().invoke(app, ["dlq", "replay", "--sink", "broker", "--state", str(tmp_path)])
    assert replayed.exit_code == 0 and "stale 1" in replayed.output


def test_the_watchdog_ends_the_sessions_of_a_silent_worker(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker frozen inside a pipelined transaction is not idle to the server, which would keep
    its row locks for the whole freeze: once its heartbeat is ``liveness`` late, another worker's
    watchdog ends its sessions, and the locks go with them."""
    schema = f"cb_test_{uuid.uuid4().hex[:12]}"

    def sessions(owner: str) -> int:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            row = connection.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = %s", (owner,)
            ).fetchone()
        return int(row[0]) if row else 0

    async def scenario() -> None:
        silent = open_outbox(postgres_url, schema=schema, liveness=0.6)
        other = open_outbox(postgres_url, schema=schema, liveness=0.6)
        try:
            await silent.put([reading(1, 10)])
            await other.put([reading(2, 10)])
            owner = silent._owner  # type: ignore[attr-defined]
            assert sessions(owner) >= 4
            silent._stopping.set()  # type: ignore[attr-defined]  # it stops beating, as when frozen
            with caplog.at_level(logging.WARNING, logger="contextbridge.outbox"):
                deadline = time.monotonic() + 5
                while sessions(owner) and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
            assert sessions(owner) == 0
            assert any(
                owner in r.getMessage() and "stopped beating" in r.getMessage() for r in caplog.records
            )
        finally:
            for outbox in (silent, other):
                with contextlib.suppress(OutboxError):
                    await outbox.close()
            with psycopg.connect(postgres_url, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    run(scenario())
