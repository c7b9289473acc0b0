"""``/mappings`` and ``/queries``: what the console's playground and SPARQL page start from, and
where a golden sample may be saved (a configured feed's mapping, never an example)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from test_service import EVERYWHERE, PORTO, SANTANDER, SANTANDER_READ, assert_problem, headers
from test_service_playground import WEATHER, readings
from test_service_status import ROOT, Console, configured

HOOK = "{webhook: {api_key: hook-key-0123456789abcdef}}"
FEEDS = f"""\
  - {{id: weather, tenant: santander, mapping: weather.yaml, source: {HOOK}}}
  - {{id: weather-2, tenant: santander, mapping: weather.yaml, source: {HOOK}}}
  - {{id: parking, tenant: porto, mapping: other/santander-parking.yaml, source: {HOOK}}}
  - {{id: broken, mapping: broken.yaml, source: {HOOK}}}"""


def served(tmp_path: Path, body: Callable[[Console], Awaitable[None]], *, queries: bool = True) -> None:
    (tmp_path / "weather.yaml").write_text(WEATHER)
    (tmp_path / "other").mkdir()
    shutil.copy(ROOT / "mappings/santander-parking.yaml", tmp_path / "other/santander-parking.yaml")
    (tmp_path / "broken.yaml").write_text(WEATHER)  # broken once the service runs
    (tmp_path / "q.rq").write_text(
        "# How many things are there?\nSELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }\n"
    )
    feeds = FEEDS + ("\nqueries: [q.rq, missing.rq]" if queries else "")

    async def main() -> None:
        async with configured(tmp_path, feeds) as console:
            await body(console)

    asyncio.run(main())


async def get(console: Console, path: str, key: str = EVERYWHERE, tenant: str | None = None) -> Any:
    response = await console.client.get(path, headers=headers(key, tenant))
    assert response.status_code == 200, response.text
    return response.json()


async def save(console: Console, name: str, body: Any, key: str = SANTANDER) -> Any:
    return await console.client.post(
        f"/mappings/{name}/samples", json=body, headers=headers(key, "santander")
    )


def test_the_configured_mappings_come_first_then_the_examples(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        (console.config.parent / "broken.yaml").write_text("id: [\n")
        listed = (await get(console, "/mappings"))["mappings"]
        names = [item["name"] for item in listed]
        assert names[:3] == ["weather", "santander-parking", "broken"]
        weather, parking, broken = listed[:3]
        assert weather == {
            "name": "weather",
            "path": weather["path"],
            "feeds": ["weather", "weather-2"],
            "writable": True,
            "id": "weather",
            "entity_types": ["WeatherObserved"],
            "format": "json",
        }
        assert weather["path"] == "weather.yaml"  # relative to the configuration
        assert parking["path"] == "other/santander-parking.yaml"
        assert parking["entity_types"] == ["ParkingSpot", "Device"] and parking["feeds"] == ["parking"]
        assert (
            broken["problem"].startswith(str(console.config.parent / "broken.yaml")) and broken["id"] is None
        )
        examples = {item["name"]: item for item in listed[3:]}
        # the example of the same stem as a configured mapping is still offered, under another name
        assert examples["santander-parking-2"]["path"] == "mappings/santander-parking.yaml"
        assert not any(item["writable"] or item["feeds"] for item in examples.values())
        assert {path.stem for path in (ROOT / "mappings").glob("*.yaml")} <= {*examples, "santander-parking"}

        one = await get(console, "/mappings/weather", SANTANDER_READ, "santander")
        assert one["text"] == WEATHER and (one["sample"], one["sample_name"]) == (None, None)
        example = await get(console, "/mappings/santander-parking-2")
        assert example["sample_name"] == "parking"  # its samples: list
        assert example["sample"] == (ROOT / "examples/santander/parking.json").read_text()
        assert_problem(
            await console.client.get("/mappings/nope", headers=headers(EVERYWHERE)), 404, "not-found"
        )
        assert_problem(await console.client.get("/mappings"), 401, "unauthorized")

    served(tmp_path, body)


def test_a_sample_is_saved_beside_a_configured_mapping_only(tmp_path: Path) -> None:
    async def body(console: Console) -> None:
        sample = {"sample_name": "two-readings", "payload": readings("20", "21")}
        saved = await save(console, "weather", sample)
        assert saved.status_code == 201, saved.text
        assert saved.json()["entities"] == 2 and saved.json()["expected"].endswith(
            "two-readings.expected.ndjson"
        )
        now = await get(console, "/mappings/weather")
        assert (now["sample_name"], now["sample"]) == ("two-readings", sample["payload"])
        again = await save(console, "weather", {**sample, "payload": readings("5")})  # replaced
        assert again.status_code == 201 and again.json()["entities"] == 1

        assert_problem(await save(console, "santander-parking-2", sample), 409, "read-only-mapping")
        assert_problem(await save(console, "weather", sample, SANTANDER_READ), 403, "forbidden")
        assert_problem(await save(console, "santander-parking", sample), 403, "forbidden")  # porto's feed
        for name in ("../escape", "a.b", "", "x" * 65, " spaced"):
            assert_problem(
                await save(console, "weather", {**sample, "sample_name": name}), 400, "bad-request"
            )
        assert_problem(await save(console, "weather", {"sample_name": "x"}), 400, "bad-request")
        assert_problem(await save(console, "nope", sample), 404, "not-found")
        (console.config.parent / "broken.yaml").write_text(WEATHER.replace("cast: float", "cast: flot"))
        porto = await console.client.post(
            "/mappings/broken/samples", json=sample, headers=headers(PORTO)
        )  # the default tenant's feed
        assert_problem(porto, 422, "mapping-invalid")

    served(tmp_path, body)
    assert sorted(p.name for p in (tmp_path / "samples" / "weather").iterdir()) == [
        "two-readings.expected.ndjson",
        "two-readings.json",
    ]
    assert not (ROOT / "mappings" / "samples").exists()  # nothing was written beside the examples


def test_the_questions_are_the_configurations_or_else_the_examples(tmp_path: Path) -> None:
    async def configured_ones(console: Console) -> None:
        assert (await get(console, "/queries"))["queries"] == [
            {
                "name": "q",
                "title": "How many things are there?",
                "query": (console.config.parent / "q.rq").read_text(),
            }
        ]  # a missing file is left out

    (tmp_path / "a").mkdir()
    served(tmp_path / "a", configured_ones)

    async def examples(console: Console) -> None:
        queries = (await get(console, "/queries", SANTANDER_READ, "santander"))["queries"]
        assert [q["name"] for q in queries] == sorted(
            p.stem for p in (ROOT / "examples/queries").glob("*.rq")
        )
        parking = next(q for q in queries if q["name"] == "parking-by-status")
        assert parking["title"] == "How many Santander parking spots are free, occupied or unknown right now?"
        assert parking["query"].startswith("# How many")

    (tmp_path / "b").mkdir()
    served(tmp_path / "b", examples, queries=False)
