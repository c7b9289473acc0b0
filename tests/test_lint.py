"""`contextbridge check` judges mappings against the ontology: each mistake with its file, line and term."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from contextbridge import Mapping, default_ontology, lint_mapping

ROOT = Path(__file__).resolve().parent.parent


def lint(
    make_mapping: Callable[[str], Mapping], attributes: str, *, type_name: str = "WeatherObserved"
) -> list[str]:
    mapping = make_mapping(
        f"""\
        id: feed
        source: {{format: json}}
        entity:
          id: "urn:ngsi-ld:{type_name}:{{id}}"
          type: {type_name}
          attributes:
        {attributes}
        """
    )
    return [str(problem) for problem in lint_mapping(mapping, default_ontology())]


def test_every_example_mapping_agrees_with_the_ontology(make_mapping: Callable[[str], Mapping]) -> None:
    from contextbridge import load_mapping

    paths = sorted((ROOT / "mappings").glob("*.yaml"))
    assert paths
    for path in paths:
        assert lint_mapping(load_mapping(path), default_ontology()) == [], path


def test_a_correct_attribute_passes(make_mapping: Callable[[str], Mapping]) -> None:
    assert lint(make_mapping, "    temperature: {from: t, cast: float, unitCode: CEL}") == []


def test_an_unknown_type_is_named_with_a_suggestion(make_mapping: Callable[[str], Mapping]) -> None:
    [problem] = lint(make_mapping, "    temperature: {from: t}", type_name="WeatherObservation")
    assert ":5: entity.type: unknown type 'WeatherObservation'" in problem
    assert "did you mean WeatherObserved" in problem


def test_an_unknown_attribute(make_mapping: Callable[[str], Mapping]) -> None:
    [problem] = lint(make_mapping, "    temperatur: {from: t, cast: float}")
    assert ":7: entity.attributes.temperatur: unknown attribute 'temperatur'" in problem
    assert "did you mean temperature" in problem


def test_an_attribute_not_allowed_on_that_type(make_mapping: Callable[[str], Mapping]) -> None:
    [problem] = lint(make_mapping, "    fillingLevel: {from: f, cast: float, unitCode: C62}")
    assert "attribute 'fillingLevel' is not allowed on WeatherObserved" in problem
    assert "WasteContainer" in problem


def test_a_relationship_to_the_wrong_class(make_mapping: Callable[[str], Mapping]) -> None:
    [problem] = lint(make_mapping, "    refDevice: {relationship: 'urn:ngsi-ld:ParkingSpot:{id}'}")
    assert "WeatherObserved.refDevice <https://smartdatamodels.org/dataModel.Weather/refDevice>" in problem
    assert "must point at a Device; the mapping points at a ParkingSpot" in problem


def test_a_relationship_made_a_property(make_mapping: Callable[[str], Mapping]) -> None:
    [problem] = lint(make_mapping, "    refDevice: {from: device}")
    assert "is a Relationship in the ontology; the mapping makes a Property" in problem


def test_a_wrong_datatype_says_which_cast_to_add(make_mapping: Callable[[str], Mapping]) -> None:
    [problem] = lint(make_mapping, "    temperature: {from: t, cast: string, unitCode: CEL}")
    assert "wrong datatype" in problem and "xsd:double" in problem
    assert "add cast: float" in problem


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ("temperature: {from: t, cast: float, unitCode: FAH}", "convert with unit: FAH, unitCode: CEL"),
        ("temperature: {from: t, cast: float}", "add unitCode: CEL"),
        ("temperature: {from: t, cast: float, unitCode: GQ}", "GQ cannot be converted to it"),
    ],
)
def test_a_wrong_unit_says_which_conversion_to_add(
    make_mapping: Callable[[str], Mapping], attribute: str, message: str
) -> None:
    [problem] = lint(make_mapping, f"    {attribute}")
    assert "wrong unit" in problem and message in problem
