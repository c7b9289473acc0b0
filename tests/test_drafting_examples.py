"""How close a draft comes to the hand-written mappings, on every example feed (printed per feed).

For each hand-written mapping of ``mappings/`` (with a sample in ``examples/santander/`` or
``examples/vendors/``) and each entity type it produces, the sample is drafted with ``--type``
and both mappings translate it. The entities of the type are paired record by record when both
mappings read the sample as the same records, else across the whole sample (one reads a list as
records, the other as one record with ``each:``); within a record or the sample, by the key that
ends their ids (``...:santander:7`` and ``...:7``), then, for those whose ids do not agree, in the
order they appear. A hand-written entity left without a partner counts every attribute as missed. An attribute of a hand-written
entity counts as matched when the draft's entity has it with the same value (numbers within
0.1 %; a Relationship when its object names the same entity: the same type and id key, as
entities are paired). Two scores are printed per feed and type: (a) *read*, over the attributes the
hand-written mapping reads from the payload (``from``, ``geo``, ``template`` on the record, value
maps and bins included), leaving out what the integrator decides (constants, literal expressions,
computed expressions, relationships, lookups in other tables); (b) *all*, over every attribute.
The target, 80 % of (a) on every feed, is asserted per feed: the feeds short of it are listed in
``SHORT_OF_THE_TARGET`` with the reason. Run ``pytest tests/test_drafting_examples.py -s``.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from contextbridge import (
    FormatError,
    Mapping,
    RecordError,
    Translator,
    default_ontology,
    draft_mapping,
    lint_mapping,
    load_mapping,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = (ROOT / "examples" / "santander", ROOT / "examples" / "vendors")
TZ = "Europe/Madrid"  # the city's zone, one setting for every feed (as `--tz` would give it)


def example_mappings() -> list[Path]:
    found = []
    for path in sorted((ROOT / "mappings").glob("*.yaml")):
        mapping = load_mapping(path)
        if mapping.samples and any(
            s.input.resolve().is_relative_to(folder) for s in mapping.samples for folder in EXAMPLES
        ):
            found.append(path)
    return found


def entities_per_record(
    mapping: Mapping, payload: bytes, name: str, type_name: str
) -> list[list[dict[str, Any]]]:
    """The entities of ``type_name`` the mapping makes of each record of the sample."""
    translator = Translator(mapping)
    out: list[list[dict[str, Any]]] = []
    for record in mapping.source_format.parse(io.BytesIO(payload), source=name):
        try:
            entities = [] if isinstance(record, FormatError) else translator.translate_record(record)
        except RecordError:
            entities = []
        out.append([e for e in entities if e["type"] == type_name])
    return out


def units(hand: list[list[Any]], draft: list[list[Any]]) -> list[tuple[list[Any], list[Any]]]:
    """Record by record when both mappings read the sample as the same records, else the whole sample."""
    if len(hand) == len(draft):
        return list(zip(hand, draft, strict=True))
    return [([e for r in hand for e in r], [e for r in draft for e in r])]


def pairs(
    hand: list[dict[str, Any]], draft: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each hand-written entity with its drafted partner ({} for none): same id key, else in order."""

    def key(entity: dict[str, Any]) -> str:
        return str(entity["id"]).rsplit(":", 1)[-1].lower()

    by_key: dict[str, list[int]] = {}
    for index, entity in enumerate(draft):
        by_key.setdefault(key(entity), []).append(index)
    partner: dict[int, int] = {}
    for number, entity in enumerate(hand):
        if by_key.get(key(entity)):
            partner[number] = by_key[key(entity)].pop(0)
    rest = iter([draft[i] for i in sorted(i for left in by_key.values() for i in left)])
    return [(e, draft[partner[n]] if n in partner else next(rest, {})) for n, e in enumerate(hand)]


def target(entity_id: str) -> tuple[str, str]:
    """The entity a Relationship points at, as entities are paired: its type and its id's key."""
    parts = entity_id.split(":")
    return (parts[2] if len(parts) > 3 else "", parts[-1].lower())


def same(hand: Any, draft: Any) -> bool:
    if isinstance(hand, dict) and isinstance(draft, dict) and hand.get("type") == "Relationship":
        # the object names another entity: the same one when its type and key agree, as entities
        # are paired (``...:Device:santander:7`` and ``...:Device:7``)
        objects = hand.get("object"), draft.get("object")
        return all(isinstance(o, str) for o in objects) and target(objects[0]) == target(objects[1])  # type: ignore[arg-type]
    hand = hand.get("value", hand.get("object")) if isinstance(hand, dict) else hand
    draft = draft.get("value", draft.get("object")) if isinstance(draft, dict) else draft
    numbers = (int, float)
    if isinstance(hand, numbers) and isinstance(draft, numbers) and not isinstance(hand, bool):
        return math.isclose(hand, draft, rel_tol=1e-3)
    return bool(hand == draft)


_LITERAL = re.compile(r"""^\s*('[^']*'|"[^"]*"|-?\d+(\.\d+)?|\[[^\]]*\])\s*$""")


def payload_attributes(path: Path, type_name: str) -> set[str]:
    """The attributes of ``type_name`` the hand-written mapping reads from the payload itself.

    Read: ``from`` (one path or a list), ``geo``, ``template`` or an ``object`` with a member on a
    path of the record (not of a lookup table), value maps and bins included. Not read: constants, relationships, expressions, lookups, and an
    expression that is a literal even beside a ``from`` (``{from: cloro_libre, expr: "'Cl2'"}`` is
    the constant ``Cl2`` when the field is there)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    lookups = set(document.get("lookups") or {})
    names = set()
    for entity in document.get("entities") or [document["entity"]]:
        if entity["type"] != type_name:
            continue
        for name, spec in entity["attributes"].items():
            read = [spec.get("lon"), spec.get("template")]
            read += spec["from"] if isinstance(spec.get("from"), list) else [spec.get("from")]
            members = spec.get("object") if isinstance(spec.get("object"), dict) else {}
            read += [m if isinstance(m, str) else m.get("from") for m in members.values()]
            if isinstance(spec.get("expr"), str) and _LITERAL.match(spec["expr"]):
                continue
            if any(isinstance(r, str) and r.split(".")[0] not in lookups for r in read):
                names.add(name)
    return names


def score(path: Path, type_name: str) -> tuple[int, int, int, int, dict[str, int]]:
    hand = load_mapping(path)
    sample = hand.samples[0].input
    payload = sample.read_bytes()
    draft = draft_mapping(payload, name=sample.name, type_name=type_name, tz=TZ)
    drafted = load_mapping(f"{sample.stem}-draft.yaml", text=draft.text)
    assert lint_mapping(drafted, default_ontology()) == []
    from_payload = payload_attributes(path, type_name)
    total = hit = payload_total = payload_hit = 0
    missed: dict[str, int] = {}
    hand_entities = entities_per_record(hand, payload, sample.name, type_name)
    assert any(hand_entities), f"{path.name}: the hand-written mapping makes no {type_name} of its sample"
    draft_entities = entities_per_record(drafted, payload, sample.name, type_name)
    paired = [p for h, d in units(hand_entities, draft_entities) for p in pairs(h, d)]
    for entity, ours in paired:
        for name, value in entity.items():
            if name in ("id", "type", "@context"):
                continue
            ok = name in ours and same(value, ours[name])
            total, hit = total + 1, hit + ok
            if name in from_payload:
                payload_total, payload_hit = payload_total + 1, payload_hit + ok
            if not ok:
                missed[name] = missed.get(name, 0) + 1
    return hit, total, payload_hit, payload_total, missed


# Where a draft reads less than 80 % of what the hand-written mapping reads from the payload, and
# why a sample cannot say it. Kept exact: a feed that reaches 80 % must leave this list.
SHORT_OF_THE_TARGET: dict[tuple[str, str], str] = {}


def test_drafts_match_the_hand_written_mappings() -> None:
    rows, short = [], {}
    sums = [0, 0, 0, 0]
    for path in example_mappings():
        for type_name in dict.fromkeys(rule.type for rule in load_mapping(path).entities):
            hit, total, payload_hit, payload_total, missed = score(path, type_name)
            sums = [a + b for a, b in zip(sums, (hit, total, payload_hit, payload_total), strict=True)]
            if payload_hit < 0.8 * payload_total:
                short[(path.stem, type_name)] = payload_hit / payload_total
            rows.append(
                f"{path.stem:28} {type_name:22} read {payload_hit:4}/{payload_total:<4} {payload_hit / max(payload_total, 1):4.0%}"
                f"{'*' if payload_hit < 0.8 * payload_total else ' '}  "
                f"all {hit:4}/{total:<4} {hit / max(total, 1):4.0%}   missed {dict(sorted(missed.items()))}"
            )
    print("\n" + "\n".join(rows))
    hit, total, payload_hit, payload_total = sums
    print(
        f"read from the payload {payload_hit}/{payload_total} = {payload_hit / payload_total:.1%}; "
        f"all attributes {hit}/{total} = {hit / total:.1%}; "
        f"{len(rows) - len(short)} of {len(rows)} feed types at 80 % or more of what is read (* below)"
    )
    assert set(short) == set(SHORT_OF_THE_TARGET), short
    assert payload_hit / payload_total >= 0.9
    assert hit / total >= 0.7


def test_the_right_type_ranks_first() -> None:
    rows, first, primary = [], 0, 0
    paths = example_mappings()
    for path in paths:
        mapping = load_mapping(path)
        types = [rule.type for rule in mapping.entities]
        sample = mapping.samples[0].input
        ranking = draft_mapping(sample.read_bytes(), name=sample.name, tz=TZ).ranking
        top = [r.type for r in ranking[:3]]
        first += top[0] in types
        primary += top[0] == types[0]
        rows.append(
            f"{path.stem:28} {'ok ' if top[0] in types else 'NO '} ranked {top}, hand-written {types}"
        )
    print(
        "\n" + "\n".join(rows) + f"\na type of the hand-written mapping first on {first}/{len(paths)} feeds; "
        f"the type of its first entity first on {primary}/{len(paths)}"
    )
    assert first / len(paths) >= 0.8


@pytest.mark.parametrize("path", example_mappings(), ids=lambda p: p.stem)
def test_every_draft_passes_check(path: Path) -> None:
    sample = load_mapping(path).samples[0].input
    draft = draft_mapping(sample.read_bytes(), name=sample.name)
    assert lint_mapping(load_mapping("draft.yaml", text=draft.text), default_ontology()) == []
