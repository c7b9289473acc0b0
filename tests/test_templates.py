"""Templates build ids and strings from record fields; in URIs every value is escaped."""

from __future__ import annotations

import pytest

from contextbridge import ConfigError
from contextbridge.language.fieldpaths import MISSING
from contextbridge.language.templates import compile_template


def test_a_template_inserts_fields() -> None:
    render = compile_template("urn:ngsi-ld:ParkingSpot:santander:{ayto:idSensor}", uri=True)
    assert render({"ayto:idSensor": "419"}) == "urn:ngsi-ld:ParkingSpot:santander:419"
    assert render.fields == ("ayto:idSensor",)


def test_numbers_are_written_as_json_writes_them() -> None:
    render = compile_template("{a}/{b}/{c}")
    assert render({"a": 12.0, "b": 1.5, "c": True}) == "12/1.5/true"


def test_values_in_a_uri_are_percent_escaped() -> None:
    render = compile_template("urn:ngsi-ld:Station:{name}", uri=True)
    assert (
        render({"name": "Estación <Tetuán> (1)"})
        == "urn:ngsi-ld:Station:Estaci%C3%B3n%20%3CTetu%C3%A1n%3E%20%281%29"
    )


def test_a_value_cannot_inject_a_path_or_query_into_a_uri() -> None:
    render = compile_template("https://city.example/{id}", uri=True)
    assert render({"id": "../admin?x=1#y"}) == "https://city.example/..%2Fadmin%3Fx%3D1%23y"


def test_filters_slug_lower_upper_strip() -> None:
    record = {"street": "  Calle Río de la Pila  "}
    assert compile_template("{street|slug}")(record) == "calle-rio-de-la-pila"
    assert compile_template("{street|upper}")(record) == "CALLE RÍO DE LA PILA"
    assert compile_template("{street|lower}")(record) == "calle río de la pila"
    assert compile_template("[{street|strip}]")(record) == "[Calle Río de la Pila]"


def test_doubled_braces_are_literal() -> None:
    assert compile_template("{{{a}}}")({"a": "x"}) == "{x}"


@pytest.mark.parametrize("record", [{}, {"id": None}, {"id": ""}, {"id": "   "}, {"id": "!!!"}])
def test_a_missing_or_empty_value_makes_the_template_missing(record: dict[str, object]) -> None:
    assert compile_template("urn:x:{id|slug}", uri=True)(record) is MISSING


def test_a_constant_template_needs_no_record() -> None:
    assert compile_template("urn:ngsi-ld:City:santander")({}) == "urn:ngsi-ld:City:santander"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("a{b", "unbalanced '{' at column 2"),
        ("a}b", "unbalanced '}'"),
        ("{a|shout}", "unknown template filter"),
        ("{a..b}", "malformed field path"),
    ],
)
def test_a_malformed_template_is_a_config_error(source: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compile_template(source)


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Calle Río de la Pila", "calle-rio-de-la-pila"),
        ("Straße am Öko-Park", "strasse-am-oko-park"),
        ("Ørsted Æble", "orsted-aeble"),
        ("Łódź", "lodz"),
        ("Crème brûlée", "creme-brulee"),
        ("Москва", "moskva"),
    ],
)
def test_slug_transliterates_letters_instead_of_dropping_them(text: str, slug: str) -> None:
    assert compile_template("{name|slug}")({"name": text}) == slug
