"""Unit codes are UN/CEFACT common codes; conversions are pint's, precomputed as a * x + b."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pint
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contextbridge import ConfigError
from contextbridge.language.units import UNIT_CODES, converter, convertible, unit_name

_PINT: Any = pint.UnitRegistry()
_PINT.define("ppb = 1e-9 = part_per_billion")

PAIRS = sorted(
    (source, target)
    for source, target in itertools.product(UNIT_CODES, repeat=2)
    if source != target and convertible(source, target)
)


def pint_says(value: float, source: str, target: str) -> float:
    return float(_PINT.Quantity(value, UNIT_CODES[source]).to(UNIT_CODES[target]).magnitude)


@pytest.mark.parametrize(
    ("source", "target", "value", "expected"),
    [
        ("FAH", "CEL", 212.0, 100.0),
        ("FAH", "CEL", 32.0, 0.0),
        ("CEL", "FAH", -40.0, -40.0),
        ("CEL", "KEL", 0.0, 273.15),
        ("GP", "GQ", 1.0, 1000.0),
        ("M1", "H29", 2.5, 2500.0),
        ("KMH", "MTS", 36.0, 10.0),
        ("HM", "KMH", 1.0, 1.609344),
        ("P1", "C62", 50.0, 0.5),
        ("C62", "P1", 0.25, 25.0),
        ("59", "61", 1.0, 1000.0),
        ("P1", "59", 1.0, 10_000.0),
        ("A97", "MBR", 1013.25, 1013.25),
        ("BAR", "PAL", 1.0, 100_000.0),
        ("H61", "G42", 1.2, 1200.0),
        ("H61", "D10", 1.0, 0.1),
        ("MQH", "L2", 6.0, 100.0),
        ("G52", "MQH", 24.0, 1.0),
        ("KWH", "WHR", 1.5, 1500.0),
        ("DD", "C81", 180.0, math.pi),
        ("TNE", "KGM", 2.0, 2000.0),
        ("HUR", "MIN", 1.5, 90.0),
    ],
)
def test_known_conversions(source: str, target: str, value: float, expected: float) -> None:
    assert converter(source, target)(value) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_the_conversions_named_in_the_mapping_guide() -> None:
    assert converter("FAH", "CEL")(212) == pytest.approx(100.0)
    assert converter("GP", "GQ")(1) == pytest.approx(1000.0)
    assert converter("KMH", "MTS")(36) == pytest.approx(10.0)
    assert converter("P1", "C62")(50) == pytest.approx(0.5)


@given(
    pair=st.sampled_from(PAIRS),
    value=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_every_conversion_agrees_with_pint(pair: tuple[str, str], value: float) -> None:
    source, target = pair
    expected = pint_says(value, source, target)
    assert converter(source, target)(value) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_a_conversion_is_a_line_fixed_when_it_is_made() -> None:
    # Two points of the line and the returned function decide everything: no pint per value.
    convert = converter("CEL", "FAH")
    b = convert(0.0)
    a = convert(1.0) - b
    assert (a, b) == pytest.approx((1.8, 32.0))
    assert convert(37.0) == pytest.approx(a * 37.0 + b)


def test_the_same_unit_passes_values_through_unchanged() -> None:
    convert = converter("CEL", "CEL")
    assert convert(21.5) == 21.5
    assert converter("KMT", "KTM")(7) == 7  # two codes of the kilometre
    assert converter("2N", "2N")(63.2) == 63.2


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("FAH", "GQ"),
        ("MTR", "SEC"),
        ("GQ", "59"),  # a mass concentration is not a volume ratio without a molar mass
        ("2N", "C62"),  # decibels are logarithmic: only to themselves
        ("P1", "DD"),  # pint calls both dimensionless; a percentage is not an angle
        ("H87", "IE"),  # pieces are not persons
        ("H87", "C62"),
        ("Q30", "C62"),
        ("LUX", "CDL"),
    ],
)
def test_units_of_different_quantities_are_not_convertible(source: str, target: str) -> None:
    assert not convertible(source, target)
    with pytest.raises(ConfigError, match=f"cannot convert {source} .* to {target} "):
        converter(source, target)


def test_the_refusal_names_both_units() -> None:
    with pytest.raises(ConfigError) as caught:
        converter("FAH", "GQ")
    assert str(caught.value) == "cannot convert FAH (degree Fahrenheit) to GQ (microgram per cubic metre)"


def test_percent_one_and_parts_per_million_are_one_kind() -> None:
    assert convertible("P1", "C62")
    assert convertible("59", "P1")
    assert convertible("DD", "C81")
    assert not convertible("C62", "C81")


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("CELL", "CEL"),
        ("cel", "CEL"),
        ("km/h", "KMH"),
        ("ug/m3", "GQ"),
        ("µg/m³", "GQ"),
        ("%", "P1"),
        ("degree Celsius", "CEL"),
        ("kWh", "KWH"),
        ("mS/cm", "H61"),
    ],
)
def test_an_unknown_code_suggests_the_code_meant(written: str, meant: str) -> None:
    with pytest.raises(ConfigError, match=rf"unknown unit code '{written}'; did you mean .*{meant} \("):
        converter(written, "CEL")
    with pytest.raises(ConfigError, match="unknown unit code"):
        converter("CEL", written)


def test_an_unknown_code_with_nothing_close_shows_examples() -> None:
    with pytest.raises(ConfigError, match=r"unknown unit code 'XYZ' \(UN/CEFACT common codes, e\.g\. CEL"):
        unit_name("XYZ")


def test_unknown_codes_are_not_convertible() -> None:
    assert not convertible("NTU", "NTU")
    assert not convertible("CEL", "NTU")


def test_unit_names_are_those_of_recommendation_20() -> None:
    assert unit_name("CEL") == "degree Celsius"
    assert unit_name("GQ") == "microgram per cubic metre"
    assert unit_name("M1") == "milligram per litre"
    assert unit_name("HM") == "mile per hour"
    assert unit_name("C62") == "one"
    assert unit_name("2N") == "decibel"


def test_every_code_is_understood_by_pint() -> None:
    for code, expression in UNIT_CODES.items():
        assert unit_name(code)
        _PINT.Quantity(1.0, expression)  # raises if pint does not know the unit


def test_the_codes_of_the_city_ontology_are_known() -> None:
    # Codes the ontology expects (city:unitCode) must be known, or lint could not advise conversions.
    for code in (
        "2N",
        "A97",
        "AMP",
        "C62",
        "CEL",
        "CMT",
        "D10",
        "D54",
        "DD",
        "GP",
        "GQ",
        "KGM",
        "KMH",
        "LUX",
        "MMT",
        "MTR",
        "MTS",
        "SEC",
        "VLT",
    ):
        assert code in UNIT_CODES
