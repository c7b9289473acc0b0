"""What a mapping author is told: a records path that matches nothing, a CSV read with the wrong
delimiter, golden-sample changes named by entity id, schema errors in words."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from contextbridge import FormatError, MappingError, get_format, load_mapping
from contextbridge.authoring.golden import describe_changes, run_samples
from contextbridge.cli import app

runner = CliRunner()

GBFS = b'{"last_updated": 1796364000, "ttl": 60, "version": "2.3", "data": {"stations": []}}'


@pytest.mark.parametrize(
    ("path", "document", "reason"),
    [
        (
            "stations[*]",
            GBFS,
            "records path 'stations[*]' matched nothing; the top level has keys last_updated, ttl, version, data",
        ),
        ("data.station[*]", GBFS, "records path 'data.station[*]' matched nothing; 'data' has keys stations"),
        ("data[*]", GBFS, "records path 'data[*]' matched nothing: 'data' is an object, not a list"),
        ("items[*].x[*]", b'{"items": [{"y": 1}]}', "matched nothing; the first item of 'items' has keys y"),
        (
            "a.b[*]",
            b"[1, 2]",
            "records path 'a.b[*]' matched nothing: the top level is a list, not an object",
        ),
    ],
)
def test_a_records_path_that_matches_nothing_says_where_it_stopped(
    path: str, document: bytes, reason: str
) -> None:
    [error] = list(get_format("json", {"records": path}).parse(io.BytesIO(document), source="feed.json"))
    assert isinstance(error, FormatError)
    assert reason in str(error) and "feed.json" in str(error)


@pytest.mark.parametrize("document", [GBFS, b'{"data": {"stations": [{"station_id": "1"}]}}'])
def test_a_records_path_that_leads_to_a_list_is_no_error(document: bytes) -> None:
    records = list(get_format("json", {"records": "data.stations[*]"}).parse(io.BytesIO(document)))
    assert not [record for record in records if isinstance(record, FormatError)]


def test_translate_strict_fails_on_a_records_path_that_matches_nothing(tmp_path: Path) -> None:
    mapping = tmp_path / "gbfs.yaml"
    mapping.write_text(
        """\
id: gbfs
source: {format: json, records: "data.station[*]"}
entity:
  id: "urn:ngsi-ld:BikeHireDockingStation:{station_id}"
  type: BikeHireDockingStation
  attributes: {name: {from: name}}
""",
        encoding="utf-8",
    )
    feed = tmp_path / "station_information.json"
    feed.write_bytes(GBFS)
    result = runner.invoke(app, ["translate", "--strict", "-m", str(mapping), str(feed)])
    assert result.exit_code == 1
    assert "records path 'data.station[*]' matched nothing; 'data' has keys stations" in result.stderr


@pytest.mark.parametrize(
    ("options", "data", "hint"),
    [
        ({}, b"sensor_id;sensor_type;location;lat;lon;timestamp;P1;P2\n", "did you mean delimiter: ';'?"),
        ({"delimiter": ";"}, b"id,temp,hum\n1,2,3\n", "did you mean delimiter: ','?"),
        ({}, b"id\ttemp\n1\t2\n", "did you mean delimiter: '\\t'?"),
    ],
)
def test_a_csv_read_with_the_wrong_delimiter_suggests_the_right_one(
    options: dict[str, str], data: bytes, hint: str
) -> None:
    [error] = list(get_format("csv", options).parse(io.BytesIO(data)))
    assert (
        isinstance(error, FormatError) and hint in str(error) and "is one column with delimiter" in str(error)
    )


def test_a_one_column_csv_is_still_read() -> None:
    assert list(get_format("csv", {}).parse(io.BytesIO(b"sensor\n12\n"))) == [{"sensor": "12"}]


def entity(entity_id: str, value: float) -> dict[str, object]:
    return {"id": entity_id, "type": "Thing", "v": {"type": "Property", "value": value}}


def test_a_golden_diff_names_each_changed_entity_by_id() -> None:
    expected = [entity("urn:a", 1), entity("urn:b", 2), entity("urn:a", 3), entity("urn:gone", 4)]
    translated = [entity("urn:a", 1), entity("urn:b", 2.5), entity("urn:a", 30), entity("urn:new", 5)]
    text = describe_changes(expected, translated)
    assert "~ changed entity urn:b\n" in text
    assert "~ changed entity urn:a (#2)\n" in text  # the second entity of that id
    assert '-    "value": 3\n' in text and '+    "value": 30\n' in text
    assert "+ new entity urn:new\n" in text
    assert "- entity urn:gone is no longer made\n" in text
    assert "urn:a\n" not in text.replace("urn:a (#2)", "")  # the unchanged one is not mentioned
    distinct = [entity("urn:a", 1), entity("urn:b", 2)]
    assert describe_changes(distinct, [*reversed(distinct)]) == "the same entities, in another order\n"
    assert describe_changes(expected, expected) == ""


def test_update_prints_what_it_changes_before_writing(tmp_path: Path) -> None:
    feed = tmp_path / "feed.ndjson"
    feed.write_text('{"id": "1", "v": 1}\n{"id": "2", "v": 2}\n', encoding="utf-8")
    mapping = tmp_path / "feed.yaml"
    text = """\
id: feed
source: {format: ndjson}
entity:
  id: "urn:ngsi-ld:Thing:{id}"
  type: Thing
  attributes: {v: {from: v, scale: 10}}
samples:
  - {input: feed.ndjson, expected: expected/feed.ndjson}
"""
    mapping.write_text(text, encoding="utf-8")
    first = runner.invoke(app, ["test", "--update", str(mapping)])
    assert first.exit_code == 0 and "+ new entity urn:ngsi-ld:Thing:1" in first.stdout
    assert runner.invoke(app, ["test", "--update", str(mapping)]).stdout.count("unchanged") == 1
    written = (tmp_path / "expected" / "feed.ndjson").read_bytes()
    assert [orjson.loads(line)["v"]["value"] for line in written.splitlines()] == [10.0, 20.0]

    mapping.write_text(text.replace("scale: 10", "scale: 100"), encoding="utf-8")
    failed = runner.invoke(app, ["test", str(mapping)])
    assert failed.exit_code == 1 and "~ changed entity urn:ngsi-ld:Thing:2" in failed.stdout
    [result] = run_samples(load_mapping(mapping), update=True)
    assert result.ok and "~ changed entity urn:ngsi-ld:Thing:1" in result.diff
    assert b"200.0" in (tmp_path / "expected" / "feed.ndjson").read_bytes()


@pytest.mark.parametrize(
    ("entity_id", "message"),
    [
        (
            '{exp: "x"}',
            'entities[0].id: expected a URI template such as "urn:ngsi-ld:Type:{field}", or {expr:',
        ),
        ("{expr: 5}", "entities[0].id: expected a URI template"),
        ("[a]", 'got ["a"]'),
    ],
)
def test_a_wrong_id_is_explained_in_words(
    write_mapping: Callable[[str], Path], entity_id: str, message: str
) -> None:
    path = write_mapping(f"""\
        id: t
        source: {{format: json}}
        entities:
          - id: {entity_id}
            type: Thing
            attributes: {{a: {{value: 1}}}}
        """)
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    [problem] = caught.value.problems
    assert message in str(problem) and "is not valid under any of the given schemas" not in str(problem)
    assert problem.line == 4
