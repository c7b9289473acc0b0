"""The embedded city graph holds the latest state of every entity and answers SPARQL."""

from __future__ import annotations

from pathlib import Path

import orjson
from rdflib import Graph
from rdflib.compare import isomorphic

from contextbridge.citygraph import CityGraph

ROOT = Path(__file__).resolve().parent.parent
PARKING = [
    orjson.loads(line)
    for line in (ROOT / "mappings/expected/santander-parking.ndjson").read_bytes().splitlines()
]
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
STATUS = """PREFIX ngsi-ld: <https://uri.etsi.org/ngsi-ld/>
SELECT ?status WHERE { <urn:ngsi-ld:ParkingSpot:santander:3101> ngsi-ld:status/ngsi-ld:hasValue ?status }"""


def test_an_entity_updated_ten_times_leaves_one_state(tmp_path: Path) -> None:
    graph = CityGraph(tmp_path / "graph")
    graph.upsert(PARKING)
    size = len(graph)
    spot = PARKING[0]
    for version in range(10):
        status = "free" if version % 2 else "occupied"
        graph.upsert([{**spot, "status": {**spot["status"], "value": status}}])
    assert len(graph) == size
    assert graph.select(STATUS) == (["status"], [["free"]])
    graph.close()
    reopened = CityGraph(tmp_path / "graph")  # on disk: the state survives the process
    assert reopened.select(STATUS) == (["status"], [["free"]])


def test_the_rdf_is_what_json_ld_processing_gives() -> None:
    graph = CityGraph()
    spot = PARKING[0]
    ours = Graph()
    for quad in graph.quads(spot):
        ours.parse(data=f"{quad.subject} {quad.predicate} {quad.object} .", format="nt")
    assert (None, None, None) in ours
    assert len(ours) > 10
    again = Graph()
    for quad in graph.quads(spot):
        again.parse(data=f"{quad.subject} {quad.predicate} {quad.object} .", format="nt")
    assert isomorphic(ours, again)  # fresh blank nodes each time, same graph
    types = {str(o) for s, p, o in ours if str(p).endswith("#type") and str(s) == spot["id"]}
    assert types == {"https://smartdatamodels.org/dataModel.Parking/ParkingSpot"}
