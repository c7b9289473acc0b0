"""Input formats: byte streams in, records (plain dicts) out, broken records named by number."""

from __future__ import annotations

import io
import json
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contextbridge import (
    FORMATS,
    ConfigError,
    Format,
    FormatError,
    MappingError,
    OptionsError,
    get_format,
    load_mapping,
)

DATA = Path(__file__).resolve().parent / "data"
SANTANDER = DATA / "santander"
ENVIRONMENT = SANTANDER / "sensores_smart_env_monitoring_2016-04-11_excerpt.json"
SENML_EXAMPLES = DATA / "formats" / "senml" / "rfc8428_examples.json"


def parse(name: str, data: bytes, **options: Any) -> list[Any]:
    return list(get_format(name, options).parse(io.BytesIO(data), source="feed"))


def errors(items: list[Any]) -> list[FormatError]:
    return [item for item in items if isinstance(item, FormatError)]


def records(items: list[Any]) -> list[dict[str, Any]]:
    return [item for item in items if not isinstance(item, FormatError)]


# --- registry and options -------------------------------------------------------------------


def test_registry_holds_every_format_under_its_name():
    assert set(FORMATS) == {"json", "ndjson", "csv", "xml", "senml"}
    for name, cls in FORMATS.items():
        assert issubclass(cls, Format)
        assert cls.name == name


def test_unknown_format_name_is_a_config_error_listing_the_known_names():
    with pytest.raises(ConfigError) as caught:
        get_format("yaml", {})
    message = str(caught.value)
    assert "'yaml'" in message
    assert "csv, json, ndjson, senml, xml" in message


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_accepts_the_common_decimal_option(name: str):
    assert isinstance(get_format(name, {"decimal": ","}), FORMATS[name])


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_an_unknown_option_is_a_config_error_naming_it(name: str):
    with pytest.raises(ConfigError, match="unknown option 'delimeter'"):
        get_format(name, {"delimeter": ";"})


@pytest.mark.parametrize(
    ("name", "options", "key"),
    [
        ("csv", {"delimiter": ";;"}, "delimiter"),
        ("csv", {"delimiter": ""}, "delimiter"),
        ("csv", {"quotechar": 5}, "quotechar"),
        ("csv", {"delimiter": '"'}, "quotechar"),
        ("csv", {"encoding": "klingon-8"}, "encoding"),
        ("csv", {"encoding": "rot13"}, "encoding"),
        ("csv", {"header": False}, "header"),
        ("csv", {"header": ["id", "id"]}, "header"),
        ("json", {"records": "resources[0]"}, "records"),
        ("json", {"records": 'data["a.b"]'}, "records"),
        ("xml", {"records": "lights/light[@id]"}, "records"),
        ("senml", {"group": "yes"}, "group"),
    ],
)
def test_a_bad_option_value_is_a_config_error_naming_the_key_and_value(
    name: str, options: dict[str, Any], key: str
):
    with pytest.raises(ConfigError) as caught:
        get_format(name, options)
    assert f"option {key!r}" in str(caught.value)
    assert repr(options.get(key, options.get("delimiter"))) in str(caught.value)


def test_every_wrong_option_is_reported_at_once() -> None:
    with pytest.raises(OptionsError) as caught:
        get_format("csv", {"delimiter": ";;", "quotechar": 5, "encoding": "klingon-8", "colour": "red"})
    assert [key for key, _ in caught.value.problems] == ["colour", "delimiter", "quotechar", "encoding"]
    message = str(caught.value)
    assert "unknown option 'colour'" in message and "'klingon-8'" in message and "';;'" in message


def test_every_wrong_format_option_of_a_mapping_is_located_at_its_line(tmp_path: Path) -> None:
    mapping = tmp_path / "feed.yaml"
    mapping.write_text(
        "id: feed\n"
        "source:\n"
        "  format: csv\n"
        "  delimiter: ';;'\n"
        "  encoding: klingon-8\n"
        "entity:\n"
        "  id: 'urn:ngsi-ld:ParkingSpot:{id}'\n"
        "  type: ParkingSpot\n"
        "  attributes:\n"
        "    status: {from: state}\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as caught:
        load_mapping(mapping)
    located = {(problem.key, problem.line) for problem in caught.value.problems}
    assert {("source.delimiter", 4), ("source.encoding", 5)} <= located
    assert all(problem.file == str(mapping) for problem in caught.value.problems)


# --- json -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SANTANDER.glob("*.json")), ids=lambda path: path.name[:20])
def test_json_records_path_yields_each_santander_resource_in_order(path: Path):
    expected = json.loads(path.read_bytes())["resources"]
    with path.open("rb") as stream:
        got = list(get_format("json", {"records": "resources[*]"}).parse(stream, source=path.name))
    assert got == expected


def test_json_record_keys_keep_their_colons_and_values_their_strings():
    got = parse("json", ENVIRONMENT.read_bytes(), records="resources[*]")
    assert len(got) == 80
    assert got[0]["ayto:temperature"] == "16.45"
    assert got[0]["dc:modified"] == "2016-04-11T13:24:19Z"
    assert got[1]["ayto:temperature"] == ""


def test_json_without_records_gives_one_record_per_item_of_a_top_level_array():
    assert parse("json", b' [{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]
    assert parse("json", b'[{"a": 1}]', records="$") == [{"a": 1}]


def test_json_without_records_gives_a_top_level_object_as_one_record():
    assert parse("json", b'\n{"summary": {"items": 1}, "resources": []}') == [
        {"summary": {"items": 1}, "resources": []}
    ]


@pytest.mark.parametrize("path", ["data.items[*]", "$.data.items[*]"])
def test_json_records_path_reaches_nested_arrays(path: str):
    data = b'{"data": {"count": 2, "items": [{"id": "a"}, {"id": "b"}]}, "items": [{"id": "no"}]}'
    assert parse("json", data, records=path) == [{"id": "a"}, {"id": "b"}]


def test_json_records_path_with_two_wildcards_flattens_nested_arrays():
    data = b'{"pages": [{"rows": [{"n": 1}, {"n": 2}]}, {"rows": [{"n": 3}]}]}'
    assert parse("json", data, records="pages[*].rows[*]") == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_json_numbers_are_ints_and_floats_not_decimals():
    (record,) = parse("json", b'[{"i": 7, "f": 7.5, "e": 1e3, "b": true, "z": null}]')
    assert record == {"i": 7, "f": 7.5, "e": 1000.0, "b": True, "z": None}
    assert type(record["i"]) is int
    assert type(record["f"]) is float


def test_json_utf8_bom_is_skipped():
    assert parse("json", b'\xef\xbb\xbf[{"name": "Pe\xc3\xb1a"}]') == [{"name": "Peña"}]


def test_json_item_that_is_not_an_object_is_rejected_by_number_and_parsing_goes_on():
    items = parse("json", b'[{"a": 1}, 42, null, {"a": 4}]')
    assert records(items) == [{"a": 1}, {"a": 4}]
    assert [(error.record, error.source) for error in errors(items)] == [(2, "feed"), (3, "feed")]
    assert "expected an object, got int" in str(errors(items)[0])
    assert items[3] == {"a": 4}


def test_json_truncated_input_yields_the_records_before_then_one_fatal_error():
    data = ENVIRONMENT.read_bytes()
    cut = data[: len(data) // 2]
    items = parse("json", cut, records="resources[*]")
    complete = cut.count(b'"uri"')  # each resource ends with its uri
    assert len(records(items)) in (complete, complete - 1)
    assert records(items) == json.loads(data)["resources"][: len(records(items))]
    assert len(errors(items)) == 1
    assert items[-1] is errors(items)[0]
    last_line = cut.count(b"\n") + 1
    assert f"invalid JSON near line {last_line}, column" in str(items[-1])
    assert items[-1].source == "feed"


def test_json_syntax_error_names_its_line_and_column():
    items = parse("json", b'[\n {"a": 1},\n {"a": 2}\n {"a": 3}\n]')
    assert records(items) == [{"a": 1}, {"a": 2}]
    (error,) = errors(items)
    assert "invalid JSON near line 4, column 3" in error.reason
    assert "parse error" in error.reason


def test_json_invalid_utf8_is_fatal_and_names_the_byte_offset():
    items = parse("json", b'[{"a": "ok"},\n {"a": "caf\xe9"}, {"a": "never"}]')
    assert items[0] == {"a": "ok"}
    (error,) = errors(items)
    assert items[-1] is error
    assert "line 2" in error.reason
    assert "UTF8" in error.reason
    assert "(byte " in error.reason


def test_json_empty_input_is_fatal():
    (error,) = parse("json", b"  \n")
    assert isinstance(error, FormatError)
    assert "empty" in error.reason


def test_json_trailing_garbage_after_the_document_is_fatal():
    items = parse("json", b'{"a": 1} {"b": 2}')
    assert items[0] == {"a": 1}
    assert "trailing garbage" in errors(items)[0].reason


# --- ndjson ---------------------------------------------------------------------------------


def test_ndjson_gives_one_record_per_line_and_skips_blank_lines():
    data = b'{"id": "a", "v": 1.5}\n\n   \n{"id": "b", "v": 2}\r\n{"id": "c"}'
    assert parse("ndjson", data) == [{"id": "a", "v": 1.5}, {"id": "b", "v": 2}, {"id": "c"}]


def test_ndjson_bad_line_is_rejected_with_its_record_number_and_parsing_goes_on():
    items = parse("ndjson", b'{"id": 1}\n\n{"id": 2,\n{"id": 3}\n')
    assert records(items) == [{"id": 1}, {"id": 3}]
    (error,) = errors(items)
    assert error.record == 2  # the blank line does not count
    assert error.source == "feed"
    assert "line 3" in error.reason
    assert error.data == '{"id": 2,'
    assert items.index(error) == 1


def test_ndjson_line_that_is_not_an_object_is_rejected():
    items = parse("ndjson", b'[1, 2]\n"text"\n{"ok": true}\n')
    assert [error.record for error in errors(items)] == [1, 2]
    assert all("expected an object" in error.reason for error in errors(items))
    assert records(items) == [{"ok": True}]


def test_ndjson_invalid_utf8_rejects_only_its_line():
    items = parse("ndjson", b'{"a": "caf\xe9"}\n{"a": "ok"}\n')
    assert errors(items)[0].record == 1
    assert records(items) == [{"a": "ok"}]


# --- csv ------------------------------------------------------------------------------------


def test_csv_header_row_names_the_columns_and_values_stay_strings():
    data = b"id,temperature,battery\n419,16.45,67.0\n742,,73.0\n"
    assert parse("csv", data) == [
        {"id": "419", "temperature": "16.45", "battery": "67.0"},
        {"id": "742", "temperature": "", "battery": "73.0"},
    ]


def test_csv_semicolon_delimiter_keeps_decimal_comma_values_as_strings():
    data = b"sensor;temperatura;ruido\n419;7,5;71,2\n"
    assert parse("csv", data, delimiter=";", decimal=",") == [
        {"sensor": "419", "temperatura": "7,5", "ruido": "71,2"}
    ]


def test_csv_quoted_fields_may_hold_delimiters_quotes_and_line_breaks():
    data = b'id,note\n1,"a, b"\n2,"two\nlines"\n3,"say ""hi"""\n'
    assert [record["note"] for record in parse("csv", data)] == ["a, b", "two\nlines", 'say "hi"']


def test_csv_custom_quotechar():
    assert parse("csv", b"id|note\n1|'a|b'\n", delimiter="|", quotechar="'") == [{"id": "1", "note": "a|b"}]


def test_csv_header_list_names_the_columns_and_the_first_row_is_data():
    assert parse("csv", b"1,2\n3,4\n", header=["a", "b"]) == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]


def test_csv_blank_lines_are_skipped_and_not_counted():
    items = parse("csv", b"a,b\n\n1,2\n\n\n3\n4,5\n")
    assert records(items) == [{"a": "1", "b": "2"}, {"a": "4", "b": "5"}]
    assert [error.record for error in errors(items)] == [2]


def test_csv_ragged_rows_are_rejected_with_their_record_number_and_parsing_goes_on():
    items = parse("csv", b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    assert records(items) == [{"a": "1", "b": "2", "c": "3"}, {"a": "10", "b": "11", "c": "12"}]
    short, long = errors(items)
    assert (short.record, long.record) == (2, 3)
    assert "2 cells, expected 3" in short.reason
    assert "4 cells, expected 3" in long.reason
    assert "line 3" in short.reason
    assert short.data == ["4", "5"]
    assert str(short).startswith("feed, record 2:")


def test_csv_latin1_byte_in_a_utf8_file_rejects_only_its_row_and_names_the_field():
    data = b"id,calle,estado\n1,Calle Real,ok\n2," + b"Pe\xf1a" + b",ok\n3,Castelar,ok\n"
    items = parse("csv", data)
    assert [record["id"] for record in records(items)] == ["1", "3"]
    (error,) = errors(items)
    assert (error.record, error.field, error.source) == (2, "calle", "feed")
    assert "utf-8" in error.reason
    assert r"Pe\xf1a" in error.reason
    assert error.data == ["2", r"Pe\xf1a", "ok"]


@pytest.mark.parametrize(
    ("encoding", "raw", "text"),
    [("latin-1", b"Pe\xf1a", "Peña"), ("cp1252", b"5 \x80", "5 €"), ("utf-8", b"Pe\xc3\xb1a", "Peña")],
)
def test_csv_legacy_encodings_decode_their_bytes(encoding: str, raw: bytes, text: str):
    assert parse("csv", b"id,v\n1," + raw + b"\n", encoding=encoding) == [{"id": "1", "v": text}]


def test_csv_utf8_bom_does_not_stick_to_the_first_column_name():
    data = b"\xef\xbb\xbfid,v\n1,2\n"
    assert parse("csv", data) == [{"id": "1", "v": "2"}]
    assert parse("csv", data, encoding="utf-8-sig") == [{"id": "1", "v": "2"}]


def test_csv_duplicate_header_names_are_fatal():
    (error,) = parse("csv", b"id,v,v\n1,2,3\n")
    assert isinstance(error, FormatError)
    assert "'v' twice" in error.reason


def test_csv_leaves_the_callers_stream_open():
    stream = io.BytesIO(b"a\n1\n")
    assert list(get_format("csv", {}).parse(stream)) == [{"a": "1"}]
    assert not stream.closed


# --- xml ------------------------------------------------------------------------------------

LIGHTS = b"""<?xml version="1.0" encoding="UTF-8"?>
<lights xmlns="urn:city:lighting" xmlns:geo="urn:geo">
  <light id="SL-1" geo:srs="EPSG:4326">
    <district>Centro</district>
    <lamp power="70" unit="W">LED</lamp>
    <status>  on </status>
    <note/>
    <geo:pos><geo:lat>43.46</geo:lat><geo:lon>-3.80</geo:lon></geo:pos>
    <tag>street</tag><tag>led</tag><tag>2019</tag>
  </light>
  <zone name="norte">
    <light id="SL-2"><district>Norte</district></light>
  </zone>
  <light id="SL-3">burnt <fault code="7"/> out</light>
</lights>
"""


def test_xml_absolute_path_matches_only_from_the_root():
    assert [record["@id"] for record in parse("xml", LIGHTS, records="lights/light")] == ["SL-1", "SL-3"]


@pytest.mark.parametrize("path", ["//light", "light", "//zone/light"])
def test_xml_path_without_root_matches_at_any_depth(path: str):
    ids = [record["@id"] for record in parse("xml", LIGHTS, records=path)]
    assert ids == (["SL-2"] if "zone" in path else ["SL-1", "SL-2", "SL-3"])


def test_xml_without_records_each_child_of_the_root_is_a_record():
    assert [sorted(record)[0] for record in parse("xml", LIGHTS)] == [
        "@geo:srs"[:0] + "@id",
        "@name",
        "#text",
    ]


def test_xml_record_has_attributes_leaf_texts_nested_elements_and_repeated_children():
    first = parse("xml", LIGHTS, records="lights/light")[0]
    assert first == {
        "@id": "SL-1",
        "@srs": "EPSG:4326",  # namespaces are dropped: local names only
        "district": "Centro",
        "lamp": {"@power": "70", "@unit": "W", "#text": "LED"},
        "status": "on",
        "note": "",
        "pos": {"lat": "43.46", "lon": "-3.80"},
        "tag": ["street", "led", "2019"],
    }


def test_xml_text_beside_children_goes_under_text_key():
    last = parse("xml", LIGHTS, records="//light")[-1]
    assert last == {"@id": "SL-3", "fault": {"@code": "7"}, "#text": "burnt out"}


def test_xml_paths_match_local_names_in_any_namespace():
    data = b'<a:feed xmlns:a="urn:a" xmlns:b="urn:b"><b:item b:k="1"/><a:item k="2"/></a:feed>'
    assert parse("xml", data, records="feed/item") == [{"@k": "1"}, {"@k": "2"}]
    assert parse("xml", data, records="a:feed/b:item") == [{"@k": "1"}, {"@k": "2"}]


def test_xml_element_nested_in_a_record_of_the_same_name_stays_inside_it():
    data = b"<r><item id='1'><item id='2'/></item></r>"
    assert parse("xml", data, records="//item") == [{"@id": "1", "item": {"@id": "2"}}]


def test_xml_invalid_document_is_fatal_with_line_and_column_after_the_records_before():
    data = b"<lights>\n<light id='1'/>\n<light id='2'>\n</lights>\n"
    items = parse("xml", data, records="//light")
    assert items[0] == {"@id": "1"}
    (error,) = errors(items)
    assert items[-1] is error
    assert "invalid XML at line 4, column 3: mismatched tag" in error.reason


def test_xml_billion_laughs_is_refused():
    data = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz><item>&lol3;</item></lolz>"""
    (error,) = parse("xml", data, records="//item")
    assert isinstance(error, FormatError)
    assert "refused" in error.reason
    assert "entity 'lol'" in error.reason


def test_xml_external_entity_is_refused_and_nothing_is_read():
    data = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<foo><item>&xxe;</item></foo>"""
    (error,) = parse("xml", data, records="//item")
    assert isinstance(error, FormatError)
    assert "refused" in error.reason
    assert "xxe" in error.reason


# --- senml ----------------------------------------------------------------------------------

EXAMPLES = json.loads(SENML_EXAMPLES.read_bytes())


def senml(example: Any, **options: Any) -> list[Any]:
    return parse("senml", json.dumps(example).encode(), **options)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    now = 1_700_000_000.0
    monkeypatch.setattr(time, "time", lambda: now)
    return now


def test_senml_single_datapoint_without_time_is_now(frozen_clock: float):
    assert senml(EXAMPLES["single_datapoint_5.1.1"]) == [
        {
            "n": "urn:dev:ow:10e2073a01080063",
            "name": "urn:dev:ow:10e2073a01080063",
            "bn": "",
            "u": "Cel",
            "v": 23.1,
            "t": frozen_clock,
        }
    ]


def test_senml_base_name_is_prefixed_to_each_name(frozen_clock: float):
    voltage, current = senml(EXAMPLES["multiple_datapoints_5.1.2"])
    assert voltage["n"] == "urn:dev:ow:10e2073a01080063:voltage"
    assert current["n"] == "urn:dev:ow:10e2073a01080063:current"
    assert (current["name"], current["bn"], current["u"], current["v"]) == (
        "current",
        "urn:dev:ow:10e2073a01080063:",
        "A",
        1.2,
    )


def test_senml_absolute_times_are_kept():
    first, second = senml(EXAMPLES["base_time_two_temps"])
    assert (first["t"], second["t"]) == (1276020076.0, 1276020091.0)
    assert second["n"] == "urn:dev:ow:10e2073a01080063"  # the base name alone is the name


def test_senml_base_time_and_base_unit_carry_to_following_records():
    stream = senml(EXAMPLES["humidity_stream_5.1.5"])
    assert len(stream) == 9
    assert [record["t"] for record in stream] == [1320067464.0 + 10 * step for step in range(9)]
    assert {record["u"] for record in stream} == {"%RH"}
    assert [record["v"] for record in stream][-2:] == [21.6, 21.7]


def test_senml_small_times_are_relative_to_the_clock_read_once(frozen_clock: float):
    got = senml([{"bn": "d:", "n": "a", "v": 1, "t": -60}, {"n": "b", "v": 2, "t": 0}])
    assert [record["t"] for record in got] == [frozen_clock - 60, frozen_clock]


def test_senml_base_value_and_base_sum_are_added():
    got = senml(
        [{"bn": "m:", "bt": 1.5e9, "bv": 100, "bs": 1000, "n": "e", "v": 5, "s": 7}, {"n": "f", "vs": "x"}]
    )
    assert (got[0]["v"], got[0]["s"]) == (105, 1007)
    assert got[1]["vs"] == "x"
    assert "u" not in got[1]


def test_senml_changed_base_fields_apply_from_that_record_on():
    got = senml(
        [
            {"bn": "a:", "bt": 1.5e9, "bu": "Cel", "n": "t", "v": 1},
            {"bn": "b:", "n": "t", "v": 2, "u": "K"},
            {"n": "t", "v": 3, "t": 5},
        ]
    )
    assert [(record["n"], record["u"], record["t"]) for record in got] == [
        ("a:t", "Cel", 1.5e9),
        ("b:t", "K", 1.5e9),
        ("b:t", "Cel", 1.5e9 + 5),
    ]


def test_senml_string_boolean_and_data_values():
    got = senml(
        [{"bn": "d:", "bt": 1.5e9, "n": "s", "vs": "open"}, {"n": "b", "vb": False}, {"n": "d", "vd": "AQI"}]
    )
    assert [(record["name"], {"vs", "vb", "vd"} & set(record)) for record in got] == [
        ("s", {"vs"}),
        ("b", {"vb"}),
        ("d", {"vd"}),
    ]
    assert got[1]["vb"] is False


def test_senml_record_with_only_base_fields_gives_no_record():
    got = senml([{"bn": "d:", "bt": 1.5e9}, {"n": "a", "v": 1}])
    assert got == [{"n": "d:a", "name": "a", "bn": "d:", "v": 1, "t": 1.5e9}]


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        ({"n": "x", "v": 1, "vs": "a"}, "vs", "several values"),
        ({"n": "x"}, None, "without a value"),
        ({"n": "x", "v": "7"}, "v", "must be a number"),
        ({"n": "x", "vb": "true"}, "vb", "must be a bool"),
        ({"n": "x", "v": 1, "ex_": 1}, "ex_", "must-understand"),
        ({"n": " bad name", "v": 1}, "n", "invalid SenML name"),
        (["not", "a", "record"], None, "expected an object"),
    ],
)
def test_senml_bad_record_is_rejected_with_its_number_and_parsing_goes_on(
    bad: Any, field: str | None, reason: str
):
    items = senml([{"bn": "d:", "bt": 1.5e9, "n": "a", "v": 1}, bad, {"n": "c", "v": 3}])
    assert [record["n"] for record in records(items)] == ["d:a", "d:c"]
    (error,) = errors(items)
    assert (error.record, error.field, error.source) == (2, field, "feed")
    assert reason in error.reason


def test_senml_group_merges_records_of_one_base_name_and_time(frozen_clock: float):
    (group,) = senml(EXAMPLES["multiple_datapoints_5.1.2"], group=True)
    assert group == {
        "bn": "urn:dev:ow:10e2073a01080063:",
        "t": frozen_clock,
        "values": {"voltage": 120.1, "current": 1.2},
        "units": {"voltage": "V", "current": "A"},
    }


def test_senml_group_starts_a_new_group_when_time_base_name_or_a_repeated_name_changes():
    got = senml(
        [
            {"bn": "a:", "bt": 1.5e9, "n": "x", "u": "Cel", "v": 1},
            {"n": "y", "vs": "on"},
            {"n": "x", "v": 2},  # same name again: a second reading
            {"n": "x", "v": 3, "t": 60},
            {"bn": "b:", "n": "x", "v": 4, "t": 60},
        ],
        group=True,
    )
    assert [(group["bn"], group["t"], group["values"]) for group in got] == [
        ("a:", 1.5e9, {"x": 1, "y": "on"}),
        ("a:", 1.5e9, {"x": 2}),
        ("a:", 1.5e9 + 60, {"x": 3}),
        ("b:", 1.5e9 + 60, {"x": 4}),
    ]
    assert got[0]["units"] == {"x": "Cel"}


def test_senml_group_of_a_stream_gives_one_group_per_time():
    got = senml(EXAMPLES["humidity_stream_5.1.5"], group=True)
    assert len(got) == 9
    assert got[0] == {
        "bn": "urn:dev:ow:10e2073a01080063",
        "t": 1320067464.0,
        "values": {"": 21.2},
        "units": {"": "%RH"},
    }


def test_senml_group_keeps_errors_in_order():
    got = senml([{"bn": "a:", "bt": 1.5e9, "n": "x", "v": 1}, {"n": "y"}, {"n": "z", "v": 2}], group=True)
    assert [type(item).__name__ for item in got] == ["dict", "FormatError", "dict"]
    assert got[1].record == 2


def test_senml_invalid_json_is_fatal():
    items = parse("senml", b'[{"n": "urn:dev:a", "v": 1, "t": 1.5e9}, {"n": ')
    assert items[0]["v"] == 1
    assert "invalid JSON" in errors(items)[0].reason


# --- streaming ------------------------------------------------------------------------------


class LazyStream(io.RawIOBase):
    """Bytes made on demand by a generator; ``produced`` says how many were read so far."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.produced += size
        return size


COUNT = 40_000  # about 4 MB of records in each format


def _json_chunks() -> Iterator[bytes]:
    yield b'{"summary": {"items": %d}, "resources": [' % COUNT
    for index in range(COUNT):
        yield (
            b"," if index else b""
        ) + b'{"dc:identifier": "%d", "ayto:temperature": "16.45", "pad": "%s"}' % (
            index,
            b"x" * 40,
        )
    yield b"]}"


def _ndjson_chunks() -> Iterator[bytes]:
    for index in range(COUNT):
        yield b'{"dc:identifier": "%d", "ayto:temperature": "16.45", "pad": "%s"}\n' % (index, b"x" * 40)


def _csv_chunks() -> Iterator[bytes]:
    yield b"dc:identifier,ayto:temperature,pad\n"
    for index in range(COUNT):
        yield b'%d,"16,45",%s\n' % (index, b"x" * 60)


def _xml_chunks() -> Iterator[bytes]:
    yield b"<feed>"
    for index in range(COUNT):
        yield b'<item id="%d"><temperature>16.45</temperature><pad>%s</pad></item>\n' % (index, b"x" * 40)
    yield b"</feed>"


@pytest.mark.parametrize(
    ("name", "options", "chunks"),
    [
        ("json", {"records": "resources[*]"}, _json_chunks),
        ("ndjson", {}, _ndjson_chunks),
        ("csv", {}, _csv_chunks),
        ("xml", {"records": "feed/item"}, _xml_chunks),
    ],
)
def test_big_inputs_are_streamed_the_first_record_comes_before_most_bytes_are_read(
    name: str, options: dict[str, Any], chunks: Any
):
    raw = LazyStream(chunks())
    parsed = get_format(name, options).parse(io.BufferedReader(raw), source="big")
    first = next(parsed)
    assert not isinstance(first, FormatError)
    assert raw.produced < 256 * 1024
    total = 1 + sum(1 for item in parsed if not isinstance(item, FormatError))
    assert total == COUNT
    assert raw.produced > 2_500_000


def test_xml_memory_stays_bounded_while_records_are_read():
    raw = LazyStream(_xml_chunks())
    tracemalloc.start()
    try:
        count = sum(1 for _ in get_format("xml", {"records": "//item"}).parse(io.BufferedReader(raw)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == COUNT
    assert peak < 1_000_000  # keeping the finished elements takes over 3 MB here, growing with the input
