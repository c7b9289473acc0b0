"""A new vendor end to end, as the README's "Plugging in a new vendor" walks through it: the
vendor's Turtle (a new type, its own IRIs and constraints), its mapping, ``check``, ``translate``,
``test``, ``describe``, the per-type @context, and ``serve`` — webhook in, Orion-LD (the double)
and the city graph out, with the vendor's IRIs in the graph and its type's @context on the batches."""

from __future__ import annotations

import json
import time
from pathlib import Path

from broker_double import BrokerDouble, serve
from starlette.testclient import TestClient
from typer.testing import CliRunner

from contextbridge import load_config
from contextbridge.cli import app
from contextbridge.service import Service, create_app

ROOT = Path(__file__).resolve().parent.parent
BIKES = ROOT / "examples" / "bikes"
KEY = "bikes-service-key-0123456789"
HOOK = "bikes-vendor-webhook-key-0123"
VENDOR = "https://bikes.example.org/ontology#"
STATION = "BikeDock"


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_readme_steps_on_the_command_line(tmp_path: Path) -> None:
    mapping, ontology = str(BIKES / "bikes.yaml"), str(BIKES / "bikes.ttl")
    cli("check", mapping)
    out = tmp_path / "stations.ndjson"
    cli("translate", "-m", mapping, str(BIKES / "stations.json"), "-o", str(out))
    assert [json.loads(line)["type"] for line in out.read_text().splitlines()] == [STATION, STATION]
    cli("test", mapping)
    cli("validate", "--ontology", ontology, str(out))
    described = json.loads(cli("describe", STATION, "--ontology", ontology, "--format", "json"))
    assert described["iri"] == VENDOR + STATION
    assert described["attributes"]["availableBikeNumber"]["range"] == ">= 0"
    assert described["attributes"]["location"]["required"] is True
    context = json.loads(cli("context", "--ontology", ontology, "--type", STATION))["@context"][0]
    assert context["availableBikeNumber"] == VENDOR + "availableBikeNumber"
    assert context["name"] == VENDOR + "stationName"  # the vendor's own `name`, for its type only
    state = str(tmp_path / "state")
    cli("graph", "load", "--ontology", ontology, "--state", state, str(out))
    rows = cli(
        "sparql",
        "--state",
        state,
        "--format",
        "csv",
        f"""
        SELECT ?bikes WHERE {{ ?s a <{VENDOR}{STATION}> ; <{VENDOR}availableBikeNumber> [ ngsi-ld:hasValue ?bikes ] }}
        ORDER BY ?bikes""",
    )
    assert rows.split() == ["bikes", "0", "7"]


def test_a_vendor_type_goes_through_serve(tmp_path: Path) -> None:
    double = BrokerDouble()
    with serve(double) as broker_url:
        (tmp_path / "contextbridge.yaml").write_text(f"""
ontologies: [{BIKES / "bikes.ttl"}]
feeds:
  - {{id: bikes, mapping: {BIKES / "bikes.yaml"}, constraints: warn, source: {{webhook: {{api_key: {HOOK}}}}}}}
broker:
  url: {broker_url}
  context: "http://contextbridge.test/context.jsonld?type={{type}}"
service:
  api_keys: [{{name: ops, key: {KEY}, tenants: "*", write: true}}]
""")
        config = load_config(tmp_path / "contextbridge.yaml")
        service = Service.from_config(config, state_dir=tmp_path / "state")
        with TestClient(create_app(service)) as client:
            headers = {"X-Api-Key": HOOK, "Content-Type": "application/json"}
            answer = client.post(
                "/feeds/bikes", content=(BIKES / "stations.json").read_bytes(), headers=headers
            )
            assert answer.status_code in (200, 202), answer.text
            deadline = time.monotonic() + 30
            while len(double.entities()) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            stored = double.entities()
            assert set(stored) == {
                f"urn:ngsi-ld:{STATION}:santander:17",
                f"urn:ngsi-ld:{STATION}:santander:18",
            }
            assert any(link and f"context.jsonld?type={STATION}" in link for link in double.links)
            served = client.get(f"/context.jsonld?type={STATION}").json()["@context"][0]
            assert served["availableBikeNumber"] == VENDOR + "availableBikeNumber"
            query = (
                f"SELECT (COUNT(?s) AS ?n) WHERE {{ ?s a <{VENDOR}{STATION}> ; <{VENDOR}freeSlotNumber> ?v }}"
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                rows = client.get(
                    "/sparql",
                    params={"query": query},
                    headers={"X-API-Key": KEY, "Accept": "application/sparql-results+json"},
                ).json()["results"]["bindings"]
                if rows and rows[0]["n"]["value"] == "2":
                    break
                time.sleep(0.1)
            assert rows[0]["n"]["value"] == "2"
            described = client.get(f"/types/{STATION}", headers={"X-API-Key": KEY}).json()
            assert described["attributes"]["freeSlotNumber"]["iri"] == VENDOR + "freeSlotNumber"
            unknown = client.get("/types/BikeDok", headers={"X-API-Key": KEY})
            assert unknown.status_code == 404 and unknown.json()["suggestions"] == [STATION]
            # The feed says warn (the mapping says reject): a negative count goes through, counted
            broken = b'{"stations": [{"station_id": "19", "lat": "43.46", "lon": "-3.8", "bikes": "-3", "slots": "1", "updated": "2024-05-14T09:05:00Z"}]}'
            assert client.post("/feeds/bikes", content=broken, headers=headers).status_code in (200, 202)
            reason = f'reason="bikes-range {STATION}.availableBikeNumber"'
            deadline = time.monotonic() + 30
            while reason not in client.get("/metrics").text and time.monotonic() < deadline:
                time.sleep(0.1)
            assert (
                f'contextbridge_constraints_broken_total{{feed="*",{reason}}} 1.0'
                in client.get("/metrics").text
            )
