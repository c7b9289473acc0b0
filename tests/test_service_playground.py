"""``POST /playground``: a mapping tried on a payload, as the console's editor sends them as you type;
and a payload kept as a golden sample that ``contextbridge test`` then runs."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_service import SANTANDER, SANTANDER_READ, assert_problem, headers, run
from test_service_status import ROOT, Console, configured
from typer.testing import CliRunner

import contextbridge.service.playground as playground
from contextbridge import load_mapping
from contextbridge.authoring.golden import run_samples
from contextbridge.cli import app as cli

WEATHER = """\
id: weather
source: {format: json}
entities:
  - id: "urn:ngsi-ld:WeatherObserved:santander:{sensor}"
    type: WeatherObserved
    observedAt: {from: time, format: iso8601}
    attributes:
      temperature: {from: t, cast: float, unitCode: CEL}
"""
TEMPERATURE = "https://smartdatamodels.org/dataModel.Weather/temperature"


def readings(*values: str) -> str:
    return json.dumps(
        [{"sensor": f"s{n}", "t": value, "time": "2026-11-25T10:00:00Z"} for n, value in enumerate(values)]
    )


async def attempt(client: httpx.AsyncClient, mapping: str, payload: str, **more: Any) -> dict[str, Any]:
    body = {"mapping": mapping, "payload": payload, **more}
    response = await client.post("/playground", json=body, headers=headers(SANTANDER_READ, "santander"))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def errors(answer: dict[str, Any], origin: str) -> list[dict[str, Any]]:
    return [p for p in answer["problems"] if p["origin"] == origin]


def test_the_entities_follow_the_mapping_as_it_is_edited() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        first = await attempt(client, WEATHER, readings("21.5", "x"))
        assert (first["records"], first["entity_count"]) == (2, 1)
        (entity,) = first["entities"]
        assert entity["id"] == "urn:ngsi-ld:WeatherObserved:santander:s0"
        assert entity["temperature"]["value"] == 21.5 and entity["temperature"]["unitCode"] == "CEL"
        (rejected,) = first["rejected"]
        assert (rejected["record"], rejected["field"], rejected["kind"]) == (2, "t", "transform")
        assert "not a number" in rejected["reason"]
        assert first["problems"] == []
        assert (
            f"<{TEMPERATURE}>" in first["triples"]
            and first["triple_count"] == first["triples"].count("\n") > 0
        )
        assert 0 < first["took_ms"] < 5000

        edited = WEATHER.replace("{sensor}", "{sensor|upper}").replace(
            "unitCode: CEL", "scale: 10, unitCode: CEL"
        )
        second = await attempt(client, edited, readings("21.5", "x"))
        (entity,) = second["entities"]
        assert entity["id"] == "urn:ngsi-ld:WeatherObserved:santander:S0"
        assert entity["temperature"]["value"] == 215.0

        many = await attempt(client, WEATHER, readings(*[str(n) for n in range(30)]), limit=5)
        assert (many["entity_count"], len(many["entities"])) == (30, 5)
        assert many["triples"].count(TEMPERATURE) == 5  # the triples of the entities shown

    run(body)


def test_a_broken_mapping_is_answered_with_its_problems_and_their_lines() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        typo = await attempt(client, WEATHER.replace("cast: float", "cast: flot"), readings("1"))
        assert typo["entities"] == [] and typo["records"] == 0
        (problem,) = typo["problems"]
        assert (problem["severity"], problem["origin"], problem["line"]) == ("error", "mapping", 8)
        assert "flot" in problem["message"] and "temperature" in problem["message"]

        twice = WEATHER.replace("cast: float", "cast: flot") + "      humidity: {from: h, scale: many}\n"
        lines = sorted(p["line"] for p in (await attempt(client, twice, readings("1")))["problems"])
        assert lines == [8, 9]  # every mistake, each at its line

        compiled = await attempt(client, WEATHER.replace("{sensor}", "{sensor|nope}"), readings("1"))
        (problem,) = compiled["problems"]
        assert problem["line"] == 4 and "unknown template filter 'nope'" in problem["message"]

        cut = await attempt(client, WEATHER[:60] + "\n  - [", readings("1"))
        assert cut["problems"][0]["message"].startswith("invalid YAML") and cut["problems"][0]["line"]

        unreadable = await attempt(client, WEATHER, "[{not json")
        assert unreadable["entities"] == [] and unreadable["rejected"][0]["kind"] == "format"

    run(body)


def test_lint_and_validation_problems_point_at_the_mapping_and_the_entities() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        misspelled = WEATHER + "      temprature: {from: t, cast: float}\n"
        answer = await attempt(client, misspelled, readings("3"))
        (lint,) = errors(answer, "lint")
        assert (lint["severity"], lint["line"]) == ("warning", 9)
        assert "temprature" in lint["message"] and "temperature" in lint["message"]  # the suggestion
        (invalid,) = errors(answer, "validation")
        assert invalid["message"].startswith("urn:ngsi-ld:WeatherObserved:santander:s0")
        assert answer["entity_count"] == 1  # a warning does not stop the trial

        unknown = await attempt(
            client, WEATHER.replace("type: WeatherObserved", "type: WeatherObservation"), readings("3")
        )
        assert "did you mean WeatherObserved" in errors(unknown, "lint")[0]["message"]
        (invalid,) = errors(unknown, "validation")
        assert "'WeatherObservation' is not a class of the ontology" in invalid["message"]

    run(body)


def test_requests_are_checked() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        assert_problem(
            await client.post("/playground", json={"mapping": WEATHER, "payload": "[]"}), 401, "unauthorized"
        )
        for bad in (
            {"mapping": WEATHER},
            {"mapping": 1, "payload": ""},
            {"mapping": WEATHER, "payload": "", "limit": 5000},
            [],
        ):
            response = await client.post("/playground", json=bad, headers=headers(SANTANDER, "santander"))
            assert_problem(response, 400, "bad-request")
        unknown = await client.post(
            "/playground",
            json={"mapping": WEATHER, "payload": "[]", "name": "nope"},
            headers=headers(SANTANDER, "santander"),
        )
        assert_problem(unknown, 404, "not-found")
        huge = await client.post(
            "/playground",
            json={"mapping": WEATHER, "payload": "x" * 5_000_000},
            headers=headers(SANTANDER, "santander"),
        )
        assert_problem(huge, 413, "payload-too-large")

    run(body)


def test_a_long_trial_stops_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(playground, "TIMEOUT", 0.0)  # stop after the first record

    async def body(client: httpx.AsyncClient) -> None:
        payload = readings(*[str(n % 40) for n in range(1000)])
        started = time.monotonic()
        answer = await attempt(client, WEATHER, payload, limit=1)
        assert time.monotonic() - started < 10
        (stopped,) = [p for p in answer["problems"] if p["message"].startswith("stopped after")]
        assert (
            (stopped["origin"], stopped["severity"]) == ("payload", "warning")
            and answer["entity_count"] == 1
            and answer["records"] == 1
        )

        monkeypatch.setattr(playground, "GIVE_UP", 0.3)

        def stuck(*args: Any, **kwargs: Any) -> Any:  # a trial that never looks at the clock
            time.sleep(1.0)
            return playground.Trial()

        monkeypatch.setattr(playground.Playground, "run", stuck)
        started = time.monotonic()
        response = await client.post(
            "/playground", json={"mapping": WEATHER, "payload": "[]"}, headers=headers(SANTANDER, "santander")
        )
        assert_problem(response, 504, "playground-timeout")
        assert time.monotonic() - started < 0.9  # abandoned, not awaited

    run(body)


THIN_PAYLOAD = '{"sensor": "3101", "time": "2024-05-14T08:45:57Z", "occupied": 1, "battery": 90}\n'


def lookup(path: str, kind: str = "csv") -> str:
    mapping = (ROOT / "mappings/santander-parking-thin.yaml").read_text()
    return mapping.replace("csv: ../examples/santander/parking-sensors.csv", f"{kind}: {path}")


def test_lookups_only_read_the_files_beside_the_named_mapping() -> None:
    thin = (ROOT / "mappings/santander-parking-thin.yaml").read_text()

    async def body(client: httpx.AsyncClient) -> None:
        named = await attempt(client, thin, THIN_PAYLOAD, name="santander-parking-thin")
        assert named["problems"] == [] and named["entity_count"] == 2
        assert named["entities"][0]["location"]["value"]["type"] == "Point"  # from the sensor inventory

        anonymous = await attempt(client, thin, THIN_PAYLOAD)
        assert "needs the mapping's name" in errors(anonymous, "mapping")[0]["message"]
        for path in ("/etc/passwd", "../../../../../../etc/passwd", "../pyproject.toml"):
            outside = await attempt(client, lookup(path), THIN_PAYLOAD, name="santander-parking-thin")
            (problem,) = errors(outside, "mapping")
            assert problem["line"] == 14 and "under the mapping's directory" in problem["message"]
            assert outside["entities"] == []
        remote = await attempt(
            client,
            lookup("{url: 'http://127.0.0.1:9/sensors.csv', format: csv}", "http"),
            THIN_PAYLOAD,
            name="santander-parking-thin",
        )
        assert any("no HTTP, SQL or registry" in p["message"] for p in errors(remote, "mapping")), remote

    run(body)


def test_a_saved_sample_is_run_by_contextbridge_test(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples/santander/parking.json", tmp_path / "parking.json")
    mapping = tmp_path / "weather.yaml"
    mapping.write_text(WEATHER)
    feeds = "  - {id: weather, tenant: santander, mapping: weather.yaml, source: {webhook: {api_key: hook-key-0123456789abcdef}}}"

    async def body(console: Console) -> None:
        sent = {"sample_name": "busy-hour", "payload": readings("21.5", "x", "19")}
        saved = await console.client.post(
            "/mappings/weather/samples", json=sent, headers=headers(SANTANDER, "santander")
        )
        assert saved.status_code == 201, saved.text
        assert saved.json()["name"] == "busy-hour" and saved.json()["entities"] == 2
        assert saved.json()["sample"].endswith("samples/weather/busy-hour.json")

    async def main() -> None:
        async with configured(tmp_path, feeds) as console:
            await body(console)

    asyncio.run(main())
    folder = tmp_path / "samples" / "weather"
    assert sorted(p.name for p in folder.iterdir()) == ["busy-hour.expected.ndjson", "busy-hour.json"]
    (result,) = run_samples(load_mapping(mapping))
    assert result.ok and result.sample.input == folder / "busy-hour.json" and len(result.rejected) == 1
    outcome = CliRunner().invoke(cli, ["test", str(mapping)])
    assert outcome.exit_code == 0, outcome.output
    assert (
        "busy-hour.json: ok (1 rejected records)" in outcome.output
        and "1 samples, 0 failed" in outcome.output
    )

    mapping.write_text(
        WEATHER.replace("unitCode: CEL", "unitCode: FAH")
    )  # the mapping changes: the sample tells
    outcome = CliRunner().invoke(cli, ["test", str(mapping)])
    assert outcome.exit_code == 1 and "FAH" in outcome.output


def test_a_posted_mapping_names_no_ontology_file_of_the_server() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        for named in ("/etc/hostname", "../../../../etc/hostname", "nowhere.ttl"):
            answer = await attempt(client, WEATHER + f"ontology: {named}\n", readings("1"))
            (problem,) = answer["problems"]
            assert (
                problem["message"] == "ontology: the playground reads ontology files beside the mapping only"
            )
            assert answer["entities"] == []

    run(body)
