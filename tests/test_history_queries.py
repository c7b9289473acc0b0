"""The history example: a day of readings kept reading by reading, and two questions over the day.

``examples/history/contextbridge.yaml`` has two feeds whose mappings say ``history: true``: a day
of 15-minute NO2/PM10 readings of one air-quality station (``update: replace``) and a day of one
parking sensor's occupancy uplinks (``update: merge``). ``contextbridge run`` takes them through
the outbox into the embedded graph; the same entities upserted into a real ``oxigraph serve`` give
the same answers. Each question's answer is its ``examples/queries/history/<name>.expected.csv``,
and the answers are recomputed here from the input files, without SPARQL.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from contextbridge import RecordError, Translator, format_result, load_config, load_mapping
from contextbridge.cli import app
from contextbridge.sinks.graph import EmbeddedStore, EndpointStore

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "history"
QUERIES = ROOT / "examples" / "queries" / "history"
QUESTIONS = sorted(QUERIES.glob("*.rq"))


def expected(query: Path) -> str:
    return query.with_name(query.stem + ".expected.csv").read_text(encoding="utf-8")


async def ask_all(store: EmbeddedStore | EndpointStore) -> dict[str, str]:
    try:
        return {
            q.name: format_result(await store.query(q.read_text("utf-8"), tenant=None), "csv")
            for q in QUESTIONS
        }
    finally:
        await store.close()


def test_two_questions_over_a_day_with_their_answers() -> None:
    assert [q.name for q in QUESTIONS] == ["no2-hourly-mean.rq", "parking-spot-free-hours.rq"]
    for query in QUESTIONS:
        assert query.read_text("utf-8").startswith("# ") and expected(query).count("\n") > 10


def test_run_keeps_the_day_and_answers_the_questions(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = CliRunner().invoke(app, ["run", str(EXAMPLE / "contextbridge.yaml"), "--state", str(state)],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    answers = asyncio.run(ask_all(EmbeddedStore(state / "graph")))
    for query in QUESTIONS:
        assert answers[query.name].splitlines() == expected(query).splitlines(), query.name


def test_the_endpoint_store_gives_the_same_answers(oxigraph_server: str) -> None:
    async def main() -> dict[str, str]:
        store = EndpointStore(oxigraph_server)
        await store.clear()
        await store.load_ontology()
        config = load_config(EXAMPLE / "contextbridge.yaml")
        for feed in config.feeds:
            mapping = load_mapping(feed.mapping)
            with (feed.base / feed.source["file"]).open("rb") as stream:
                entities = [
                    e for e in Translator(mapping).translate_stream(stream) if not isinstance(e, RecordError)
                ]
            for start in range(0, len(entities), 40):  # in batches, as the drainer sends them
                await store.upsert(entities[start : start + 40], policy=feed.policy(mapping))
        return await ask_all(store)

    answers = asyncio.run(main())
    for query in QUESTIONS:
        assert answers[query.name].splitlines() == expected(query).splitlines(), query.name


def rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(expected(QUERIES / f"{name}.rq"))))


def test_the_hourly_means_recomputed_from_the_readings() -> None:
    readings: dict[int, list[float]] = defaultdict(list)
    text = (EXAMPLE / "air-quality-day.csv").read_text(encoding="latin-1")
    for row in csv.DictReader(io.StringIO(text), delimiter=";"):
        value = float(row["NO2"].replace(",", ".")) if row["NO2"] else None
        if value is None or not 0 <= value <= 1000:  # empty cells and -9999 leave the pollutant out
            continue
        local = datetime.strptime(f"{row['fecha']} {row['hora']}", "%d/%m/%Y %H:%M")
        readings[local.replace(tzinfo=ZoneInfo("Europe/Madrid")).hour].append(value)
    answer = {int(r["hour"]): (float(r["mean"]), int(r["readings"])) for r in rows("no2-hourly-mean")}
    means = {hour: (pytest.approx(sum(v) / len(v), abs=0.0501), len(v)) for hour, v in readings.items()}
    assert answer == means  # the answer's means are rounded to one decimal


def test_the_free_hours_recomputed_from_the_uplinks() -> None:
    states: dict[int, set[str]] = defaultdict(set)
    for line in (EXAMPLE / "parking-day.ndjson").read_text().splitlines():
        uplink = json.loads(line)
        moment = datetime.fromisoformat(uplink["modified"]).astimezone(UTC)
        states[moment.hour].add(uplink["occupied"])
    free = sorted(hour for hour, seen in states.items() if seen == {"0"})
    assert [int(r["hour"]) for r in rows("parking-spot-free-hours")] == free
