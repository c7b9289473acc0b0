"""Drafting a mapping from a sample: each choice made for a reason a test can name."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from test_service import SANTANDER_READ, assert_problem, headers, run
from typer.testing import CliRunner

import contextbridge.service.drafts as drafts
from contextbridge import ConfigError, Translator, default_ontology, draft_mapping, lint_mapping, load_mapping
from contextbridge.authoring.drafting.match import score_field
from contextbridge.authoring.drafting.profile import profile_records
from contextbridge.authoring.drafting.roles import find_roles
from contextbridge.authoring.drafting.sample import read_sample
from contextbridge.authoring.drafting.vocabulary import tokens, unit_hint
from contextbridge.cli import app as cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "santander"

# A feed of another city, in Spanish, that no example mapping reads.
STATIONS = [
    {
        "codigo_estacion": f"EST-{n}",
        "fecha_medida": f"2024-05-14 0{n}:00:00",
        "temp_c": f"{12 + n},5",
        "hum_pct": str(60 + n),
        "presion_hpa": "1013",
        "velocidad_viento": "3,2",
        "lat": "40,4168",
        "lon": "-3,7038",
        "nota": "revisado",
    }
    for n in range(1, 5)
]


def csv_payload(rows: list[dict[str, str]]) -> bytes:
    lines = [";".join(rows[0])] + [";".join(row.values()) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_names_are_read_across_spanish_and_english() -> None:
    assert tokens("ayto:temperatura_F") == ("temperatura", "f")
    assert tokens("PM2,5") == ("pm25",)
    assert tokens("relativeHumidity") == ("relative", "humidity")
    assert unit_hint(("pressure", "pa")) == ("PAL", "name ends in 'pa'")
    assert unit_hint(("temp",)) is None  # one word alone is the quantity, not a unit


def test_the_sample_says_its_format_and_options() -> None:
    sample = read_sample(csv_payload(STATIONS), name="estaciones.csv")
    assert (sample.format, sample.options) == ("csv", {"delimiter": ";", "decimal": ","})
    nested = read_sample(json.dumps({"meta": {"n": 1}, "data": {"items": STATIONS}}).encode(), name="x")
    assert (nested.format, nested.options, len(nested.records)) == ("json", {"records": "data.items[*]"}, 4)
    with pytest.raises(ConfigError, match="empty"):
        read_sample(b"  ", name="x.json")


def test_one_message_with_a_list_inside_is_one_record() -> None:
    uplink = {
        "end_device_ids": {"device_id": "bin-7", "dev_eui": "70B3D57ED0050412"},
        "received_at": "2024-05-14T05:00:07Z",
        "uplink_message": {
            "decoded_payload": {"fill_percent": 38, "temperature": 11.2},
            "rx_metadata": [{"gateway_id": "gw-1", "rssi": -97}, {"gateway_id": "gw-2", "rssi": -101}],
        },
    }
    sample = read_sample(json.dumps(uplink).encode(), name="uplink.json")
    assert (sample.options, len(sample.records)) == ({}, 1)
    page = {"page": 1, "data": [{"id": n, "temp_c": 20 + n} for n in range(5)]}
    assert read_sample(json.dumps(page).encode(), name="page.json").options == {"records": "data[*]"}


def test_roles_id_time_and_position() -> None:
    fields = profile_records(read_sample(csv_payload(STATIONS), name="s.csv").records, decimal=",")
    roles = find_roles(fields)
    assert roles.id is not None and roles.id.field.path == "codigo_estacion"
    assert roles.time is not None and roles.time.fmt == "iso8601" and not roles.time.format.zoned
    assert roles.point is not None and (roles.point.lat.path, roles.point.lon.path) == ("lat", "lon")


def test_coordinates_named_the_wrong_way_round_are_swapped_by_their_values() -> None:
    rows = [{"id": str(n), "lat": 121.47 + n / 100, "lon": 31.23} for n in range(3)]  # Shanghai
    roles = find_roles(profile_records(rows))
    assert roles.point is not None and roles.point.lat.path == "lon" and "swapped" in roles.point.reason


def test_a_match_says_why() -> None:
    onto = default_ontology()
    (humidity,) = [f for f in profile_records(STATIONS, decimal=",") if f.path == "hum_pct"]
    score = score_field(humidity, onto.attribute("WeatherObserved", "relativeHumidity"))  # type: ignore[arg-type]
    assert score.value == pytest.approx(0.9)  # 0.6 x 1 + 0.4 x 0.75: humidity is the head word
    assert score.reason == "'hum' ~ relativeHumidity (name 'humidity')"
    # an enumeration the values are in wins over a closer name whose enumeration they are not in
    lights = [{"estado": v} for v in ("on", "off", "on", "fault")]
    (state,) = profile_records(lights)
    power = score_field(state, onto.attribute("Streetlight", "powerState"))  # type: ignore[arg-type]
    status = score_field(state, onto.attribute("Streetlight", "status"))  # type: ignore[arg-type]
    assert power.value > status.value and "2 of its 3 values name a value of the enumeration" in power.reason


def test_a_new_citys_feed_is_drafted_ranked_converted_and_checked() -> None:
    ranked = draft_mapping(csv_payload(STATIONS), name="estaciones.csv").ranking
    # AirQualityObserved also has temperature, humidity, pressure and wind in Smart Data Models
    assert {r.type for r in ranked[:2]} == {"WeatherObserved", "AirQualityObserved"}
    draft = draft_mapping(
        csv_payload(STATIONS), name="estaciones.csv", type_name="WeatherObserved", tz="Europe/Madrid"
    )
    assert draft.type == "WeatherObserved" and draft.ranking == []
    mapping = load_mapping("estaciones.yaml", text=draft.text)
    assert lint_mapping(mapping, default_ontology()) == []
    assert "scale 0.01" in draft.text and "# not matched" in draft.text and "nota" in draft.text
    entity = Translator(mapping).translate_record(
        read_sample(csv_payload(STATIONS), name="s.csv").records[0]
    )[0]
    assert entity["id"] == "urn:ngsi-ld:WeatherObserved:EST-1"
    assert entity["temperature"]["value"] == 13.5 and entity["temperature"]["unitCode"] == "CEL"
    assert entity["relativeHumidity"]["value"] == 0.61
    assert entity["atmosphericPressure"]["value"] == 1013
    assert entity["windSpeed"]["value"] == 3.2
    assert entity["dateObserved"]["value"]["@value"] == "2024-05-13T23:00:00Z"  # Madrid, summer time
    assert entity["location"]["value"]["coordinates"] == [-3.7038, 40.4168]


def test_a_unit_the_ontology_does_not_want_is_converted() -> None:
    draft = draft_mapping(
        (EXAMPLES / "water-quality.csv").read_bytes(), name="w.csv", type_name="WaterQualityObserved"
    )
    assert "unit: FAH, unitCode: CEL" in draft.text  # temperatura_F
    assert "unit: G42, unitCode: D10" in draft.text  # conductivity by its values: median 286


def test_drafting_is_deterministic() -> None:
    payload = (EXAMPLES / "streetlights.xml").read_bytes()
    assert draft_mapping(payload, name="s.xml").text == draft_mapping(payload, name="s.xml").text


def test_an_unknown_type_names_the_close_ones() -> None:
    with pytest.raises(ConfigError, match="did you mean ParkingSpot"):
        draft_mapping(b"[]", type_name="ParkingSpots")


def test_the_command_writes_a_draft_that_passes_check(tmp_path: Path) -> None:
    out = tmp_path / "parking.yaml"
    result = CliRunner().invoke(
        cli, ["draft", str(EXAMPLES / "parking.json"), "--type", "ParkingSpot", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "urn:ngsi-ld:ParkingSpot:{ayto:idSensor}" in out.read_text()
    assert CliRunner().invoke(cli, ["check", str(out)]).exit_code == 0
    ranked = CliRunner().invoke(cli, ["draft", str(EXAMPLES / "traffic.json")])
    assert ranked.exit_code == 0 and "1. TrafficFlowObserved" in ranked.output
    missing = CliRunner().invoke(cli, ["draft", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_the_playground_drafts_with_a_read_key(monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        payload = (EXAMPLES / "traffic.json").read_text()
        assert_problem(await client.post("/playground/draft", json={"payload": payload}), 401, "unauthorized")
        key = headers(SANTANDER_READ, "santander")
        answer = (await client.post("/playground/draft", json={"payload": payload}, headers=key)).json()
        assert answer["type"] == "TrafficFlowObserved" and answer["ranking"][0]["reasons"]
        assert answer["mapping"].startswith("# Drafted by") and answer["attributes"] >= 3
        # the count is every attribute proposed, not only the fields matched by name: GBFS's
        # bikes left binned to status are one more than its matches
        stations = (EXAMPLES.parent / "vendors" / "gbfs" / "station_status.json").read_text()
        asked = {"payload": stations, "type": "BikeHireDockingStation"}
        counted = (await client.post("/playground/draft", json=asked, headers=key)).json()["attributes"]
        draft = draft_mapping(stations.encode(), type_name="BikeHireDockingStation")
        assert counted == draft.proposed == len(draft.matches) + 1
        tried = await client.post(
            "/playground", json={"mapping": answer["mapping"], "payload": payload}, headers=key
        )
        assert tried.json()["problems"] == [] and tried.json()["entity_count"] == 30
        bad = await client.post("/playground/draft", json={"payload": payload, "type": "Nope"}, headers=key)
        assert_problem(bad, 400, "bad-request")
        assert_problem(await client.post("/playground/draft", json={}, headers=key), 400, "bad-request")
        monkeypatch.setattr(drafts, "_RUNNING", threading.BoundedSemaphore(1))
        drafts._RUNNING.acquire()  # one draft is running: the limit
        busy = await client.post("/playground/draft", json={"payload": payload}, headers=key)
        assert_problem(busy, 503, "busy")

    run(body)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "EntitiesForbidden"),
        (b"<x><y>", "cannot read the sample"),
        (b"[" * 100_000, "RecursionError"),
        (b'{"a": [1, 2', "no record found"),
    ],
    ids=["xml-entities", "broken-xml", "deep-json", "broken-json"],
)
def test_a_sample_that_cannot_be_read_is_a_clear_error(payload: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        draft_mapping(payload, name="vendor-export")


@pytest.mark.parametrize(
    "payload", [b"{}", b'[{"x": null}]', b"a,b\n1,2\n"], ids=["empty", "null", "nothing"]
)
def test_a_sample_that_matches_nothing_still_gives_a_draft_that_passes_check(payload: bytes) -> None:
    draft = draft_mapping(payload, name="vendor")
    assert lint_mapping(load_mapping("vendor.yaml", text=draft.text), default_ontology()) == []


def test_a_list_beside_the_documents_time_is_read_with_each() -> None:
    feed = {
        "last_updated": 1796364000,
        "summary": {"items": 2},
        "data": {"docks": [{"dock_id": "a-1", "temp_c": 7.5}, {"dock_id": "b-2", "temp_c": 9.0}]},
    }
    draft = draft_mapping(json.dumps(feed).encode(), name="docks.json", type_name="WeatherObserved")
    assert draft.sample.each == "data.docks" and "records" not in draft.sample.options
    mapping = load_mapping("draft.yaml", text=draft.text)
    assert lint_mapping(mapping, default_ontology()) == []
    entities = Translator(mapping).translate_record(feed)
    assert [e["id"] for e in entities] == [f"urn:ngsi-ld:WeatherObserved:{k}" for k in ("a-1", "b-2")]
    assert [e["temperature"]["value"] for e in entities] == [7.5, 9.0]
    assert entities[0]["temperature"]["observedAt"] == "2026-12-04T06:00:00Z"  # the document's time
    # paging counts beside the list are no reason for each: the list is the records
    del feed["last_updated"]
    assert read_sample(json.dumps(feed).encode(), name="docks.json").options == {"records": "data.docks[*]"}


def test_a_list_of_named_measurements_is_read_by_selection() -> None:
    uplink = {
        "device": "ws-1",
        "messages": [
            {"type": "Air Temperature", "measurementValue": 1.8},
            {"type": "Wind Speed", "measurementValue": 1.3},
        ],
    }
    fields = profile_records([uplink])
    paths = [f.path for f in fields]
    assert "messages[?type == 'Wind Speed'].measurementValue" in paths
    draft = draft_mapping(json.dumps(uplink).encode(), name="ws.ndjson", type_name="WeatherObserved")
    mapping = load_mapping("draft.yaml", text=draft.text)
    assert lint_mapping(mapping, default_ontology()) == []
    [entity] = Translator(mapping).translate_record(uplink)
    assert entity["windSpeed"]["value"] == 1.3
    # a list whose names repeat is not a list of measurements: its first item is profiled
    repeated = {"messages": [{"type": "a", "value": 1}, {"type": "a", "value": 2}]}
    assert [f.path for f in profile_records([repeated])] == ["messages[0].type", "messages[0].value"]


def test_an_xml_reference_element_gives_the_id_and_the_records_name_is_context() -> None:
    xml = b"""<publication><status><statusOccupancy>46.1</statusOccupancy>
      <statusReference id="24276[Turmcenter]" version="1.0"/></status>
      <status><statusOccupancy>91.3</statusOccupancy><statusReference id="24281[Borse]" version="1.0"/></status>
    </publication>"""
    draft = draft_mapping(xml, name="parking.xml", type_name="OffStreetParking")
    assert draft.roles.id is not None and draft.roles.id.field.path == 'statusReference["@id"]'
    assert {m.attribute.name: m.field.path for m in draft.matches}["occupancy"] == "statusOccupancy"
    mapping = load_mapping("draft.yaml", text=draft.text)
    assert lint_mapping(mapping, default_ontology()) == []
