"""Field paths pick values out of records; a path that is not there gives MISSING."""

from __future__ import annotations

import pytest

from contextbridge.errors import ConfigError
from contextbridge.paths import MISSING, compile_path, parse_path

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
