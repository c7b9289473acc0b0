"""``contextbridge graph load``, ``sparql`` and ``context`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contextbridge.cli import app
from contextbridge.entities.jsonld import CORE_CONTEXT_URL

SDM = Path(__file__).resolve().parent / "data" / "sdm"
runner = CliRunner()


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    """A state directory whose graph holds the WeatherObserved and AirQualityObserved examples."""
    lines = []
    for model in ("dataModel.Weather/WeatherObserved", "dataModel.Environment/AirQualityObserved"):
        entity = json.loads((SDM / model / "examples/example-normalized.jsonld").read_text())
        entity.pop("@context", None)
        lines.append(json.dumps(entity))
    (tmp_path / "entities.ndjson").write_text("\n".join(lines) + "\n{not json\n")
    state = tmp_path / "state"
    result = runner.invoke(app, ["graph", "load", str(tmp_path / "entities.ndjson"), "--state", str(state)])
    assert result.exit_code == 1, result.output  # the broken line is reported
    assert "loaded 2 entities" in result.output and "invalid JSON" in result.output
    return state


OBSERVATIONS = "SELECT ?s WHERE { ?s a sosa:Observation } ORDER BY ?s"


def test_sparql_table(loaded: Path) -> None:
    result = runner.invoke(app, ["sparql", OBSERVATIONS, "--state", str(loaded), "--format", "table"])
    assert result.exit_code == 0, result.output
    assert "urn:ngsi-ld:AirQualityObserved" in result.output and "2 rows" in result.output


def test_sparql_json_csv_tsv(loaded: Path) -> None:
    answer = runner.invoke(app, ["sparql", OBSERVATIONS, "--store", str(loaded), "--format", "json"])
    bindings = json.loads(answer.output)["results"]["bindings"]
    assert [b["s"]["type"] for b in bindings] == ["uri", "uri"]
    csv = runner.invoke(app, ["sparql", OBSERVATIONS, "--state", str(loaded), "--format", "csv"]).output
    assert csv.splitlines()[0] == "s" and csv.splitlines()[1].startswith("urn:ngsi-ld:")
    tsv = runner.invoke(app, ["sparql", OBSERVATIONS, "--state", str(loaded)]).output  # not a terminal: tsv
    assert tsv.splitlines()[0] == "?s" and tsv.splitlines()[1].startswith("<urn:ngsi-ld:")


def test_sparql_from_a_file_and_construct_as_turtle(loaded: Path, tmp_path: Path) -> None:
    query = tmp_path / "q.rq"
    query.write_text("CONSTRUCT { ?s a sosa:Observation } WHERE { ?s a sosa:Observation }")
    result = runner.invoke(app, ["sparql", str(query), "--state", str(loaded)])
    assert result.exit_code == 0, result.output
    assert "sosa:Observation" in result.output


def test_sparql_refuses_updates(loaded: Path) -> None:
    result = runner.invoke(app, ["sparql", "DELETE WHERE { ?s ?p ?o }", "--state", str(loaded)])
    assert result.exit_code == 1
    assert "read-only" in str(result.exception)


def test_sparql_truncates_at_the_limit(loaded: Path) -> None:
    result = runner.invoke(app, ["sparql", "SELECT * { ?s ?p ?o }", "--state", str(loaded), "--limit", "3"])
    assert result.exit_code == 0
    assert "truncated" in result.output


def test_tenants(tmp_path: Path, loaded: Path) -> None:
    result = runner.invoke(app, ["sparql", OBSERVATIONS, "--state", str(loaded), "--tenant", "other"])
    assert len(result.output.splitlines()) == 1  # only the header: the other tenant is empty


def test_context() -> None:
    result = runner.invoke(app, ["context", "--type", "WeatherObserved"])
    document = json.loads(result.output)
    assert document["@context"][-1] == CORE_CONTEXT_URL
    assert document["@context"][0]["temperature"].endswith("dataModel.Weather/temperature")
