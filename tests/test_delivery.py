"""Delivery through the outbox to the broker double, fault by fault: each scenario ends with the
broker holding the right entities, the refused ones in the dead-letter queue, and nothing lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from broker_double import BrokerDouble

from contextbridge import BrokerClient, Drainer, DrainSettings, Outbox, OutboxError, RetryPolicy, open_outbox
from contextbridge.delivery.drainer import DeliveryStats

FAST = RetryPolicy(initial=0.001, maximum=0.02, jitter=0.001)
N = 120


def entity(number: int, version: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Sensor:{number}",
        "type": "Sensor",
        "v": {"type": "Property", "value": version},
        **extra,
    }


def values(double: BrokerDouble, tenant: str = "") -> dict[str, int]:
    return {entity_id: e["v"]["value"] for entity_id, e in double.entities(tenant).items()}


def expected(version: int = 1, count: int = N) -> dict[str, int]:
    return {f"urn:ngsi-ld:Sensor:{n}": version for n in range(count)}


Scenario = Callable[[Outbox, BrokerClient], Awaitable[Any]]


@pytest.fixture
def deliver(tmp_path: Path) -> Callable[..., Any]:
    """Run ``scenario(outbox, client)`` against ``double`` with a fresh SQLite outbox."""

    def go(double: BrokerDouble, scenario: Scenario, **client: Any) -> Any:
        async def main() -> Any:
            outbox = open_outbox(tmp_path / "state")
            try:
                async with BrokerClient("http://orion", transport=double.transport(), **client) as broker:
                    return await asyncio.wait_for(scenario(outbox, broker), 30)
            finally:
                await outbox.close()

        return asyncio.run(main())

    return go


def drain(outbox: Outbox, broker: BrokerClient, **settings: Any) -> Awaitable[DeliveryStats]:
    options: dict[str, Any] = {"batch_size": 25, "concurrency": 3, "retry": FAST, **settings}
    return Drainer(outbox, broker, DrainSettings(**options)).run()


def test_all_created_then_all_updated(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble()

    async def scenario(outbox: Outbox, broker: BrokerClient) -> tuple[DeliveryStats, DeliveryStats]:
        await outbox.put([entity(n, 1) for n in range(N)])
        created = await drain(outbox, broker)
        await outbox.put([entity(n, 2) for n in range(N)])
        return created, await drain(outbox, broker)

    created, updated = deliver(double, scenario)
    assert (created.delivered, updated.delivered) == (N, N)
    assert values(double) == expected(2)
    statuses = [status for method, path, status in double.requests if path.endswith("upsert")]
    assert set(statuses[: N // 25 + 1]) == {201} and set(statuses[N // 25 + 1 :]) == {204}


def test_207_failures_are_dead_lettered_and_successes_not_resent(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble()
    double.refuse_ids.update({"urn:ngsi-ld:Sensor:3", "urn:ngsi-ld:Sensor:40"})

    async def scenario(outbox: Outbox, broker: BrokerClient) -> Any:
        await outbox.put([entity(n) for n in range(N)] + [{"id": "urn:ngsi-ld:Sensor:bad", "type": "Sensor",
                                                           "v": {"type": "Property"}}])  # fmt: skip
        stats = await drain(outbox, broker)
        return stats, await outbox.dead_letters(sink="broker"), await outbox.pending("broker")

    stats, letters, pending = deliver(double, scenario)
    assert (stats.delivered, stats.dead_lettered, pending) == (N - 2, 3, 0)
    assert {letter.entity_id for letter in letters} == {
        "urn:ngsi-ld:Sensor:3", "urn:ngsi-ld:Sensor:40", "urn:ngsi-ld:Sensor:bad"
    }  # fmt: skip
    bad = next(letter for letter in letters if letter.entity_id.endswith("bad"))
    assert bad.reason["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert "missing /value/" in bad.reason["title"]
    assert bad.data["id"] == "urn:ngsi-ld:Sensor:bad"
    assert len(double.writes) == N - 2  # one write each: the successes of a 207 are not sent again
    assert sum(1 for _, path, _ in double.requests if path.endswith("upsert")) == 5


def test_whole_batch_refusals_are_isolated_then_dead_lettered(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble(multiservice=False)  # refuses NGSILD-Tenant: every request 400

    async def scenario(outbox: Outbox, broker: BrokerClient) -> Any:
        await outbox.put([entity(n) for n in range(10)], tenant="santander")
        stats = await drain(outbox, broker, batch_size=10, concurrency=1)
        letters = await outbox.dead_letters()
        double.multiservice = True  # the operator fixes the broker, then replays
        replayed = await outbox.replay(sink="broker")
        again = await drain(outbox, broker)
        return stats, letters, replayed, again

    stats, letters, replayed, again = deliver(double, scenario)
    assert (stats.delivered, stats.dead_lettered) == (0, 10)
    assert {letter.reason["title"] for letter in letters} == {"Tenant not supported"}
    assert all(letter.reason["status"] == 400 and letter.tenant == "santander" for letter in letters)
    assert (replayed.replayed, again.delivered) == (10, 10)
    assert values(double, "santander") == expected(count=10)


def test_a_single_whole_batch_refusal_loses_nothing(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble()
    double.faults.fail(1, status=400)

    stats = deliver(double, lambda outbox, broker: _put_and_drain(outbox, broker, batch_size=N))
    assert (stats.delivered, stats.dead_lettered) == (N, 0)
    assert values(double) == expected()


async def _put_and_drain(outbox: Outbox, broker: BrokerClient, **settings: Any) -> DeliveryStats:
    await outbox.put([entity(n) for n in range(N)])
    stats = await drain(outbox, broker, **settings)
    assert await outbox.pending("broker") == 0
    return stats


def test_429_retry_after_is_honoured(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble()
    double.faults.fail(1, status=429, retry_after=1)
    started = time.monotonic()
    stats = deliver(
        double, lambda outbox, broker: _put_and_drain(outbox, broker, batch_size=N, concurrency=1)
    )
    assert time.monotonic() - started >= 1.0  # the backoff alone would have waited milliseconds
    assert (stats.delivered, stats.retries) == (N, 1)
    assert values(double) == expected()


def test_503_bursts_are_retried(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble()
    double.faults.fail(7, status=503)
    double.faults.fail(2, status=502)
    stats = deliver(double, _put_and_drain)
    assert (stats.delivered, stats.retries) == (N, 9)
    assert values(double) == expected()


def test_dropped_connections_are_retried_idempotently(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble()
    double.faults.drop(3)
    stats = deliver(double, _put_and_drain)
    assert (stats.delivered, stats.retries) == (N, 3)
    assert values(double) == expected()
    assert len(double.writes) > N  # the dropped batches were applied, then sent again: same result


def test_broker_down_for_a_while_then_back(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble()
    double.faults.down_for(0.5)
    stats = deliver(double, _put_and_drain)
    assert stats.delivered == N and stats.retries >= 3
    assert values(double) == expected()


def test_a_stopped_drainer_leaves_everything_in_the_outbox(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble()
    double.faults.down_for(3600)

    async def scenario(outbox: Outbox, broker: BrokerClient) -> Any:
        await outbox.put([entity(n) for n in range(N)])
        drainer = Drainer(outbox, broker, DrainSettings(batch_size=25, retry=FAST))
        task = asyncio.create_task(drainer.run())
        await asyncio.sleep(0.2)
        drainer.stop()
        await task
        return await outbox.status()

    (status,) = deliver(double, scenario)
    assert (status.pending, status.in_flight, status.delivered) == (N, 0, 0)


def test_payloads_over_the_broker_limit_are_split(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble(max_payload=4000)  # ~40 entities: the client's byte limit is higher

    async def scenario(outbox: Outbox, broker: BrokerClient) -> Any:
        huge = entity(999, note={"type": "Property", "value": "x" * 5000})
        await outbox.put([entity(n) for n in range(N)] + [huge])
        return await drain(outbox, broker, batch_size=N + 1), await outbox.dead_letters()

    stats, letters = deliver(double, scenario)
    assert (stats.delivered, stats.dead_lettered) == (N, 1)
    assert letters[0].entity_id == "urn:ngsi-ld:Sensor:999" and letters[0].reason["status"] == 413
    assert values(double) == expected()


def test_one_version_per_id_per_batch(tmp_path: Path) -> None:
    double = BrokerDouble()

    async def main() -> DeliveryStats:
        outbox = open_outbox(tmp_path, supersede=False)
        await outbox.put([entity(n, v) for v in (1, 2, 3) for n in range(10)])
        async with BrokerClient("http://orion", transport=double.transport()) as broker:
            stats = await drain(outbox, broker, batch_size=100)
        await outbox.close()
        return stats

    stats = asyncio.run(main())
    assert double.duplicate_ids == 0
    assert (stats.delivered, stats.superseded) == (10, 20)
    assert values(double) == expected(3, count=10)


def test_versions_of_one_id_never_race_across_concurrent_batches(tmp_path: Path) -> None:
    double = BrokerDouble()
    double.faults.latency = 0.002

    async def main() -> DeliveryStats:
        outbox = open_outbox(tmp_path, supersede=False)
        await outbox.put([entity(n, v) for v in (1, 2, 3) for n in range(40)])
        async with BrokerClient("http://orion", transport=double.transport()) as broker:
            stats = await drain(outbox, broker, batch_size=7, concurrency=4)
        await outbox.close()
        return stats

    stats = asyncio.run(main())
    assert (stats.delivered + stats.superseded, double.duplicate_ids) == (120, 0)
    seen: dict[str, int] = {}
    for _, entity_id, sent in double.writes:
        assert sent["v"]["value"] >= seen.get(entity_id, 0), f"{entity_id} went back in time"
        seen[entity_id] = sent["v"]["value"]
    assert values(double) == expected(3, count=40)


def test_batches_claimed_ahead_are_renewed_or_dropped_when_their_lease_runs_short(
    deliver: Callable[..., Any],
) -> None:
    double = BrokerDouble()
    double.faults.latency = 0.03  # a batch claimed ahead waits about one request: over half the lease

    async def scenario(outbox: Outbox, broker: BrokerClient) -> Any:
        await outbox.put([entity(n) for n in range(20)])
        renewals = 0
        renew = outbox.renew

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal renewals
            renewals += 1
            return await renew(*args, **kwargs)

        outbox.renew = counted  # type: ignore[method-assign]
        stats = await drain(outbox, broker, batch_size=5, concurrency=1, lease=0.05, poll=0.01)
        return stats, renewals, await outbox.pending("broker")

    stats, renewals, pending = deliver(double, scenario)
    assert renewals > 0 and pending == 0 and stats.delivered >= 20
    assert values(double) == expected(count=20)


def test_a_limited_retry_policy_gives_back_the_entries(deliver: Callable[..., Any]) -> None:
    double = BrokerDouble()
    double.faults.fail(100, status=500)
    policy = RetryPolicy(initial=0.001, jitter=0.001, attempts=2)

    async def scenario(outbox: Outbox, broker: BrokerClient) -> Any:
        await outbox.put([entity(n) for n in range(5)])
        drainer = Drainer(outbox, broker, DrainSettings(batch_size=5, concurrency=1, retry=policy))
        task = asyncio.create_task(drainer.run())
        await asyncio.sleep(0.3)
        drainer.stop()
        await task
        (entry,) = (await outbox.claim("broker", limit=1, lease=1))[:1]
        return entry

    entry = deliver(double, scenario)
    assert entry.attempts >= 2 and entry.first_attempt is not None


class FailingOutbox:
    """An outbox whose claims or acks fail ``failures`` times (a lost database, a full
    disk) at the given moments, and otherwise pass through."""

    def __init__(self, outbox: Outbox, failures: dict[str, int]) -> None:
        self.outbox = outbox
        self.failures = dict(failures)
        self.abandoned = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.outbox, name)
        if name not in self.failures:
            return method

        async def failing(*args: Any, **kwargs: Any) -> Any:
            if self.failures[name] > 0:
                self.failures[name] -= 1
                raise OutboxError("database or disk is full", outbox="test")
            return await method(*args, **kwargs)

        return failing

    async def abandon(self, sink: str) -> int:
        freed = await self.outbox.abandon(sink)
        self.abandoned += freed
        return freed


@pytest.mark.parametrize("failing", ["claim", "ack"])
def test_a_serving_drainer_outlives_outbox_failures(deliver: Callable[..., Any], failing: str) -> None:
    """The service's drainer (until ``stop()``) waits and goes on when the outbox fails; the claims
    it lost track of are freed at once (not after their 5 minute lease), nothing is lost."""
    double = BrokerDouble()

    async def scenario(outbox: Outbox, broker: BrokerClient) -> tuple[DeliveryStats, FailingOutbox]:
        await outbox.put([entity(n, 1) for n in range(N)])
        flaky = FailingOutbox(outbox, {failing: 2})
        settings = DrainSettings(batch_size=25, concurrency=3, retry=FAST, lease=300)
        drainer = Drainer(flaky, broker, settings)  # type: ignore[arg-type]
        running = asyncio.create_task(drainer.run(until_empty=False))
        while await outbox.pending("broker") or values(double) != expected(1):
            assert not running.done(), running.exception()
            await asyncio.sleep(0.02)
        drainer.stop()
        return await running, flaky

    stats, flaky = deliver(double, scenario)
    assert values(double) == expected(1)
    assert flaky.failures[failing] == 0
    assert "database or disk is full" in (stats.last_error or "")


def test_a_drainer_run_until_empty_raises_an_outbox_failure(deliver: Callable[..., Any]) -> None:
    async def scenario(outbox: Outbox, broker: BrokerClient) -> None:
        await outbox.put([entity(n, 1) for n in range(N)])
        await Drainer(FailingOutbox(outbox, {"claim": 1}), broker, DrainSettings(retry=FAST)).run()  # type: ignore[arg-type]

    with pytest.raises(ExceptionGroup) as raised:
        deliver(BrokerDouble(), scenario)
    assert raised.group_contains(OutboxError, match="database or disk is full")
