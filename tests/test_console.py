"""The web console in a real headless Chromium, against a real ``contextbridge serve``.

One service for the module: a webhook feed of parking spots into the broker double and the
graph, two example questions that give coordinates (lat/long columns, WKT literals), a write key,
the maps' street tiles from a tile server on loopback (``tile_server``), and a day of one spot's
past occupancy in the history graph. The tests run in file order and share the service: the
playground, the SPARQL page and its map (over the tiles, and over the plain grid when there are
none), the entity page, the dead letters (a refused entity replayed once the double accepts it),
the live dashboard, then every page at a laptop and a phone width, with screenshots
(``build/screenshots/``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from broker_double import BrokerDouble, serve
from browser import LAPTOP, PHONE, ConsolePage, launch
from processes import Served
from pyoxigraph import NamedNode, RdfFormat, Store
from tile_server import TileServer, serve_tiles

from contextbridge.sinks.graph import history_graph

KEY = "console-ops-key-0123456789"
READER = "console-reader-key-0123456789"
HOOK_KEY = "console-hook-key-0123456789"
PREFIX = "urn:ngsi-ld:ParkingSpot:test:"
MAPPING = """\
id: spots
source: {format: json}
entities:
  - id: "urn:ngsi-ld:ParkingSpot:test:{id}"
    type: ParkingSpot
    observedAt: {from: time, format: iso8601}
    attributes:
      status: {from: state, map: {"0": free, "1": occupied}, required: true}
      location: {geo: point, lon: lon, lat: lat, required: true}
"""
QUERY_HEAD = """\
PREFIX ngsi-ld: <https://uri.etsi.org/ngsi-ld/>
PREFIX parking: <https://smartdatamodels.org/dataModel.Parking/>
PREFIX wgs84: <http://www.w3.org/2003/01/geo/wgs84_pos#>
"""
SPOTS_QUERY = f"""\
# Where are the test parking spots, and which are free?
{QUERY_HEAD}
SELECT ?spot ?status ?lat ?long
WHERE {{
  ?spot a parking:ParkingSpot ;
        ngsi-ld:status/ngsi-ld:hasValue ?status ;
        ngsi-ld:location [ wgs84:lat ?lat ; wgs84:long ?long ] .
}}
ORDER BY ?spot
"""
WKT_QUERY = f"""\
# The test parking spots as WKT points
{QUERY_HEAD}
SELECT ?spot ?where
WHERE {{
  ?spot a parking:ParkingSpot ; ngsi-ld:location [ wgs84:lat ?lat ; wgs84:long ?long ] .
  BIND(CONCAT("POINT(", STR(?long), " ", STR(?lat), ")") AS ?where)
}}
ORDER BY ?spot
"""


def spot(name: str, state: str = "0", *, lat: float = 43.4623, lon: float = -3.8099) -> dict[str, Any]:
    return {"id": name, "state": state, "lat": lat, "lon": lon, "time": "2026-11-25T10:00:00Z"}


SOSA = "http://www.w3.org/ns/sosa/"
SPOTS = [  # eight spots in a 1 km box of Santander, alternately free and occupied
    spot(f"p{n}", str(n % 2), lat=round(43.46 + n * 0.0011, 6), lon=round(-3.812 + (n * 7 % 5) * 0.0013, 6))
    for n in range(8)
]


OCCUPANCY = "https://smartdatamodels.org/dataModel.Parking/occupancy"


def past_occupancy(entity: str, hours: int = 30) -> str:
    """N-Triples of the history graph: the spot's occupancy (0 or 1) every hour, as a feed with
    ``history: true`` keeps it (``contextbridge.sinks.graph.base``)."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    lines = []
    for hour in range(hours):
        node = f"<urn:test:observation:{hour}>"
        at = (now - timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines += [
            f"{node} <{SOSA}hasFeatureOfInterest> <{entity}> .",
            f"{node} <{SOSA}observedProperty> <{OCCUPANCY}> .",
            f'{node} <{SOSA}hasSimpleResult> "{(hour // 3) % 2}"^^<http://www.w3.org/2001/XMLSchema#integer> .',
            f'{node} <{SOSA}resultTime> "{at}"^^<http://www.w3.org/2001/XMLSchema#dateTime> .',
        ]
    return "\n".join(lines) + "\n"


def keep_history(state: Path, triples: str) -> None:
    """Past values in the default tenant's history graph of the state directory (before serving)."""
    (state / "graph").mkdir(parents=True, exist_ok=True)
    store = Store(str(state / "graph"))  # the embedded store's files (EmbeddedStore opens them so)
    store.load(triples, format=RdfFormat.N_TRIPLES, to_graph=NamedNode(history_graph(None)))
    store.flush()
    del store  # its lock goes with it: the service opens the store next


def wait_for(condition: Callable[[], Any], seconds: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {seconds:g} s: {what}")
        time.sleep(0.1)


class Service:
    """The served configuration, its broker double, its tile server and a few calls the tests make directly."""

    def __init__(self, served: Served, double: BrokerDouble, folder: Path, tiles: TileServer) -> None:
        self.served, self.double, self.folder, self.tiles = served, double, folder, tiles
        self.url = served.url

    def push(self, records: list[dict[str, Any]]) -> None:
        """Records into the webhook feed (stored in the outbox before the 202)."""
        answer = httpx.post(f"{self.url}/feeds/spots", json=records, headers={"X-Api-Key": HOOK_KEY})
        assert answer.status_code == 202, answer.text

    def get(self, path: str) -> Any:
        answer = httpx.get(self.url + path, headers={"X-API-Key": KEY})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def in_graph(self, count: int) -> bool:
        query = "SELECT (COUNT(?s) AS ?n) WHERE { ?s a <https://smartdatamodels.org/dataModel.Parking/ParkingSpot> }"
        answer = httpx.post(
            self.url + "/sparql", data={"query": query}, headers={"X-API-Key": KEY, "Accept": "text/csv"}
        )
        return answer.text.split()[-1] == str(count)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("console")
    (folder / "spots.yaml").write_text(MAPPING)
    (folder / "spots-on-a-map.rq").write_text(SPOTS_QUERY)
    (folder / "spots-as-wkt.rq").write_text(WKT_QUERY)
    double = BrokerDouble()
    keep_history(folder / "state", past_occupancy(f"{PREFIX}p0"))
    with serve(double) as broker_url, serve_tiles() as tiles:
        config = folder / "contextbridge.yaml"
        config.write_text(f"""
feeds:
  - id: spots
    mapping: spots.yaml
    source: {{webhook: {{api_key: "${{CB_TEST_HOOK_KEY}}"}}}}
broker:
  url: {broker_url}
queries: [spots-on-a-map.rq, spots-as-wkt.rq]
service:
  api_keys:
    - {{name: ops, key: "${{CB_TEST_KEY}}", tenants: "*", write: true}}
    - {{name: reader, key: "${{CB_TEST_READER}}", tenants: "*"}}
  console:
    tiles: {{url: "{tiles.template}", attribution: test streets, attribution_url: "{tiles.origin}/"}}
""")
        env = {"CB_TEST_KEY": KEY, "CB_TEST_READER": READER, "CB_TEST_HOOK_KEY": HOOK_KEY}
        served = Served(config, folder / "state", env)
        try:
            yield Service(served, double, folder, tiles)
        finally:
            code, stderr = served.stop()
            assert code == 0, stderr


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch() as browser:
        yield browser


@pytest.fixture
def laptop(chromium: Any, service: Service) -> Iterator[ConsolePage]:
    page = ConsolePage(chromium, service.url, width=LAPTOP["width"])
    yield page
    page.close()


def shown_points(page: ConsolePage) -> int:
    """The points the map shows: single markers, and the points each cluster stands for."""
    return int(
        page.wait_until(
            """() => document.querySelectorAll('#map-canvas .map-point').length
                 + [...document.querySelectorAll('#map-canvas .marker-cluster span')]
                     .reduce((sum, span) => sum + Number(span.textContent), 0)"""
        )
    )


def option_for(page: ConsolePage, select: str, *needles: str) -> str:
    """The value of the first option of ``select`` whose value or label contains one of ``needles``
    (waiting for the options: they come from the service)."""
    found = page.wait_until(
        """([select, needles]) => [...document.querySelectorAll(`${select} option`)]
             .find(o => o.value && needles.some(n => o.value.includes(n) || o.textContent.includes(n)))?.value""",
        [select, list(needles)],
    )
    return str(found)


def test_the_page_is_served_with_a_strict_policy(service: Service) -> None:
    page = httpx.get(service.url + "/")
    assert page.status_code == 200 and '<script type="module" src="/console/console.js">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    for asset in ("console.js", "console.css", "api.js", "icon.svg"):
        assert httpx.get(f"{service.url}/console/{asset}").status_code == 200, asset
    assert not re.search(
        r"<script>|<style>|\sstyle=|\son[a-z]+=", page.text
    )  # nothing inline: the policy allows none


def test_playground_translates_as_you_type_and_points_at_the_broken_line(
    service: Service, laptop: ConsolePage
) -> None:
    laptop.open("playground", key=KEY)
    page = laptop.page
    page.wait_for_selector("#mapping-picker option:nth-child(2)", state="attached")
    page.select_option("#mapping-picker", option_for(laptop, "#mapping-picker", "spots"))
    laptop.wait_until("() => document.querySelector('#mapping-editor textarea').value.includes('id: spots')")
    page.fill("#payload-editor textarea", json.dumps([spot("p1"), spot("p2", "1")], indent=2))
    page.wait_for_selector(f"#entities:has-text('{PREFIX}p2')")
    entities = json.loads(page.text_content("#entities") or "")
    assert [entity["status"]["value"] for entity in entities] == ["free", "occupied"]
    assert int(page.text_content("#triple-count") or "0") > 0
    assert f"<{PREFIX}p1>" in (page.text_content("#triples") or "")

    edited = MAPPING.replace("ParkingSpot:test:{id}", "ParkingSpot:edited:{id}")
    page.fill("#mapping-editor textarea", edited)  # one edit: the entities follow
    page.wait_for_selector("#entities:has-text('ParkingSpot:edited:p1')")
    assert PREFIX not in (page.text_content("#entities") or "")

    broken = edited.replace("status: {from: state,", "status: {from: state, cast: integr,")  # a typo
    broken_line = (
        broken.splitlines().index(next(line for line in broken.splitlines() if "integr" in line)) + 1
    )
    page.fill("#mapping-editor textarea", broken)
    marked = page.wait_for_selector(f"#mapping-editor .line-number.error[data-line='{broken_line}']")
    assert "integr" in (marked.get_attribute("title") or "")
    problem = page.wait_for_selector(f"#problems button[data-line='{broken_line}']")
    assert (
        f"line {broken_line}" in problem.text_content() and "'integr' is not one of" in problem.text_content()
    )
    problem.click()  # selects the line in the editor
    selected = page.evaluate(
        "() => { const t = document.querySelector('#mapping-editor textarea');"
        " return t.value.slice(t.selectionStart, t.selectionEnd) }"
    )
    assert selected == broken.splitlines()[broken_line - 1]
    assert page.is_visible("#entities:has-text('No entities')")
    assert page.text_content("[data-stat='errors'] .value") != "0"
    laptop.screenshot("playground-problem-1280")

    page.fill("#mapping-editor textarea", MAPPING)
    page.wait_for_selector(f"#entities:has-text('{PREFIX}p1')")
    page.fill("#sample-name", "two-spots")
    page.click("#save-sample")
    saved = page.wait_for_selector("#save-result.ok")
    assert "2 entities" in saved.text_content()
    expected = service.folder / "samples" / "spots" / "two-spots.expected.ndjson"
    assert [json.loads(line)["id"] for line in expected.read_text().splitlines()] == [
        f"{PREFIX}p1",
        f"{PREFIX}p2",
    ]
    laptop.screenshot("playground-saved-1280")
    laptop.check_layout("playground")


def test_sparql_runs_an_example_question_and_maps_its_points(service: Service, laptop: ConsolePage) -> None:
    service.push(SPOTS)
    wait_for(lambda: service.in_graph(len(SPOTS)), what="the spots in the graph")
    laptop.open("sparql", key=KEY)
    page = laptop.page
    page.wait_for_selector("#query-examples option:nth-child(2)", state="attached")
    page.select_option(
        "#query-examples", option_for(laptop, "#query-examples", "spots-on-a-map", "test parking spots, and")
    )
    laptop.wait_until("() => document.querySelector('#query-editor textarea').value.includes('?lat ?long')")
    page.click("#run-query")
    page.wait_for_selector("#results table tbody tr td")
    head = page.eval_on_selector_all("#results thead th", "all => all.map(th => th.textContent)")
    assert head == ["spot", "status", "lat", "long"]
    rows = page.eval_on_selector_all(
        "#results tbody tr", "all => all.map(tr => [...tr.children].map(td => td.textContent))"
    )
    assert [row[0] for row in rows] == [f"{PREFIX}p{n}" for n in range(len(SPOTS))]
    assert [row[1] for row in rows] == ["free" if n % 2 == 0 else "occupied" for n in range(len(SPOTS))]
    assert abs(float(rows[3][2]) - SPOTS[3]["lat"]) < 1e-9
    assert page.text_content("#query-summary").startswith(f"{len(SPOTS)} rows")
    assert page.is_visible("#results-map")
    assert page.text_content("#results-map h3") == f"Map: {len(SPOTS)} points"
    page.wait_for_selector("#map-canvas[data-basemap='streets'] img.leaflet-tile-loaded")
    tiles = page.eval_on_selector_all("#map-canvas img.leaflet-tile", "all => all.map(img => img.src)")
    assert tiles and all(src.startswith(service.tiles.origin + "/") for src in tiles)
    assert service.tiles.served  # fetched from the tile server, at a street zoom
    assert all(z >= 13 for z, _, _ in service.tiles.served)
    assert "test streets" in (page.text_content("#map-canvas .leaflet-control-attribution") or "")
    assert page.is_visible("#map-canvas .leaflet-control-scale") and page.is_hidden("#map-note")
    assert shown_points(laptop) == len(SPOTS)  # single points and clusters
    legend = page.eval_on_selector_all("#map-legend li", "all => all.map(li => li.textContent)")
    assert legend == ["status = free", "status = occupied"]  # coloured by status at first
    tones = page.eval_on_selector_all(
        "#map-canvas .map-point", "all => all.map(p => getComputedStyle(p).backgroundColor)"
    )
    assert len(set(tones)) == 2 or page.locator("#map-canvas .marker-cluster").count()
    laptop.screenshot("sparql-map-1280")

    page.select_option("#map-colour", "spot")  # by another column: one colour per spot
    assert page.locator("#map-legend li").count() == len(SPOTS)
    page.select_option("#map-colour", "")
    assert page.locator("#map-legend li").count() == 0

    while not page.locator("#map-canvas .map-point[title*='p0']").count():  # a click on a cluster zooms in
        page.locator("#map-canvas .marker-cluster").first.click()
        page.wait_for_timeout(400)
    page.locator("#map-canvas .map-point[title*='p0']").click()
    row = page.wait_for_selector(".leaflet-popup-content .map-popup")
    assert "status" in row.text_content() and "free" in row.text_content()
    page.click(f".leaflet-popup-content a.entity-link[href='#entity/{quote(PREFIX + 'p0', safe='')}']")
    page.wait_for_selector(f"#entity[data-loaded='{PREFIX}p0']")
    laptop.go("sparql")

    page.select_option("#query-examples", option_for(laptop, "#query-examples", "spots-as-wkt", "as WKT"))
    page.focus("#query-editor textarea")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#results thead th:text-is('where')")
    page.wait_for_selector(
        f"#results-map[data-points='{len(SPOTS)}'] .map-point, #results-map .marker-cluster"
    )
    assert shown_points(laptop) == len(SPOTS)
    assert page.locator("#results tbody a.entity-link").count() == len(SPOTS)  # the spots' IRIs link

    page.fill("#query-editor textarea", "SELECT ?s WHERE { ?s ?p }")  # a syntax error: said, not thrown
    page.click("#run-query")
    error = page.wait_for_selector("#sparql-error:not([hidden])")
    assert "failed" in error.text_content()
    assert page.is_hidden("#results-map")
    # Chromium logs every refused fetch ("the server responded with a status of 400"): expected here
    laptop.problems = [p for p in laptop.problems if not ("status of 400" in p and "/sparql" in p)]
    laptop.check_layout("sparql")


def run_spots_query(service: Service, console: ConsolePage) -> None:
    """The spots in the graph (again: an upsert changes nothing), and the question that maps them."""
    service.push(SPOTS)
    wait_for(lambda: service.in_graph(len(SPOTS)), what="the spots in the graph")
    page = console.page
    page.select_option(
        "#query-examples", option_for(console, "#query-examples", "spots-on-a-map", "and which")
    )
    console.wait_until("() => document.querySelector('#query-editor textarea').value.includes('?lat ?long')")
    page.click("#run-query")
    page.wait_for_selector("#results-map[data-points] #map-canvas[data-basemap]")


def test_without_tiles_the_map_is_a_grid_that_says_why(service: Service, laptop: ConsolePage) -> None:
    page = laptop.page
    page.route(f"{service.tiles.origin}/**", lambda route: route.abort())  # the tile server is unreachable
    laptop.open("sparql", key=KEY)
    run_spots_query(service, laptop)
    page.wait_for_selector("#map-canvas[data-basemap='grid'].offline")
    note = page.wait_for_selector("#map-note:not([hidden])").text_content() or ""
    assert note == f"No streets: the tile server {service.tiles.origin} could not be reached."
    assert page.locator("#map-canvas img.leaflet-tile").count() == 0  # the broken tiles are gone
    assert "test streets" not in (page.text_content("#map-canvas .leaflet-control-attribution") or "")
    assert page.locator("#map-canvas .graticule-label.west").count() >= 2  # latitudes
    assert page.locator("#map-canvas .graticule-label.south").count() >= 1  # longitudes
    assert page.is_visible("#map-canvas .leaflet-control-scale-line")
    assert shown_points(laptop) == len(SPOTS)
    laptop.screenshot("sparql-grid-1280")
    # Chromium logs each refused tile ("net::ERR_FAILED"): expected here, and nothing else
    laptop.problems = [p for p in laptop.problems if not ("ERR_FAILED" in p and service.tiles.origin in p)]
    laptop.check_layout("sparql without tiles")

    # a service configured without a tile server (service.console.tiles: false)
    page.route("**/console/settings", lambda route: route.fulfill(json={"tiles": None}))
    page.reload()
    page.wait_for_selector("#who.ok")
    page.click("#run-query")
    page.wait_for_selector("#map-canvas[data-basemap='grid']")
    note = page.wait_for_selector("#map-note:not([hidden])").text_content()
    assert note == "No streets: no tile server is configured (service.console.tiles)."
    laptop.check_layout("sparql with no tile server")


def test_the_entity_page_shows_attributes_place_and_history(service: Service, laptop: ConsolePage) -> None:
    spot_id = f"{PREFIX}p0"
    laptop.open("sparql", key=KEY)
    page = laptop.page
    run_spots_query(service, laptop)
    page.click(f"#results tbody a.entity-link:text-is('{spot_id}')")  # from the results table
    page.wait_for_selector(f"#entity[data-loaded='{spot_id}']")
    assert page.text_content("#entity-title") == spot_id
    assert page.text_content("#entity-type") == "ParkingSpot"
    status = page.text_content("#entity-attributes tr[data-attribute='status']") or ""
    assert "Property" in status and "free" in status
    assert "GeoProperty" in (page.text_content("#entity-attributes tr[data-attribute='location']") or "")
    page.wait_for_selector("#entity-map[data-basemap='streets'] img.leaflet-tile-loaded")
    assert page.locator("#entity-map .map-point").count() == 1
    chart = page.wait_for_selector(".chart-card[data-attribute='occupancy'] .time-chart[data-samples='24']")
    assert chart.query_selector("canvas") is not None  # a day of hourly values
    assert "24 values" in (page.text_content(".chart-card[data-attribute='occupancy'] header") or "")
    page.click("#history-range button[data-range='week']")
    page.wait_for_selector(".chart-card[data-attribute='occupancy'] .time-chart[data-samples='30']")
    assert page.get_attribute("#history-range button[data-range='week']", "aria-pressed") == "true"
    laptop.screenshot("entity-week-1280")

    page.goto(f"{service.url}/#entity/{quote(f'{PREFIX}nowhere', safe='')}")  # an id the graph lacks
    error = page.wait_for_selector("#entity-error:not([hidden])").text_content() or ""
    assert "Not in the city graph (yet)" in error and "Not Found" in error and "nowhere" in error
    laptop.problems = [p for p in laptop.problems if not ("status of 404" in p and "/entities/" in p)]
    laptop.check_layout("entity")


def test_a_refused_entity_is_replayed_from_the_console_and_delivered(
    service: Service, laptop: ConsolePage
) -> None:
    refused = f"{PREFIX}refused"
    service.double.refuse_ids.add(refused)
    service.push([spot("refused")])
    wait_for(lambda: service.get("/dead-letters")["count"] == 1, what="the dead letter")
    laptop.open("dead-letters", key=KEY)
    page = laptop.page
    row = page.wait_for_selector(f"#letter-rows tr[data-entity='{refused}']")
    assert "refused by the test" in row.text_content()  # the broker's ProblemDetails
    assert "BadRequestData" in row.text_content()
    assert "spots" in page.text_content("#filter-feed") and "broker" in page.text_content("#filter-sink")
    page.select_option("#filter-type", option_for(laptop, "#filter-type", "BadRequestData"))
    page.locator(
        f"#letter-rows tr[data-entity='{refused}'] button.link"
    ).click()  # a locator: rows are redrawn
    page.wait_for_selector("#letter-dialog[open]")
    assert json.loads(page.text_content("#letter-data") or "")["id"] == refused
    assert json.loads(page.text_content("#letter-reason") or "")["title"] == "refused by the test"
    laptop.screenshot("dead-letter-1280")
    page.click("#letter-dialog button:text('Close')")

    service.double.refuse_ids.discard(refused)  # the broker is fixed: replay
    assert refused not in service.double.entities("")
    page.check(f"#letter-rows tr[data-entity='{refused}'] input[type=checkbox]")
    page.click("#replay")
    assert (
        "Replayed 1, stale 0"
        in page.wait_for_selector("#letters-result.ok:has-text('Replayed')").text_content()
    )
    wait_for(lambda: refused in service.double.entities(""), what="the replayed entity at the broker")
    assert service.double.entities("")[refused]["status"]["value"] == "free"
    page.click("#letters-refresh")
    page.wait_for_selector("#letter-rows td.empty")

    doomed = f"{PREFIX}doomed"
    service.double.refuse_ids.add(doomed)
    service.push([spot("doomed")])
    wait_for(lambda: service.get("/dead-letters")["count"] == 1, what="the second dead letter")
    page.select_option("#filter-type", "")
    page.wait_for_selector(f"#letter-rows tr[data-entity='{doomed}']")
    page.check("#select-all")
    page.click("#purge")
    page.wait_for_selector("#confirm-dialog[open]")
    page.click("#confirm-yes")
    assert page.wait_for_selector("#letters-result.ok:has-text('Purged')").text_content() == "Purged 1."
    assert service.get("/dead-letters")["count"] == 0
    assert doomed not in service.double.entities("")
    laptop.check_layout("dead letters")


def test_the_dashboard_is_live(service: Service, laptop: ConsolePage) -> None:
    laptop.open("feeds", key=KEY)
    page = laptop.page
    page.wait_for_selector("#live-mode.on")  # the server-sent events, not the polling fallback
    records = page.wait_for_selector(".card.feed[data-feed='spots'] [data-field='records']")
    before = int((records.text_content() or "").replace(",", ""))
    service.push([spot(f"live-{n}", lat=43.47, lon=-3.80) for n in range(5)])
    laptop.wait_until(
        "n => Number(document.querySelector(\".card.feed[data-feed='spots'] [data-field='records']\")"
        ".textContent.replace(/,/g, '')) === n",
        before + 5,
    )
    page.wait_for_selector("#sink-rows tr[data-sink='broker']")
    assert page.text_content(".health[data-check='broker'] .state") == "ok"
    stateless = {key: value for key, value in spot("no-state").items() if key != "state"}
    service.push([stateless])  # a rejected record: its reason gets a band of the chart
    chart = page.wait_for_selector(".card.feed[data-feed='spots'] .rate-chart[data-series*='rejected: ']")
    series = (chart.get_attribute("data-series") or "").split("|")
    assert series[0] == "translated" and len(series) == 2
    laptop.wait_until(
        "() => Number(document.querySelector(\".card.feed[data-feed='spots'] .rate-chart\").dataset.samples) >= 2"
    )
    assert chart.query_selector("canvas") is not None and chart.query_selector(".u-legend") is not None
    laptop.screenshot("feeds-live-1280")
    laptop.check_layout("feeds")


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_every_page_fits_and_logs_no_errors(chromium: Any, service: Service, size: dict[str, int]) -> None:
    # something to show on the dead-letter page: a refused entity and a rejected record (no state)
    service.double.refuse_ids.add(f"{PREFIX}left-over")
    service.push(
        [spot("left-over"), {key: value for key, value in spot("stateless").items() if key != "state"}]
    )
    wait_for(lambda: service.get("/dead-letters")["count"] >= 2, what="two dead letters")
    service.push(SPOTS)  # (again: an upsert changes nothing) the spots of the map and the entity page
    console = ConsolePage(chromium, service.url, width=size["width"])
    try:
        page = console.page
        page.goto(service.url + "/")  # a first visit: the key form, nothing else called
        page.wait_for_selector("#auth-form.open #api-key:focus")
        console.check_layout("key form")
        console.screenshot(f"key-{size['width']}")
        console.open("playground", key=KEY)
        page.select_option("#mapping-picker", option_for(console, "#mapping-picker", "spots"))
        page.fill("#payload-editor textarea", json.dumps(SPOTS[:3], indent=2))
        page.wait_for_selector("#playground-summary .stat")
        console.go("feeds")
        page.wait_for_selector(".card.feed[data-feed='spots']")
        console.go("sparql")
        page.select_option(
            "#query-examples", option_for(console, "#query-examples", "spots-on-a-map", "and which")
        )
        page.click("#run-query")
        page.wait_for_selector("#results-map #map-canvas")
        page.wait_for_selector("#map-canvas img.leaflet-tile-loaded")
        console.go("dead-letters")
        page.wait_for_selector("#letter-rows tr[data-entity]")
        for view in ("playground", "feeds", "sparql", "dead-letters"):
            console.go(view)
            if view == "sparql":  # the map, hidden and shown again, still shows its points
                assert shown_points(console) == int(page.get_attribute("#results-map", "data-points") or 0)
            console.check_layout(f"{view} at {size['width']} px")
            console.screenshot(f"{view}-{size['width']}")
        page.evaluate("hash => { location.hash = hash }", f"#entity/{quote(f'{PREFIX}p0', safe='')}")
        page.wait_for_selector(f"#entity[data-loaded='{PREFIX}p0'] .chart-card canvas")
        page.wait_for_selector("#entity-map img.leaflet-tile-loaded")
        console.check_layout(f"entity at {size['width']} px")
        console.screenshot(f"entity-{size['width']}")
    finally:
        console.close()


def test_the_dashboard_polls_when_the_stream_cannot_be_opened(service: Service, laptop: ConsolePage) -> None:
    laptop.page.route("**/status/events*", lambda route: route.abort())  # a proxy that buffers or refuses SSE
    laptop.open("feeds", key=KEY)
    page = laptop.page
    page.wait_for_selector("#live-mode.poll")
    records = page.wait_for_selector(".card.feed[data-feed='spots'] [data-field='records']")
    before = int((records.text_content() or "").replace(",", ""))
    service.push([spot("polled")])
    laptop.wait_until(
        "n => Number(document.querySelector(\".card.feed[data-feed='spots'] [data-field='records']\")"
        ".textContent.replace(/,/g, '')) === n",
        before + 1,
    )


def test_a_read_key_may_look_but_not_replay(service: Service, laptop: ConsolePage) -> None:
    service.double.refuse_ids.add(f"{PREFIX}read-only")
    service.push([spot("read-only")])
    wait_for(lambda: service.get("/dead-letters")["count"] >= 1, what="a dead letter")
    laptop.open("dead-letters", key=READER)
    page = laptop.page
    page.reload()  # the key is kept in the tab's sessionStorage
    page.wait_for_selector("#who.ok")
    page.wait_for_selector("#letter-rows tr[data-entity]")
    page.locator("#letter-rows tr[data-entity] input[type=checkbox]").first.check()
    page.click("#replay")
    refused = page.wait_for_selector("#letters-result.error")
    assert "Forbidden" in refused.text_content() and "reader" in refused.text_content()
    assert page.is_visible("#auth-form.open")  # asks for a key that may do this
    assert "Enter a key that may do this" in page.text_content("#auth-message")
    page.click("#forget-key")
    assert page.text_content("#who") == "No key"
    assert page.evaluate("() => sessionStorage.getItem('contextbridge.key')") is None


def test_a_key_in_the_url_fragment_is_taken_and_leaves_the_address_bar(
    service: Service, laptop: ConsolePage
) -> None:
    page = laptop.page
    page.goto(f"{service.url}/#key={KEY}")  # as `contextbridge serve` prints it on loopback
    page.wait_for_selector("#who.ok")
    assert page.text_content("#who") == "Key set · default tenant"
    assert page.evaluate("() => sessionStorage.getItem('contextbridge.key')") == KEY
    assert KEY not in page.url and "key=" not in page.url
    assert KEY not in page.evaluate("() => location.href + history.state")
    assert page.is_hidden("#auth-form.open")
    option_for(laptop, "#mapping-picker", "spots")  # the playground reads the service with it
    laptop.check_layout("key from the fragment")


def test_a_refused_key_says_why_and_clears_the_badge(service: Service, laptop: ConsolePage) -> None:
    laptop.open("feeds", key=KEY)
    page = laptop.page
    page.click("#change-key")
    page.fill("#api-key", "not-a-key-of-this-service")
    page.click("#save-key")
    message = page.wait_for_selector("#auth-form.open #auth-message:has-text('this key is not valid')")
    assert "Enter a valid key" in message.text_content()
    assert page.text_content("#who") == "No key"
    assert page.evaluate("() => sessionStorage.getItem('contextbridge.key')") is None
    assert page.is_hidden("#forget-key")


def test_the_console_url_serve_prints_opens_the_console(
    chromium: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No key configured, on loopback: the URL on serve's stderr opens a working console."""
    folder = tmp_path_factory.mktemp("no-keys")
    (folder / "contextbridge.yaml").write_text("service: {port: 8080}\n")
    served = Served(folder / "contextbridge.yaml", folder / "state", {})
    console = ConsolePage(chromium, served.url)
    try:
        assert served.process.stderr is not None
        url = next(line for line in iter(served.process.stderr.readline, b"") if b"/#key=" in line)
        console.page.goto(url.decode().strip())
        console.page.wait_for_selector("#who.ok")
        assert "key=" not in console.page.url
        console.go("feeds")
        console.page.wait_for_selector(".health[data-check='graph'] .state")
        assert console.page.text_content(".health[data-check='graph'] .state") == "ok"
        console.check_layout("console from serve's URL")
    finally:
        console.close()
        code, stderr = served.stop()
    assert code == 0, stderr


def test_the_playground_describes_a_type_the_mapping_names(service: Service, laptop: ConsolePage) -> None:
    laptop.open("playground", key=KEY)
    page = laptop.page
    page.wait_for_selector("#mapping-picker option:nth-child(2)", state="attached")
    page.select_option("#mapping-picker", option_for(laptop, "#mapping-picker", "spots"))
    laptop.wait_until("() => document.querySelector('#mapping-editor textarea').value.includes('id: spots')")
    page.focus("#type-picker")  # the picker reads the mapping's types as it is about to open
    page.wait_for_selector("#type-picker option[value='ParkingSpot']", state="attached")
    page.select_option("#type-picker", "ParkingSpot")
    page.wait_for_selector(
        "#type-panel code:has-text('https://smartdatamodels.org/dataModel.Parking/ParkingSpot')"
    )
    row = page.text_content("#type-panel tr:has(code:text-is('status'))") or ""
    assert "closed, free, occupied, unknown" in row and "yes" in row
    assert "sdm-enum: SDM dataModel.Parking/ParkingSpot/schema.json, attribute status" in row
    page.locator("#types").scroll_into_view_if_needed()
    laptop.screenshot("playground-type-1280")
    laptop.check_layout("playground")


def test_a_payload_typed_while_the_mapping_loads_is_kept(service: Service, laptop: ConsolePage) -> None:
    page = laptop.page
    held: list[Any] = []
    page.route("**/mappings/spots", lambda route: held.append(route))  # answered when released
    laptop.open("playground", key=KEY)
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the first visit did not load the first mapping"
    trial = f"{PREFIX}typed-early"
    page.fill("#payload-editor textarea", json.dumps([spot("typed-early")]))
    held.pop().continue_()
    laptop.wait_until("() => document.querySelector('#mapping-editor textarea').value.includes('id: spots')")
    page.wait_for_selector(f"#entities a.entity-link:text-is('\"{trial}\"')")
    assert "typed-early" in page.input_value("#payload-editor textarea")


def test_an_id_in_the_playground_opens_its_entity_page(service: Service, laptop: ConsolePage) -> None:
    laptop.open("playground", key=KEY)
    page = laptop.page
    page.wait_for_selector("#mapping-picker option:nth-child(2)", state="attached")
    page.select_option("#mapping-picker", option_for(laptop, "#mapping-picker", "spots"))
    laptop.wait_until("() => document.querySelector('#mapping-editor textarea').value.includes('id: spots')")
    trial = f"{PREFIX}trial"  # translated, never delivered
    page.fill("#payload-editor textarea", json.dumps([spot("trial")]))
    link = page.wait_for_selector(f"#entities a.entity-link:text-is('\"{trial}\"')")
    assert link.get_attribute("href") == f"#entity/{quote(trial, safe='')}"
    assert "city graph" in (link.get_attribute("title") or "")
    assert page.locator("#entities a").count() == 1  # the entity's own id, not its attributes' values
    assert json.loads(page.text_content("#entities") or "")[0]["id"] == trial  # still the JSON, as text
    link.click()
    page.wait_for_selector("#entity:not([hidden])")
    assert page.text_content("#entity-title") == trial
    error = page.wait_for_selector("#entity-error.info:not([hidden])").text_content() or ""
    assert "Not in the city graph (yet)" in error and trial in error
    laptop.problems = [p for p in laptop.problems if not ("status of 404" in p and "/entities/" in p)]
    laptop.check_layout("entity from the playground")
