"""The command line: translate, test, check, validate and run, as a user types them."""

from __future__ import annotations

import socket
from pathlib import Path

import orjson
from typer.testing import CliRunner

from contextbridge.cli import app

ROOT = Path(__file__).resolve().parent.parent
PARKING = ROOT / "mappings" / "santander-parking.yaml"
PARKING_INPUT = ROOT / "examples" / "santander" / "parking.json"

runner = CliRunner()


def test_translate_writes_ndjson_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "entities.ndjson"
    result = runner.invoke(app, ["translate", "-m", str(PARKING), str(PARKING_INPUT), "-o", str(out)])
    assert result.exit_code == 0, result.output
    entities = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert entities[0]["id"] == "urn:ngsi-ld:ParkingSpot:santander:3101"
    assert "26 records read, 48 entities written, 2 rejected" in result.stderr
    assert "record 10: field 'ayto:longitude,ayto:latitude'" in result.stderr


def test_translate_to_stdout_and_strict_mode(tmp_path: Path) -> None:
    result = runner.invoke(app, ["translate", "-m", str(PARKING), str(PARKING_INPUT), "--strict"])
    assert result.exit_code == 1
    assert result.stdout.count("\n") == 48


def test_translate_reports_a_malformed_mapping_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(PARKING.read_text(encoding="utf-8").replace("records:", "recrods:"), encoding="utf-8")
    result = runner.invoke(app, ["translate", "-m", str(bad), str(PARKING_INPUT)])
    assert result.exit_code == 1
    assert f"{bad}:9: source.recrods: unknown option 'recrods' for format 'json'" in result.stderr


def test_translate_names_an_input_it_cannot_open(tmp_path: Path) -> None:
    result = runner.invoke(app, ["translate", "-m", str(PARKING), str(tmp_path / "nothing.json")])
    assert result.exit_code == 2
    assert "cannot open" in result.stderr


def test_test_passes_on_the_examples_and_shows_a_diff_on_mismatch(tmp_path: Path) -> None:
    result = runner.invoke(app, ["test", str(ROOT / "mappings")])
    assert result.exit_code == 0, result.output
    assert "15 samples, 0 failed" in result.stdout

    mapping = tmp_path / "parking.yaml"
    text = PARKING.read_text(encoding="utf-8").replace('"1": occupied', '"1": taken')
    text = text.replace("../examples/santander/parking.json", str(PARKING_INPUT))
    text = text.replace(
        "expected/santander-parking.ndjson", str(ROOT / "mappings/expected/santander-parking.ndjson")
    )
    mapping.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["test", str(mapping)])
    assert result.exit_code == 1
    assert "~ changed entity urn:ngsi-ld:ParkingSpot:santander:" in result.stdout
    assert '-    "value": "occupied",' in result.stdout
    assert '+    "value": "taken",' in result.stdout


def test_test_update_writes_the_expected_file(tmp_path: Path) -> None:
    mapping = tmp_path / "parking.yaml"
    text = PARKING.read_text(encoding="utf-8").replace(
        "../examples/santander/parking.json", str(PARKING_INPUT)
    )
    mapping.write_text(text, encoding="utf-8")
    assert runner.invoke(app, ["test", str(mapping)]).exit_code == 1  # no expected file yet
    assert runner.invoke(app, ["test", "--update", str(mapping)]).exit_code == 0
    assert (tmp_path / "expected" / "santander-parking.ndjson").read_bytes() == (
        ROOT / "mappings/expected/santander-parking.ndjson"
    ).read_bytes()


def test_check_passes_on_the_examples_and_fails_on_a_wrong_mapping(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(ROOT / "mappings")])
    assert result.exit_code == 0, result.output
    assert "15 mappings checked, 0 problems" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        PARKING.read_text(encoding="utf-8").replace("type: ParkingSpot", "type: ParkingPlace"),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:12: entities[0].type: unknown type 'ParkingPlace'" in result.stdout


def test_check_takes_extra_ontology_files_for_a_new_vendor(tmp_path: Path) -> None:
    ontology = tmp_path / "vendor.ttl"
    ontology.write_text(
        """
@prefix city: <https://contextbridge.dev/ontology/city#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
city:BikeDock a owl:Class ; city:ngsiName "BikeDock" ; rdfs:label "bike dock" ; rdfs:comment "A docking station of the public bike service." .
city:freeBikes a owl:DatatypeProperty ; rdfs:label "free bikes" ; rdfs:comment "Bikes ready to rent." ;
    city:ngsiName "freeBikes" ; city:ngsiType "Property" ; rdfs:domain city:BikeDock ; rdfs:range xsd:integer .
""",
        encoding="utf-8",
    )
    mapping = tmp_path / "bikes.yaml"
    mapping.write_text(
        'id: bikes\nsource: {format: json}\nentity:\n  id: "urn:ngsi-ld:BikeDock:{id}"\n  type: BikeDock\n'
        "  attributes:\n    freeBikes: {from: free, cast: int}\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["check", str(mapping)]).exit_code == 1
    result = runner.invoke(app, ["check", "--ontology", str(ontology), str(mapping)])
    assert result.exit_code == 0, result.output


def test_validate_takes_concise_attributes_and_vocabulary_properties_as_orion_ld_does(tmp_path: Path) -> None:
    concise = tmp_path / "concise.ndjson"
    concise.write_text(
        '{"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot", "status": {"value": "free"},'
        ' "location": {"type": "Point", "coordinates": [-3.8, 43.46]},'
        ' "refDevice": {"object": "urn:ngsi-ld:Device:1"},'
        ' "category": {"type": "VocabularyProperty", "vocab": "onStreet"}}\n',
        encoding="utf-8",
    )
    # The NGSI-LD forms alone: the Smart Data Models constraints (a required refParkingSite) aside.
    result = runner.invoke(app, ["validate", "--no-constraints", str(concise)])
    assert result.exit_code == 0, result.stdout


def test_validate_reports_one_line_per_problem(tmp_path: Path) -> None:
    good = ROOT / "mappings" / "expected" / "santander-parking.ndjson"
    assert runner.invoke(app, ["validate", str(good)]).exit_code == 0
    bad = tmp_path / "bad.ndjson"
    bad.write_text(
        '{"id": "spot 1", "type": "ParkingSpot"}\n'
        "not json\n"
        '{"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot", "colour": {"type": "Property", "value": "red"}}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{bad}:1: ") and "BadRequestData" in lines[0]
    assert lines[1].startswith(f"{bad}:2: invalid JSON")
    assert lines[2].startswith(f"{bad}:3: ") and "'colour' is not a property of ParkingSpot" in lines[2]
    assert runner.invoke(app, ["validate", "--no-ontology", str(bad)]).stdout.count("\n") == 2


def test_run_translates_every_feed_of_the_default_config(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--state", str(tmp_path / "state")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "9 feeds" in result.stdout
    for feed in ("parking", "environment", "traffic", "air-quality", "water-quality", "streetlights"):
        assert feed in result.stdout


def test_context_prints_the_generated_context_deterministically(tmp_path: Path) -> None:
    first = runner.invoke(app, ["context"])
    assert first.exit_code == 0
    document = orjson.loads(first.stdout)
    assert document["@context"][-1] == "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
    assert runner.invoke(app, ["context"]).stdout == first.stdout
    flat = orjson.loads(runner.invoke(app, ["context", "--type", "WeatherObserved"]).stdout)
    assert flat["@context"][0]["temperature"] == "https://smartdatamodels.org/dataModel.Weather/temperature"


def test_run_loads_the_city_graph_and_answers_the_example_question(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for written in (174, 0):  # a second run finds every entity already there: nothing to write
        result = runner.invoke(app, ["run", "--state", str(state)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert f"{written} entities written, 0 superseded, 0 dead-lettered" in result.stdout
        lines = [line.replace("|", " ").split() for line in result.stdout.splitlines()]
        assert ["occupied", "15"] in lines and ["free", "8"] in lines and ["unknown", "1"] in lines
    rejected = runner.invoke(app, ["dlq", "list", "--state", str(state), "--sink", "translate"])
    assert rejected.exit_code == 0, rejected.output
    assert len(rejected.stdout.strip().splitlines()) == 9  # each rejected record kept once, with its reason
    assert "water-quality.csv record 11  format: line 12: 10 cells, expected 11" in rejected.stdout


def test_sparql_answers_from_the_state_of_a_run(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert runner.invoke(app, ["run", "--state", str(state)]).exit_code == 0
    query = ROOT / "examples" / "queries" / "parking-by-status.rq"
    table = runner.invoke(app, ["sparql", str(query), "--state", str(state)])
    assert table.exit_code == 0, table.output
    assert "occupied" in table.stdout
    csv = runner.invoke(app, ["sparql", str(query), "--store", str(state), "--format", "csv"])
    assert csv.stdout.splitlines() == ["status,spots", "occupied,15", "free,8", "unknown,1"]
    construct = "CONSTRUCT { ?s a ?t } WHERE { ?s a ?t } LIMIT 2"
    turtle = runner.invoke(app, ["sparql", construct, "--state", str(state), "--format", "turtle"])
    assert turtle.exit_code == 0 and " a " in turtle.stdout
    bad = runner.invoke(app, ["sparql", "SELEC nothing", "--state", str(state)])
    assert bad.exit_code == 1 and "invalid SPARQL query" in str(bad.exception)
    update = runner.invoke(app, ["sparql", "DELETE WHERE { ?s ?p ?o }", "--state", str(state)])
    assert update.exit_code == 1  # the query endpoint refuses updates
    assert (
        "occupied,15"
        in runner.invoke(app, ["sparql", str(query), "--state", str(state), "--format", "csv"]).stdout
    )


def test_run_with_a_broker_that_is_down_keeps_its_entities_waiting(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "contextbridge.yaml"
    mapping = ROOT / "mappings" / "santander-streetlights.yaml"
    data = ROOT / "examples" / "santander" / "streetlights.xml"
    config.write_text(
        f"feeds: [{{id: lights, mapping: {mapping}, source: {{file: {data}}}}}]\n"
        f"broker: {{url: 'http://127.0.0.1:{port}'}}\n"
    )
    result = runner.invoke(
        app, ["run", str(config), "--state", str(tmp_path / "state")], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "city graph" in result.stdout and "15 entities written" in result.stdout
    assert "Orion-LD: 0 entities written, 0 superseded, 0 dead-lettered, 15 still waiting" in result.stdout
