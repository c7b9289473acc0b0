"""What a chaos scenario checks at its end: exactly the expected state in each place, nothing more.

>>> assert_broker(double, latest)                    # Orion-LD (the double): every entity, latest version
>>> await assert_graph(store, latest)                # the city graph: the same triples as a fresh load
>>> assert_dead_letters(letters, refused, latest)    # the DLQ: exactly the refused entities, with why
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from broker_double import BrokerDouble

from contextbridge.outbox import DeadLetter
from contextbridge.sinks.graph import EmbeddedStore

Entities = Mapping[str, Mapping[str, Any]]


def assert_broker(double: BrokerDouble, expected: Entities, tenant: str = "") -> None:
    """The broker holds ``expected`` (id → entity) and nothing else."""
    held = double.entities(tenant)
    missing = sorted(set(expected) - set(held))
    extra = sorted(set(held) - set(expected))
    stale = sorted(
        entity_id for entity_id in set(held) & set(expected) if held[entity_id] != expected[entity_id]
    )
    assert not (missing or extra or stale), (
        f"broker: {len(missing)} missing {missing[:5]}, {len(extra)} extra {extra[:5]}, "
        f"{len(stale)} not at their latest version {stale[:5]}"
    )


async def graph_lines(entities: Entities, tenant: str | None = None) -> list[str]:
    """The N-Triples a fresh graph holds after loading ``entities`` once (sorted)."""
    reference = EmbeddedStore()
    try:
        if entities:
            await reference.upsert(list(entities.values()), tenant=tenant)
        return sorted(reference.dump(tenant=tenant).decode().splitlines())
    finally:
        await reference.close()


async def assert_graph(store: EmbeddedStore, expected: Entities, tenant: str | None = None) -> None:
    """The tenant's graph holds exactly the triples of ``expected`` (no triple of an older version)."""
    wanted = await graph_lines(expected, tenant)
    held = sorted(store.dump(tenant=tenant).decode().splitlines())
    missing = sorted(set(wanted) - set(held))
    extra = sorted(set(held) - set(wanted))
    assert held == wanted, (
        f"graph: {len(missing)} triples missing {missing[:3]}, {len(extra)} extra {extra[:3]}"
    )


def assert_dead_letters(
    letters: Sequence[DeadLetter], reasons: Mapping[str, Mapping[str, Any]], latest: Entities
) -> None:
    """The dead letters are exactly of the entities of ``reasons`` (id → the sink's ProblemDetails),
    each with that reason, and the latest version of each is among them (older versions refused
    before it may be there too: each version was refused when it was sent)."""
    ids: set[str | None] = {letter.entity_id for letter in letters}
    assert ids == set(reasons), (
        f"dead letters: unexpected {sorted(map(str, ids - set(reasons)))[:5]}, "
        f"missing {sorted(set(reasons) - ids)[:5]}"
    )
    for letter in letters:
        assert letter.entity_id is not None
        assert letter.reason == reasons[letter.entity_id], (letter.entity_id, letter.reason)
    for entity_id in reasons:
        versions = [letter.data for letter in letters if letter.entity_id == entity_id]
        assert latest[entity_id] in versions, f"{entity_id}: its latest version is not in the dead letters"


def assert_in_order(
    double: BrokerDouble, version: Callable[[Mapping[str, Any]], Any], tenant: str = ""
) -> None:
    """No entity was ever sent back to an older version: per id, ``version(sent)`` never decreases
    along the broker's writes (at-least-once may repeat a version, never go back)."""
    seen: dict[str, Any] = {}
    for written_tenant, entity_id, sent in double.writes:
        if written_tenant != tenant:
            continue
        now = version(sent)
        assert now >= seen.get(entity_id, now), (
            f"{entity_id} went back from version {seen[entity_id]} to {now}"
        )
        seen[entity_id] = now
