"""Lookup tables in mappings: declared, loaded from files, bound per entity, each miss policy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from contextbridge import ConfigError, Mapping, MappingError, TransformError, Translator, load_mapping
from contextbridge.authoring.golden import run_samples, translate_file
from contextbridge.language.lookups import LookupTable

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = "sensor,latitude,longitude,zone,street\n3101,43.46297,-3.80356,Centro,Calle Daoíz y Velarde\n"


def _mapping(
    write: Callable[..., Path],
    tmp_path: Path,
    *,
    lookup: str,
    files: dict[str, str] | None = None,
    lookups: str | None = None,
    attributes: str | None = None,
) -> Mapping:
    for name, text in (files or {"sensors.csv": INVENTORY}).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    lookups = lookups or "sensors: {csv: sensors.csv, key: sensor}"
    attributes = (
        attributes
        or """
            street:   {from: sensors.street}
            location: {geo: point, lon: sensors.longitude, lat: sensors.latitude}
            reading:  {from: value}"""
    )
    return load_mapping(
        write(f"""
        id: thin
        source: {{format: ndjson}}
        lookups:
          {lookups}
        entity:
          id: "urn:ngsi-ld:ParkingSpot:{{sensor}}"
          type: ParkingSpot
          lookup: {lookup}
          attributes:{attributes}
        """)
    )


def test_the_looked_up_row_is_read_by_paths(write_mapping: Callable[..., Path], tmp_path: Path) -> None:
    mapping = _mapping(write_mapping, tmp_path, lookup='{sensors: "{sensor}"}')
    [entity] = Translator(mapping).translate_record({"sensor": "3101", "value": 1})
    assert entity["street"]["value"] == "Calle Daoíz y Velarde"
    assert entity["location"]["value"] == {"type": "Point", "coordinates": [-3.80356, 43.46297]}


def test_the_record_is_not_changed(write_mapping: Callable[..., Path], tmp_path: Path) -> None:
    mapping = _mapping(write_mapping, tmp_path, lookup='{sensors: "{sensor}"}')
    record = {"sensor": "3101", "value": 1}
    Translator(mapping).translate_record(record)
    assert record == {"sensor": "3101", "value": 1}


def test_on_miss_skip_rejects_the_record_naming_the_lookup_and_key(
    write_mapping: Callable[..., Path], tmp_path: Path
) -> None:
    mapping = _mapping(write_mapping, tmp_path, lookup='{sensors: {key: "{sensor}", on_miss: skip}}')
    translator = Translator(mapping)
    outcomes = list(translator.translate([{"sensor": "9999", "value": 1}, {"value": 2}], source="feed"))
    assert all(isinstance(outcome, TransformError) for outcome in outcomes)
    assert str(outcomes[0]) == "feed, record 1: field 'sensor': lookup 'sensors': no row for key '9999'"
    assert str(outcomes[1]) == "feed, record 2: field 'sensor': lookup 'sensors': no row for key missing"
    assert translator.stats.reasons["transform sensor"] == 2


def test_on_miss_default_uses_the_default_row(write_mapping: Callable[..., Path], tmp_path: Path) -> None:
    lookup = '{sensors: {key: "{sensor}", on_miss: default, default: {street: "unknown street"}}}'
    mapping = _mapping(write_mapping, tmp_path, lookup=lookup)
    [entity] = Translator(mapping).translate_record({"sensor": "9999", "value": 1})
    assert entity["street"]["value"] == "unknown street"
    assert "location" not in entity


def test_on_miss_partial_emits_the_entity_without_the_enriched_attributes(
    write_mapping: Callable[..., Path], tmp_path: Path
) -> None:
    mapping = _mapping(write_mapping, tmp_path, lookup='{sensors: {key: "{sensor}", on_miss: partial}}')
    [entity] = Translator(mapping).translate_record({"sensor": "9999", "value": 7})
    assert entity == {
        "id": "urn:ngsi-ld:ParkingSpot:9999",
        "type": "ParkingSpot",
        "reading": {"type": "Property", "value": 7},
    }


def test_a_required_enriched_attribute_still_rejects_on_partial(
    write_mapping: Callable[..., Path], tmp_path: Path
) -> None:
    mapping = _mapping(
        write_mapping,
        tmp_path,
        lookup='{sensors: {key: "{sensor}", on_miss: partial}}',
        attributes="\n            street: {from: sensors.street, required: true}",
    )
    with pytest.raises(TransformError, match="attribute 'street': missing value"):
        Translator(mapping).translate_record({"sensor": "9999"})


def test_composite_keys_and_json_rows_with_numbers(
    write_mapping: Callable[..., Path], tmp_path: Path
) -> None:
    rows = [{"network": "parking", "id": 3101, "street": "A"}, {"network": "env", "id": 3101, "street": "B"}]
    mapping = _mapping(
        write_mapping,
        tmp_path,
        files={"sensors.json": json.dumps(rows)},
        lookups="sensors: {json: sensors.json, key: [network, id]}",
        lookup='{sensors: ["{net}", "{sensor}"]}',
        attributes="\n            street: {from: sensors.street}",
    )
    translate = Translator(mapping).translate_record
    assert translate({"net": "env", "sensor": 3101})[0]["street"]["value"] == "B"
    assert translate({"net": "parking", "sensor": "3101"})[0]["street"]["value"] == "A"


def test_ndjson_lookups_and_expressions_read_rows(write_mapping: Callable[..., Path], tmp_path: Path) -> None:
    mapping = _mapping(
        write_mapping,
        tmp_path,
        files={"zones.ndjson": '{"zone": "A", "rate": 2.5}\n{"zone": "B", "rate": 1.0}\n'},
        lookups="tariffs: {ndjson: zones.ndjson, key: zone}",
        lookup='{tariffs: "{zone}"}',
        attributes='\n            fee: {expr: "tariffs.rate * hours"}',
    )
    [entity] = Translator(mapping).translate_record({"sensor": "1", "zone": "A", "hours": 2})
    assert entity["fee"]["value"] == 5.0


def test_entity_when_sees_the_row(write_mapping: Callable[..., Path], tmp_path: Path) -> None:
    mapping = (
        load_mapping(
            write_mapping("""
        id: thin
        source: {format: ndjson}
        lookups:
          sensors: {csv: sensors.csv, key: sensor}
        entity:
          id: "urn:ngsi-ld:ParkingSpot:{sensor}"
          type: ParkingSpot
          lookup: {sensors: {key: "{sensor}", on_miss: partial}}
          when: "sensors.zone == 'Centro'"
          attributes:
            street: {from: sensors.street}
        """)
        )
        if (tmp_path / "sensors.csv").write_text(INVENTORY, encoding="utf-8")
        else None
    )
    assert mapping is not None
    translate = Translator(mapping).translate_record
    assert len(translate({"sensor": "3101"})) == 1
    assert translate({"sensor": "3102"}) == []


def _problems(write: Callable[..., Path], text: str) -> list[str]:
    with pytest.raises(MappingError) as caught:
        load_mapping(write(text))
    problems = sorted(caught.value.problems, key=lambda problem: problem.line or 0)
    return [f"{problem.line}: {problem.key}: {problem.message}" for problem in problems]


def test_mapping_errors_name_the_line_of_the_lookup(
    write_mapping: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "dup.csv").write_text("sensor,street\n1,A\n1,B\n", encoding="utf-8")
    (tmp_path / "nokey.csv").write_text("id,street\n1,A\n", encoding="utf-8")
    (tmp_path / "big.csv").write_text("sensor\n1\n2\n3\n", encoding="utf-8")
    problems = _problems(
        write_mapping,
        """
        id: thin
        source: {format: ndjson}
        lookups:
          missing: {csv: nowhere.csv, key: sensor}
          dup: {csv: dup.csv, key: sensor}
          nokey: {csv: nokey.csv, key: sensor}
          big: {csv: big.csv, key: sensor, max_rows: 2}
          two: {csv: dup.csv, json: dup.csv, key: sensor}
        entity:
          id: "urn:ngsi-ld:ParkingSpot:{sensor}"
          type: ParkingSpot
          lookup:
            elsewhere: "{sensor}"
            dup: {key: "{sensor}", on_miss: default}
          attributes:
            street: {from: dup.street}
        """,
    )
    assert problems[0].startswith("5: lookups.missing: cannot read lookup file")
    assert problems[1] == (
        "6: lookups.dup.key: lookup 'dup': duplicate key '1' at row 2 (set duplicates: first or last to accept)"
    )
    assert problems[2].startswith(
        "7: lookups.nokey.key: lookup 'nokey': row 1 has no key column 'sensor' (columns: id"
    )
    assert problems[3] == "8: lookups.big.max_rows: lookup 'big' has more than max_rows=2 rows"
    assert problems[4].startswith("9: lookups.two: lookup 'two' needs exactly one source of")
    assert (
        problems[5]
        == "14: entity.lookup.elsewhere: unknown lookup 'elsewhere' (declared: missing, dup, nokey, big)"
    )
    assert problems[6].startswith(
        "15: entity.lookup.dup.default: 'default' (a row) goes with on_miss: default"
    )
    assert len(problems) == 7


def test_duplicates_first_or_last(write_mapping: Callable[..., Path], tmp_path: Path) -> None:
    for policy, street in (("first", "A"), ("last", "B")):
        mapping = _mapping(
            write_mapping,
            tmp_path,
            files={"dup.csv": "sensor,street\n1,A\n1,B\n"},
            lookups=f"sensors: {{csv: dup.csv, key: sensor, duplicates: {policy}}}",
            lookup='{sensors: "{sensor}"}',
            attributes="\n            street: {from: sensors.street}",
        )
        assert Translator(mapping).translate_record({"sensor": "1"})[0]["street"]["value"] == street


def test_schema_refuses_unknown_lookup_keys_and_policies(write_mapping: Callable[..., Path]) -> None:
    problems = _problems(
        write_mapping,
        """
        id: thin
        source: {format: ndjson}
        lookups:
          sensors: {csv: s.csv, key: sensor, cache: yes}
          bad-name: {csv: s.csv, key: sensor}
        entity:
          id: "urn:ngsi-ld:ParkingSpot:{sensor}"
          type: ParkingSpot
          lookup: {sensors: {key: "{sensor}", on_miss: ignore}}
          attributes:
            street: {from: sensors.street}
        """,
    )
    assert problems[0].startswith("4: lookups: 'bad-name' does not match")
    assert problems[1].startswith("5: lookups.sensors: unknown key 'cache'")
    assert problems[2].startswith("10: entity.lookup.sensors")
    assert len(problems) == 3


def test_a_table_swap_is_whole_and_bounded() -> None:
    table = LookupTable("t", key=("k",), max_rows=2)
    table.replace([{"k": "1", "v": "a"}])
    old = table.rows
    with pytest.raises(ConfigError, match="more than max_rows=2"):
        table.replace([{"k": "1"}, {"k": "2"}, {"k": "3"}])
    assert table.rows is old and table.version == 1
    table.replace([{"k": " 2 ", "v": "b"}, {"k": 3.0, "v": "c"}])
    assert table.get("2") == {"k": " 2 ", "v": "b"} and table.get("3") == {"k": 3.0, "v": "c"}
    assert table.get("1") is None and table.version == 2


def test_repeated_values_are_held_once() -> None:
    table = LookupTable("t", key=("k",), max_rows=10)
    table.replace([{"k": str(n), "street": "".join(["Calle ", "Alta"])} for n in range(3)])
    streets = [row["street"] for row in table.rows.values()]
    assert streets == ["Calle Alta"] * 3 and streets[0] is streets[1] is streets[2]


def test_thin_parking_gives_the_entities_of_the_full_parking_feed() -> None:
    thin = load_mapping(ROOT / "mappings" / "santander-parking-thin.yaml")
    full = load_mapping(ROOT / "mappings" / "santander-parking.yaml")
    thin_entities, thin_errors = translate_file(thin, thin.samples[0].input)
    full_entities, _ = translate_file(full, full.samples[0].input)
    assert thin_entities == full_entities and len(thin_entities) == 48
    assert [str(error) for error in thin_errors][-1] == (
        "thin-parking.ndjson, record 27: field 'sensor': lookup 'sensors': no row for key '3999'"
    )
    assert all(result.ok for result in run_samples(thin))
