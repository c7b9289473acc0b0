"""Loading a mapping reports every mistake, each with its file, line and key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from contextbridge import Mapping, MappingError, load_mapping

GOOD = """\
id: parking
source: {format: json, records: "resources[*]"}
entity:
  id: "urn:ngsi-ld:ParkingSpot:santander:{ayto:idSensor}"
  type: ParkingSpot
  attributes:
    status: {from: "ayto:estado", map: {"0": free, "1": occupied}}
"""


def problems_of(write_mapping: Callable[[str], Path], text: str) -> list[str]:
    with pytest.raises(MappingError) as caught:
        load_mapping(write_mapping(text))
    return [str(problem) for problem in caught.value.problems]


def test_a_good_mapping_compiles(make_mapping: Callable[[str], Mapping]) -> None:
    mapping = make_mapping(GOOD)
    assert mapping.id == "parking"
    assert [rule.type for rule in mapping.entities] == ["ParkingSpot"]
    assert [attribute.name for attribute in mapping.entities[0].attributes] == ["status"]
    assert mapping.line(("entity", "attributes", "status")) == 7


def test_an_unknown_key_is_named_with_its_line(write_mapping: Callable[[str], Path]) -> None:
    text = GOOD.replace("map:", "mapp:")
    [problem] = problems_of(write_mapping, text)
    assert problem.startswith(f"{write_mapping(text)}:7: entity.attributes.status: unknown key 'mapp'")


def test_every_mistake_is_reported_not_only_the_first(write_mapping: Callable[[str], Path]) -> None:
    text = """\
    id: "bad id"
    source: {format: json}
    entity:
      id: "urn:x:{a"
      type: Thing
      attributes:
        a: {from: x, cast: decimal}
        b: {from: y, expr: "__import__('os')"}
        c: {value: 1, from: z}
        d: {from: w, unit: FAH}
    """
    problems = problems_of(write_mapping, text)
    lines = sorted(int(problem.split(":")[1]) for problem in problems)
    assert lines[0] == 1  # the id pattern
    assert 7 in lines  # cast: decimal is not a cast
    assert len(problems) >= 2


def test_compile_errors_are_all_reported_with_lines(write_mapping: Callable[[str], Path]) -> None:
    text = """\
    id: feed
    source: {format: json}
    entity:
      id: "urn:x:{a"
      type: Thing
      attributes:
        b: {from: y, expr: "__import__('os')"}
        c: {value: 1, from: z}
        d: {from: w, unit: FAH}
        e: {from: v, unit: FAH, unitCode: GQ}
    """
    problems = problems_of(write_mapping, text)
    by_line = {int(problem.split(":")[1]): problem for problem in problems}
    assert sorted(by_line) == [4, 7, 8, 9, 10]
    assert "unbalanced '{'" in by_line[4]
    assert "entity.attributes.b" in by_line[7]
    assert "exactly one of" in by_line[8]
    assert "needs 'unitCode'" in by_line[9]
    assert "cannot convert" in by_line[10]


def test_an_unknown_format_lists_the_known_ones(write_mapping: Callable[[str], Path]) -> None:
    [problem] = problems_of(write_mapping, GOOD.replace("format: json", "format: yaml"))
    assert ":2: source.format:" in problem
    assert "csv" in problem and "senml" in problem


def test_invalid_yaml_names_the_line(write_mapping: Callable[[str], Path]) -> None:
    [problem] = problems_of(write_mapping, GOOD + "  bad: [unclosed\n")
    assert "invalid YAML" in problem


def test_a_duplicate_key_is_a_mistake(write_mapping: Callable[[str], Path]) -> None:
    [problem] = problems_of(write_mapping, GOOD + "    status: {value: x}\n")
    assert "duplicate key 'status'" in problem
    assert ":8:" in problem


def test_entity_and_entities_are_exclusive(write_mapping: Callable[[str], Path]) -> None:
    text = GOOD + "entities:\n  - {id: 'urn:x:{a}', type: Thing, attributes: {a: {from: a}}}\n"
    problems = problems_of(write_mapping, text)
    assert any("exactly one of 'entity'" in problem for problem in problems)


def test_yaml_is_loaded_safely(write_mapping: Callable[[str], Path]) -> None:
    text = GOOD.replace('"resources[*]"', "!!python/object/apply:os.system ['true']")
    [problem] = problems_of(write_mapping, text)
    assert "invalid YAML" in problem


def test_what_ngsi_ld_would_refuse_is_caught_when_the_mapping_loads(
    write_mapping: Callable[[str], Path],
) -> None:
    text = """\
    id: feed
    source: {format: json}
    entities:
      - id: "{id}"
        type: ParkingSpot
        attributes:
          location: {from: where}
          observedAt: {from: t}
          refDevice: {relationship: "device {id}"}
          status: {from: s, map: {"1": null}}
      - id: "urn:x:{id}"
        type: Parking Spot
        attributes:
          a: {from: a}
    """
    problems = problems_of(write_mapping, text)
    by_line = {int(problem.split(":")[1]): problem for problem in problems}
    assert "must start with a URI scheme" in by_line[4]
    assert "GeoProperty" in by_line[7]
    assert "reserved" in by_line[8]
    assert "must start with a URI scheme" in by_line[9]
    assert "null" in by_line[10]
    assert "invalid entity type 'Parking Spot'" in by_line[12]
