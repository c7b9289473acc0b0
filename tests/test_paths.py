"""Field paths pick values out of records; a path that is not there gives MISSING."""

from __future__ import annotations

import pytest

from contextbridge import ConfigError
from contextbridge.language.fieldpaths import MISSING, compile_path, parse_path

RECORD = {
    "ayto:temperature": "16.45",
    "properties": {"idSensor": "419", "dc:modified": "2016-04-11T13:24:19Z", "a.b": 1},
    "geometry": {"coordinates": [-3.79716, 43.46469]},
    "name": "abc",
    "empty": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("ayto:temperature", "16.45"),
        ("properties.idSensor", "419"),
        ('properties["dc:modified"]', "2016-04-11T13:24:19Z"),
        ("properties['a.b']", 1),
        ("geometry.coordinates[0]", -3.79716),
        ("geometry.coordinates[-1]", 43.46469),
        ('["ayto:temperature"]', "16.45"),
        ("empty", None),
    ],
)
def test_a_path_picks_its_value(path: str, expected: object) -> None:
    assert compile_path(path)(RECORD) == expected


@pytest.mark.parametrize(
    "path",
    [
        "nothing",
        "properties.nothing",
        "geometry.coordinates[5]",
        "name[0]",
        "name.x",
        "properties.idSensor.x",
    ],
)
def test_a_path_that_is_not_there_is_missing(path: str) -> None:
    assert compile_path(path)(RECORD) is MISSING


def test_missing_is_falsy_and_prints_its_name() -> None:
    assert not MISSING
    assert repr(MISSING) == "MISSING"


def test_a_path_splits_into_keys_and_indexes() -> None:
    assert parse_path('a.b[2]["c.d"]') == ("a", "b", 2, "c.d")


@pytest.mark.parametrize("path", ["", "a..b", "a.", ".a", "a[", 'a["b]', "a]b"])
def test_a_malformed_path_is_a_config_error(path: str) -> None:
    with pytest.raises(ConfigError):
        parse_path(path)


MESSAGES = {
    "messages": [
        {"type": "Rain Gauge", "measurementValue": 0.2, "id": 4113},
        {"type": "Air Temperature", "measurementValue": 1.8, "id": 4097},
        {"type": "Air Temperature", "measurementValue": 9.9, "id": 4097},
        {"measurementValue": 3, "id": "4097", "ok": True},
    ]
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("messages[?type == 'Air Temperature'].measurementValue", 1.8),  # the first match
        ('messages[?type=="Rain Gauge"].measurementValue', 0.2),
        ("messages[?id == 4113].measurementValue", 0.2),  # numbers equal numbers...
        ("messages[?id == 4113.0].measurementValue", 0.2),
        ("messages[?id == '4097'].measurementValue", 3),  # ...and strings strings
        ("messages[?type != 'Rain Gauge'].measurementValue", 1.8),
        ("messages[?type == null].measurementValue", 3),  # a field the item lacks is null
        ("messages[?ok == true].id", "4097"),
        ("messages[?type == 'Air Temperature']", MESSAGES["messages"][1]),
    ],
)
def test_a_selection_picks_the_first_item_whose_field_equals_the_literal(path: str, expected: object) -> None:
    assert compile_path(path)(MESSAGES) == expected


@pytest.mark.parametrize(
    ("path", "record"),
    [
        ("messages[?type == 'Wind Speed'].measurementValue", MESSAGES),  # no item matches
        ("messages[?id == 1].measurementValue", {"messages": [{"id": True}]}),  # true is not 1
        ("messages[?id == 1]", {"messages": {"id": 1}}),  # not a list
        ("messages[?id == 1]", {}),
        ("messages[?type == 'Rain Gauge'].unit", MESSAGES),
    ],
)
def test_a_selection_without_a_match_is_missing(path: str, record: object) -> None:
    assert compile_path(path)(record) is MISSING


@pytest.mark.parametrize(
    "path", ["a[?b = 'x']", "a[?b == x]", "a[?b == 'x'", "a[?b[?c == 1] == 1]", "a[? == 1]"]
)
def test_a_malformed_selection_is_a_config_error(path: str) -> None:
    with pytest.raises(ConfigError):
        parse_path(path)
