"""The Smart Data Models constraints: the compiled check names each broken rule and its origin,
agrees with pySHACL on every example and on generated violations; unit codes are Rec 20's;
two vendors' ontologies share short names per type, and a conflict names both files and lines."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from rdflib import Graph

from contextbridge import Converter, Ontology, OntologyError, default_ontology, lint_mapping, load_mapping
from contextbridge.entities.constraints import default_constraints
from contextbridge.entities.ontology import BUNDLED
from contextbridge.entities.shapes import shapes_graph
from contextbridge.language.unitcodes import unit_code_problem
from contextbridge.sinks.graph.shacl import shacl_violations, violation_key

ROOT = Path(__file__).resolve().parent.parent
WHERE = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.8, 43.46]}}
WHEN = {"type": "Property", "value": {"@type": "DateTime", "@value": "2024-05-14T06:00:00Z"}}
WRONG = [  # the five entities of the issue, otherwise complete
    ({"id": "urn:ngsi-ld:ParkingSpot:x", "type": "ParkingSpot", "status": {"type": "Property", "value": "banana"},
      "category": {"type": "Property", "value": ["onStreet"]}, "location": WHERE,
      "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:OnStreetParking:a"}},
     "status", "sdm-enum", "SDM dataModel.Parking/ParkingSpot/schema.json, attribute status"),
    ({"id": "urn:ngsi-ld:WeatherObserved:1", "type": "WeatherObserved", "dateObserved": WHEN, "location": WHERE,
      "temperature": {"type": "Property", "value": 70, "unitCode": "FAH"}},
     "temperature", "sdm-unit", "SDM dataModel.Weather/WeatherObserved/schema.json, attribute temperature"),
    ({"id": "urn:ngsi-ld:WeatherObserved:2", "type": "WeatherObserved", "dateObserved": WHEN, "location": WHERE,
      "relativeHumidity": {"type": "Property", "value": 58}},
     "relativeHumidity", "sdm-range", "SDM dataModel.Weather/WeatherObserved/schema.json, attribute relativeHumidity"),
    ({"id": "urn:ngsi-ld:WeatherObserved:3", "type": "WeatherObserved", "dateObserved": WHEN, "location": WHERE,
      "relativeHumidity": {"type": "Property", "value": 0.5, "unitCode": "XYZQ"}},
     "relativeHumidity", "unit-code", "UN/CEFACT Recommendation 20"),
    ({"id": "urn:ngsi-ld:OffStreetParking:1", "type": "OffStreetParking", "name": {"type": "Property", "value": "P"}},
     "location", "sdm-required", "SDM dataModel.Parking/OffStreetParking/schema.json, attribute location"),
]  # fmt: skip


def examples() -> list[dict]:
    found = [json.loads(line) for path in sorted((ROOT / "mappings" / "expected").glob("*.ndjson"))
             for line in path.read_text().splitlines() if line.strip()]  # fmt: skip
    found += [
        json.loads(path.read_text()) for path in sorted((ROOT / "tests" / "data" / "sdm").glob("*.jsonld"))
    ]
    return found


@pytest.mark.parametrize(
    ("entity", "attribute", "rule", "origin"), WRONG, ids=[w[1] + "-" + w[2] for w in WRONG]
)
def test_the_wrong_entities_of_the_issue_are_flagged_with_rule_and_origin(
    entity: dict, attribute: str, rule: str, origin: str
) -> None:
    found = default_constraints().check(entity)
    assert (found[0].attribute, found[0].rule) == (attribute, rule)
    assert {v.attribute for v in found} == {attribute}  # XYZQ is no CEFACT code and not the unit SDM wants
    assert found[0].source.startswith(origin) and f"[{rule}; {origin}" in str(found[0])


def test_the_santander_examples_break_no_constraint() -> None:
    entities = [json.loads(line) for path in (ROOT / "mappings" / "expected").glob("*.ndjson")
                for line in path.read_text().splitlines()]  # fmt: skip
    assert entities and [str(v) for e in entities for v in default_constraints().check(e)] == []


def test_unknown_unit_codes_get_suggestions() -> None:
    assert unit_code_problem("CEL") is None and unit_code_problem("KTM") is None
    assert unit_code_problem("CELSIUS") == "unknown unit code 'CELSIUS'; did you mean CEL (degree Celsius)?"
    assert "did you mean KMH (kilometre per hour)" in str(unit_code_problem("km/h"))


def _mutations(entity: dict) -> list[dict]:
    """Violations made from a valid entity: enumerations broken, bounds crossed, units swapped, required removed."""
    made = []
    for constraint in default_constraints().of(entity.get("type", "")):
        broken = copy.deepcopy(entity)
        if constraint.min_count:
            broken.pop(constraint.attribute, None)
        elif constraint.member == "unitCode":
            broken[constraint.attribute] = {"type": "Property", "value": 1.0, "unitCode": "FAH"}
        elif constraint.allowed is not None:
            broken[constraint.attribute] = {
                "type": "Property",
                "value": ["nope", sorted(constraint.allowed)[0]],
            }
        else:
            op, bound = constraint.bounds[-1]
            broken[constraint.attribute] = {
                "type": "Property",
                "value": bound + (1 if op.startswith("<") else -1),
            }
        made.append(broken)
    return made


def test_the_compiled_check_and_pyshacl_agree_on_examples_and_generated_violations() -> None:
    ontology = default_ontology()
    converter = Converter(ontology, infer_types=True)
    entities = examples() + [copy.deepcopy(entity) for entity, *_ in WRONG]
    entities += [m for entity in examples()[:40:3] for m in _mutations(entity)]
    for number, entity in enumerate(entities):  # distinct ids: one focus node per entity
        entity["id"] = f"urn:ngsi-ld:{entity['type']}:agree-{number}"
        entity.pop("@context", None)
    data = Graph().parse(data="".join(converter.ntriples(e) for e in entities), format="nt")
    shacl = {violation_key(v) for v in shacl_violations(data, shapes_graph(ontology))}
    compiled = {violation_key(v) for e in entities for v in default_constraints().check(e) if v.shape}
    assert len(compiled) > 40  # the generated violations are there
    assert compiled == shacl


def test_lint_flags_map_values_and_constants_outside_the_constraints(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("""
id: bad
source: {format: json}
entities:
  - id: "urn:ngsi-ld:ParkingSpot:x:{id}"
    type: ParkingSpot
    attributes:
      status: {from: s, map: {"0": free, "1": banana}}
  - id: "urn:ngsi-ld:WeatherObserved:x:{id}"
    type: WeatherObserved
    attributes:
      relativeHumidity: {value: 58, unitCode: C62}
      temperature: {from: t, cast: float, unitCode: CELSIUS}
""")
    found = [str(p) for p in lint_mapping(load_mapping(path), default_ontology())]
    assert any(
        ":8:" in p and "'banana'" in p and "[sdm-enum; SDM dataModel.Parking/ParkingSpot" in p for p in found
    )
    assert any(":12:" in p and "58" in p and "sdm-range" in p for p in found)
    assert any(":13:" in p and "did you mean CEL (degree Celsius)?" in p for p in found)


VENDOR = """
@prefix city: <https://contextbridge.dev/ontology/city#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix v: <https://{name}.example/#> .
v:{type} a owl:Class ; rdfs:label "t"@en ; rdfs:comment "t"@en ; city:ngsiName "{type}" .
v:capacity a owl:DatatypeProperty ; rdfs:label "c"@en ; rdfs:comment "c"@en ; city:ngsiName "capacity" ;
    city:ngsiType "Property" ; rdfs:domain v:{type} ; rdfs:range xsd:integer .
"""


def test_two_vendors_share_a_short_name_on_different_types(tmp_path: Path) -> None:
    from contextbridge import context_document

    (tmp_path / "bikes.ttl").write_text(VENDOR.format(name="bikes", type="BikeDock"))
    (tmp_path / "cars.ttl").write_text(VENDOR.format(name="cars", type="CarPark"))
    union = Ontology.load(BUNDLED, tmp_path / "bikes.ttl", tmp_path / "cars.ttl")
    assert (
        context_document(union, entity_type="BikeDock")["@context"][0]["capacity"]
        == "https://bikes.example/#capacity"
    )
    assert (
        context_document(union, entity_type="CarPark")["@context"][0]["capacity"]
        == "https://cars.example/#capacity"
    )


def test_a_conflict_on_one_type_names_both_files_and_lines(tmp_path: Path) -> None:
    (tmp_path / "a.ttl").write_text(VENDOR.format(name="a", type="Dock"))
    (tmp_path / "b.ttl").write_text(VENDOR.format(name="b", type="Dock"))
    with pytest.raises(OntologyError) as error:
        Ontology.load(BUNDLED, tmp_path / "a.ttl", tmp_path / "b.ttl")
    assert f"{tmp_path / 'a.ttl'}:7" in str(error.value) and f"{tmp_path / 'b.ttl'}:7" in str(error.value)


def test_the_committed_unit_codes_are_what_the_generator_writes() -> None:
    pytest.importorskip("facturx")
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_unit_codes", ROOT / "scripts" / "build_unit_codes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run scripts/build_unit_codes.py"


PARKING = """
id: spots
source: {format: json, records: "items[*]"}
constraints: MODE
entity:
  id: "urn:ngsi-ld:ParkingSpot:t:{id}"
  type: ParkingSpot
  attributes:
    status: {from: s}
    category: {value: [onStreet]}
    location: {geo: point, lon: lon, lat: lat}
    refParkingSite: {relationship: "urn:ngsi-ld:OnStreetParking:t:1"}
"""
FEED = b'{"items": [{"id": 1, "s": "free", "lon": -3.8, "lat": 43.4}, {"id": 2, "s": "banana", "lon": -3.8, "lat": 43.4}]}'


@pytest.mark.parametrize(
    ("mode", "entities", "rejected", "warned"), [("reject", 1, 1, 0), ("warn", 2, 0, 1), ("off", 2, 0, 0)]
)
def test_the_translator_rejects_warns_or_lets_through(
    tmp_path: Path, mode: str, entities: int, rejected: int, warned: int
) -> None:
    import io

    from contextbridge import ConstraintError, Translator

    path = tmp_path / "spots.yaml"
    path.write_text(PARKING.replace("MODE", mode))
    translator = Translator(load_mapping(path))
    outcomes = list(translator.translate_stream(io.BytesIO(FEED), source="feed.json"))
    stats = translator.stats
    assert (stats.entities, stats.rejected, sum(stats.warnings.values())) == (entities, rejected, warned)
    if rejected:
        error = next(o for o in outcomes if isinstance(o, ConstraintError))
        assert error.field == "status" and "[sdm-enum; SDM dataModel.Parking/ParkingSpot/schema.json" in str(
            error
        )
        assert stats.reasons == {"constraint status": 1}
    if warned:
        assert stats.warnings == {"sdm-enum ParkingSpot.status": 1}


def test_missing_vendor_files_are_named_at_their_line(tmp_path: Path) -> None:
    from contextbridge import MappingError, load_config

    (tmp_path / "m.yaml").write_text(PARKING.replace("MODE", "warn") + "ontology: nowhere.ttl\n")
    with pytest.raises(MappingError, match=r"m.yaml:\d+: ontology: no such ontology file"):
        load_mapping(tmp_path / "m.yaml")
    (tmp_path / "c.yaml").write_text(
        "ontologies: [gone.ttl]\nfeeds: [{id: a, mapping: m.yaml, source: {webhook: {insecure: true}}}]\n"
    )
    with pytest.raises(MappingError, match=r"c.yaml:1: ontologies\[0\]: no such ontology file"):
        load_config(tmp_path / "c.yaml")


def test_graph_validate_and_describe_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from contextbridge.cli import app

    entities = tmp_path / "wrong.ndjson"
    entities.write_text("".join(json.dumps(entity) + "\n" for entity, *_ in WRONG))
    state = str(tmp_path / "state")
    runner = CliRunner()
    assert runner.invoke(app, ["graph", "load", "--state", state, str(entities)]).exit_code == 0
    result = runner.invoke(app, ["graph", "validate", "--state", state])
    assert result.exit_code == 1
    assert "urn:ngsi-ld:ParkingSpot:x: status: 'banana'" in result.stdout
    assert (
        "[sdm-required; SDM dataModel.Parking/OffStreetParking/schema.json, attribute location]"
        in result.stdout
    )
    validated = runner.invoke(app, ["validate", str(entities)])
    assert (
        validated.exit_code == 1 and validated.stdout.count("\n") == 6
    )  # XYZQ: no CEFACT code, not the unit
    unknown = runner.invoke(app, ["describe", "WeatherObserve"])
    assert unknown.exit_code == 1 and "did you mean WeatherObserved" in unknown.output
    described = runner.invoke(app, ["describe", "WeatherObserved"])
    assert (
        "relativeHumidity <https://smartdatamodels.org/dataModel.Weather/relativeHumidity>"
        in described.stdout
    )
    assert ">= 0 and <= 1" in described.stdout


def test_the_translators_specialised_check_finds_what_the_general_one_finds(tmp_path: Path) -> None:
    import io

    from contextbridge import Translator

    path = tmp_path / "spots.yaml"
    path.write_text(
        PARKING.replace("MODE", "warn").replace("category: {value: [onStreet]}", "category: {value: [x]}")
    )
    mappings = [load_mapping(path), *(load_mapping(p) for p in sorted((ROOT / "mappings").glob("*.yaml")))]
    check = default_constraints().check
    for mapping in mappings:
        payloads = (
            [FEED] if mapping.id == "spots" else [sample.input.read_bytes() for sample in mapping.samples]
        )
        for payload in payloads:
            translator = Translator(mapping, mode="warn")
            entities = [o for o in translator.translate_stream(io.BytesIO(payload)) if isinstance(o, dict)]
            expected: dict[str, int] = {}
            for entity in entities:
                for v in check(entity):
                    reason = f"{v.rule} {entity['type']}.{v.attribute}"
                    expected[reason] = expected.get(reason, 0) + 1
            assert dict(translator.stats.warnings) == expected, mapping.id
            if mapping.id == "spots":
                assert expected == {"sdm-enum ParkingSpot.category": 2, "sdm-enum ParkingSpot.status": 1}
            else:
                assert expected == {}, mapping.id  # the Santander examples are clean
