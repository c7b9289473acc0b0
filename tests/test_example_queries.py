"""The analyst's example questions: each ``examples/queries/<name>.rq`` answers ``<name>.expected.csv``.

The Santander example feeds are translated once, as ``contextbridge run`` translates them (the
feeds of ``examples/santander/contextbridge.yaml``, each input through its mapping, in order),
and loaded into an in-memory embedded store and into a real ``oxigraph serve``. On both, every
question's answer, in the SPARQL CSV format, is its expected file line for line.

An expected file was written once from the query's own answer, so it could repeat a mistake of
the query. The checks at the end recompute several answers from the translated entities in
Python, without SPARQL (haversine distances, subclasses through the ontology, counts), and
compare them with the expected files.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib.compare import isomorphic

from contextbridge import (
    Converter,
    RecordError,
    Translator,
    default_ontology,
    format_result,
    load_config,
    load_mapping,
)
from contextbridge.entities.rdf.geo import WGS84_LAT, WGS84_LONG, point_position
from contextbridge.runtime.config import default_config_path
from contextbridge.sinks.graph import EmbeddedStore, EndpointStore

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "examples" / "queries"
QUESTIONS = sorted(QUERIES.glob("*.rq"))
TENANT = "example-queries"
STORES = ("embedded", "embedded, every graph", "endpoint", "endpoint, every graph")
EARTH_RADIUS = 6_371_008.8  # metres, the mean radius (IUGG)
TOWN_HALL = (-3.8099, 43.4623)  # Plaza del Ayuntamiento, (longitude, latitude)
ONTOLOGY = default_ontology()

Entity = dict[str, Any]


def translate_santander() -> list[Entity]:
    """Every entity of the Santander example feeds, in the order ``contextbridge run`` sends them."""
    entities: list[Entity] = []
    for feed in load_config(default_config_path()).feeds:
        translator = Translator(load_mapping(feed.mapping))
        for path in sorted(feed.base.glob(feed.source["file"])):  # the example feeds are files
            with path.open("rb") as stream:
                for outcome in translator.translate_stream(stream, source=path.name):
                    if not isinstance(outcome, RecordError):
                        entities.append(outcome)
    return entities


async def load_and_ask(
    store: EmbeddedStore | EndpointStore, entities: list[Entity], *, ask: str | None = TENANT
) -> dict[str, str]:
    """Load the entities in the tenant ``TENANT``; every question's answer, asked of ``ask``
    (``None``: every graph of the store, which then holds nothing else)."""
    try:
        await store.clear(tenant=TENANT if ask is not None else None)
        await store.load_ontology()
        report = await store.upsert(entities, tenant=TENANT)
        assert report.refused == ()
        return {
            q.name: format_result(await store.query(q.read_text("utf-8"), tenant=ask), "csv")
            for q in QUESTIONS
        }
    finally:
        await store.close()


@pytest.fixture(scope="module")
def entities() -> list[Entity]:
    return translate_santander()


@pytest.fixture(scope="module")
def latest(entities: list[Entity]) -> dict[str, Entity]:
    """What the graph holds: the last version of each entity."""
    return {entity["id"]: entity for entity in entities}


@pytest.fixture(scope="module")
def answers(entities: list[Entity], oxigraph_server: str) -> dict[str, dict[str, str]]:
    """Store → question file name → its answer as SPARQL CSV."""

    async def every_store() -> dict[str, dict[str, str]]:
        return {
            "embedded": await load_and_ask(EmbeddedStore(), entities),
            # `contextbridge run` and `contextbridge sparql` ask every graph at once (tenant=None).
            "embedded, every graph": await load_and_ask(EmbeddedStore(), entities, ask=None),
            "endpoint": await load_and_ask(EndpointStore(oxigraph_server), entities),
            "endpoint, every graph": await load_and_ask(EndpointStore(oxigraph_server), entities, ask=None),
        }

    return asyncio.run(every_store())


def expected_path(query: Path) -> Path:
    return query.with_name(query.stem + ".expected.csv")


def expected_rows(name: str) -> list[dict[str, str]]:
    text = (QUERIES / f"{name}.expected.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


# -- the questions, on both stores ------------------------------------------------------------


def test_every_question_has_an_expected_answer_and_asks_in_words() -> None:
    assert len(QUESTIONS) >= 7
    missing = [q.name for q in QUESTIONS if not expected_path(q).is_file()]
    assert missing == [], f"no <name>.expected.csv for {missing}"
    orphans = sorted(
        p.name
        for p in QUERIES.glob("*.expected.csv")
        if not (QUERIES / p.name.replace(".expected.csv", ".rq")).is_file()
    )
    assert orphans == []
    for query in QUESTIONS:
        first = query.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# ") and first.endswith("?"), f"{query.name} must open with its question"


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("query", QUESTIONS, ids=lambda q: q.stem)
def test_question_gives_its_expected_answer(
    answers: dict[str, dict[str, str]], store: str, query: Path
) -> None:
    expected = expected_path(query).read_text(encoding="utf-8").splitlines()
    assert answers[store][query.name].splitlines() == expected
    assert len(expected) >= 2, "an example question needs a non-empty answer"


# -- the same answers, computed without SPARQL --------------------------------------------------


def haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle metres between two (longitude, latitude) points: the exact formula, not the query's."""
    (lon1, lat1), (lon2, lat2) = ((math.radians(x), math.radians(y)) for x, y in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS * math.asin(math.sqrt(h))


def position(entity: Entity) -> tuple[float, float]:
    found = point_position(entity["location"]["value"])
    assert found is not None
    return found


def of_type(latest: dict[str, Entity], name: str) -> list[Entity]:
    return [entity for entity in latest.values() if entity["type"] == name]


def value(entity: Entity, attribute: str) -> Any:
    found = entity.get(attribute)
    return found.get("value", found.get("object")) if isinstance(found, dict) else None


def assert_unambiguous(distances: Iterator[float], radius: float) -> None:
    """No point lies so close to the radius that an approximation could move it across."""
    assert all(abs(d - radius) > 5 for d in distances)


def test_free_parking_near_town_hall(latest: dict[str, Entity]) -> None:
    spots = of_type(latest, "ParkingSpot")
    distance = {spot["id"]: haversine(TOWN_HALL, position(spot)) for spot in spots}
    assert_unambiguous(iter(distance.values()), 500)
    free = sorted(
        (distance[s["id"]], s["id"], value(s, "refParkingSite"), s["status"]["observedAt"])
        for s in spots
        if value(s, "status") == "free" and distance[s["id"]] <= 500
    )
    rows = expected_rows("free-parking-near-town-hall")
    assert [(r["spot"], r["parkingSite"], r["observedAt"]) for r in rows] == [f[1:] for f in free]
    for row, (metres, *_) in zip(rows, free, strict=True):
        assert abs(int(row["metres"]) - metres) <= 1
    assert 0 < len(free) < sum(value(s, "status") == "free" for s in spots)  # the radius does select


def test_full_containers_near_free_parking(latest: dict[str, Entity]) -> None:
    pairs = []
    free = [s for s in of_type(latest, "ParkingSpot") if value(s, "status") == "free"]
    for container in of_type(latest, "WasteContainer"):
        fill = value(container, "fillingLevel")
        if fill is None or fill <= 0.5:
            continue
        for spot in free:
            metres = haversine(position(container), position(spot))
            assert abs(metres - 250) > 5
            if metres <= 250:
                pairs.append((-fill, container["id"], metres, spot["id"], value(spot, "refParkingSite")))
    pairs.sort()
    rows = expected_rows("full-containers-near-free-parking")
    assert [(r["container"], int(r["fillPercent"]), r["spot"], r["parkingSite"]) for r in rows] == [
        (c, round(-f * 100), s, site) for f, c, _, s, site in pairs
    ]
    for row, pair in zip(rows, pairs, strict=True):
        assert abs(int(row["metres"]) - pair[2]) <= 1


def test_noise_near_air_quality_stations(latest: dict[str, Entity]) -> None:
    noise = of_type(latest, "NoiseLevelObserved")
    found: list[tuple[Any, ...]] = []
    for station in of_type(latest, "AirQualityObserved"):
        near = sorted(
            (haversine(position(station), position(n)), n["id"], value(n, "LAeq"))
            for n in noise
            if haversine(position(station), position(n)) <= 300
        )
        head = (value(station, "name"), value(station, "no2"), value(station, "pm10"))
        found += [(*head, n_id, laeq, metres) for metres, n_id, laeq in near] or [(*head, "", None, None)]
    found.sort(key=lambda row: (row[0], row[5] or 0))
    rows = expected_rows("noise-near-air-quality-stations")
    assert len(rows) == len(found)
    for row, (station, no2, pm10, sensor, laeq, metres) in zip(rows, found, strict=True):
        assert (row["station"], float(row["no2"]), float(row["pm10"]), row["noiseSensor"]) == (
            station,
            no2,
            pm10,
            sensor,
        )
        if sensor:
            assert float(row["LAeq"]) == laeq and abs(int(row["metres"]) - metres) <= 1
        else:
            assert row["LAeq"] == row["metres"] == ""


def test_observations_by_type_through_the_ontology(latest: dict[str, Entity]) -> None:
    counts = Counter(
        e["type"] for e in latest.values() if ONTOLOGY.is_subclass(e["type"], "sosa:Observation")
    )
    rows = expected_rows("observations-by-type")
    assert {(r["type"], r["label"], int(r["observations"])) for r in rows} == {
        (ONTOLOGY.classes[t].iri, ONTOLOGY.classes[t].label, n) for t, n in counts.items()
    }
    assert [int(r["observations"]) for r in rows] == sorted(counts.values(), reverse=True)
    assert "ParkingSpot" not in counts and "Device" not in counts


def test_parking_by_status(latest: dict[str, Entity]) -> None:
    counts = Counter(value(spot, "status") for spot in of_type(latest, "ParkingSpot"))
    assert {r["status"]: int(r["spots"]) for r in expected_rows("parking-by-status")} == counts


def test_streetlight_faults(latest: dict[str, Entity]) -> None:
    faulty = {
        light["id"]: (
            value(light, "status"),
            value(light, "refStreetlightControlCabinet"),
            value(light, "circuit"),
        )
        for light in of_type(latest, "Streetlight")
        if value(light, "status") != "ok"
    }
    rows = expected_rows("streetlight-faults")
    assert {r["streetlight"]: (r["status"], r["cabinet"], r["circuit"]) for r in rows} == faulty


def test_low_battery_sensors(latest: dict[str, Entity]) -> None:
    devices = sorted(
        (value(d, "batteryLevel"), d["id"]) for d in of_type(latest, "Device") if "batteryLevel" in d
    )
    serves = {
        attribute["object"]: entity["id"]
        for entity in latest.values()
        for attribute in entity.values()
        if isinstance(attribute, dict) and attribute.get("type") == "Relationship"
    }
    rows = expected_rows("low-battery-sensors")
    assert [(r["device"], int(r["batteryPercent"]), r["serves"]) for r in rows] == [
        (d, round(level * 100), serves[d]) for level, d in devices[:5]
    ]


def test_latest_report_per_type(latest: dict[str, Entity]) -> None:
    times: dict[str, list[datetime]] = {}
    for entity in latest.values():
        found = times.setdefault(entity["type"], [])
        for attribute in entity.values():
            for instance in attribute if isinstance(attribute, list) else [attribute]:
                if isinstance(instance, dict) and "observedAt" in instance:
                    found.append(datetime.fromisoformat(instance["observedAt"]))
    counts = Counter(entity["type"] for entity in latest.values())
    rows = expected_rows("latest-report-per-type")
    assert {r["type"].rsplit("/", 1)[1]: int(r["entities"]) for r in rows} == counts
    for row in rows:
        stamps = times[row["type"].rsplit("/", 1)[1]]
        assert (datetime.fromisoformat(row["latestObservedAt"]) if row["latestObservedAt"] else None) == (
            max(stamps) if stamps else None
        )


# -- the derived WGS84 positions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("geometry", "found"),
    [
        ({"type": "Point", "coordinates": [-3.8, 43.46]}, (-3.8, 43.46)),
        ({"type": "Point", "coordinates": [-3, 43, 12.5]}, (-3.0, 43.0)),
        ({"type": "Point", "coordinates": [43.46, -93.8]}, None),  # latitude out of range
        ({"type": "Point", "coordinates": [True, 43.46]}, None),
        ({"type": "Point", "coordinates": ["-3.8", "43.46"]}, None),
        ({"type": "Point", "coordinates": [-3.8]}, None),
        ({"type": "LineString", "coordinates": [[-3.8, 43.46], [-3.7, 43.5]]}, None),
        ("POINT(-3.8 43.46)", None),
    ],
)
def test_only_a_valid_point_has_a_position(geometry: Any, found: tuple[float, float] | None) -> None:
    assert point_position(geometry) == found


SPOT = {
    "id": "urn:ngsi-ld:ParkingSpot:test:1",
    "type": "ParkingSpot",
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.80356, 43.46297]}},
}


@pytest.mark.parametrize("view", ["ngsi-ld", "direct"])
def test_positions_are_derived_only_when_asked(view: Any) -> None:
    plain = Converter(ONTOLOGY, view=view).ntriples(SPOT)
    derived = Converter(ONTOLOGY, view=view, wgs84=True).ntriples(SPOT)
    assert WGS84_LAT not in plain and WGS84_LONG not in plain
    positions = [line for line in derived.splitlines() if WGS84_LAT in line or WGS84_LONG in line]
    rest = "".join(line + "\n" for line in derived.splitlines() if line not in positions)
    assert isomorphic(
        rdflib.Graph().parse(data=rest, format="nt"), rdflib.Graph().parse(data=plain, format="nt")
    )
    assert [line.split(" ", 1)[1] for line in positions] == [
        f'{WGS84_LAT} "4.346297E1"^^<http://www.w3.org/2001/XMLSchema#double> .',
        f'{WGS84_LONG} "-3.80356E0"^^<http://www.w3.org/2001/XMLSchema#double> .',
    ]
    subject = positions[0].split(" ", 1)[0]
    if view == "direct":
        assert subject == f"<{SPOT['id']}>"
    else:  # on the location attribute's node
        assert f"<{SPOT['id']}> <https://uri.etsi.org/ngsi-ld/location> {subject} ." in derived


def test_an_update_replaces_the_position() -> None:
    moved = {
        **SPOT,
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.8, 43.5]}},
    }
    query = (
        "SELECT ?lat ?long WHERE { ?s <https://uri.etsi.org/ngsi-ld/location> "
        f"[ {WGS84_LAT} ?lat ; {WGS84_LONG} ?long ] }}"
    )

    async def main() -> list[tuple[str, ...]]:
        store = EmbeddedStore()
        await store.upsert([SPOT])
        await store.upsert([moved])
        result = await store.query(query)
        await store.close()
        return [tuple(term.value for term in row if term is not None) for row in result.rows]

    assert asyncio.run(main()) == [("43.5", "-3.8")]


def test_the_stores_derive_positions(oxigraph_server: str) -> None:
    embedded, endpoint = EmbeddedStore(), EndpointStore(oxigraph_server)
    try:
        assert embedded.converter.wgs84 and endpoint.converter.wgs84
    finally:
        asyncio.run(endpoint.close())
