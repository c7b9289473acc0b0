"""City graph speed: NGSI-LD → RDF against pyld, graph loading against pyoxigraph's bulk loader,
and SPARQL latency of cross-vertical questions over a generated city.

    python benchmarks/graph.py [--quick] [--triples N]

Measured in the same run: the converter's triples per second against pyld's ``to_rdf`` of the
same entities (target: at least 20×); ``EmbeddedStore.upsert`` of a city against
``Store.bulk_load`` of the very same triples into a fresh store, entity by entity in batches of
1,000 (``upsert``, the sink's path) and as ``contextbridge graph load`` does it (``load_stream``:
conversion and writes overlapping, new entities bulk-loaded), for a first load (target: ≥ 0.95×)
and for a new reading of every entity (target: ≥ 0.7×): in the process that wrote the old states
(the service: its state cache holds them) and in a new one (they are read from the store); then
the latency of example questions over the loaded city (at least one million triples without
``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Measure, best_of, table
from pyld import jsonld
from pyoxigraph import NamedNode, RdfFormat, Store

from contextbridge.entities.jsonld import context_document, document_loader
from contextbridge.entities.ontology import default_ontology
from contextbridge.entities.rdf import Converter
from contextbridge.sinks.graph import EmbeddedStore, tenant_graph
from contextbridge.sinks.graph.loading import load_stream
from contextbridge.sinks.graph.sparql import data_update, with_prefixes

ROOT = Path(__file__).resolve().parent.parent
SDM = ROOT / "tests" / "data" / "sdm"
MODELS = {  # entity type → (SDM example, share of the city)
    "WeatherObserved": ("dataModel.Weather/WeatherObserved", 0.15),
    "AirQualityObserved": ("dataModel.Environment/AirQualityObserved", 0.15),
    "NoiseLevelObserved": ("dataModel.Environment/NoiseLevelObserved", 0.1),
    "TrafficFlowObserved": ("dataModel.Transportation/TrafficFlowObserved", 0.15),
    "ParkingSpot": ("dataModel.Parking/ParkingSpot", 0.2),
    "WasteContainer": ("dataModel.WasteManagement/WasteContainer", 0.1),
    "Streetlight": ("dataModel.Streetlighting/Streetlight", 0.05),
    "Device": ("dataModel.Device/Device", 0.1),
}
QUESTIONS = {
    "observations per type (subclasses)": """
        SELECT ?type (COUNT(?o) AS ?n) WHERE { ?o a sosa:Observation ; a ?type . FILTER(?type != sosa:Observation) }
        GROUP BY ?type ORDER BY DESC(?n)""",
    "free parking spots": """
        SELECT (COUNT(?spot) AS ?free) WHERE {
          ?spot a <https://smartdatamodels.org/dataModel.Parking/ParkingSpot> ; ngsi-ld:status/ngsi-ld:hasValue "free" }""",
    "hot readings and their device's battery": """
        SELECT ?obs ?t ?battery WHERE {
          ?obs <https://smartdatamodels.org/dataModel.Weather/temperature>/ngsi-ld:hasValue ?t .
          FILTER(?t > 30)
          ?obs <https://smartdatamodels.org/dataModel.Weather/refDevice>/ngsi-ld:hasObject ?device .
          ?device <https://smartdatamodels.org/dataModel.Device/batteryLevel>/ngsi-ld:hasValue ?battery }
        ORDER BY DESC(?t) LIMIT 20""",
    "busiest road segments": """
        SELECT ?obs ?intensity WHERE {
          ?obs <https://smartdatamodels.org/dataModel.Transportation/intensity>/ngsi-ld:hasValue ?intensity }
        ORDER BY DESC(?intensity) LIMIT 10""",
    "mean NO2 of air quality observations": """
        SELECT (AVG(?no2) AS ?mean) (COUNT(?no2) AS ?n) WHERE {
          ?obs a <https://smartdatamodels.org/dataModel.Environment/AirQualityObserved> ;
               <https://smartdatamodels.org/dataModel.Environment/no2>/ngsi-ld:hasValue ?no2 }""",
    "full waste containers": """
        SELECT (COUNT(?c) AS ?full) WHERE {
          ?c <https://smartdatamodels.org/dataModel.WasteManagement/fillingLevel>/ngsi-ld:hasValue ?level .
          FILTER(?level > 0.8) }""",
}


def _template(model: str) -> dict[str, Any]:
    entity: dict[str, Any] = json.loads((SDM / model / "examples/example-normalized.jsonld").read_text())
    entity.pop("@context", None)
    return entity


def _vary(value: Any, rng: random.Random) -> Any:
    """Numbers get a random value of the same kind; the rest of the shape stays as in the example."""
    if isinstance(value, dict):
        return {
            k: (_vary(v, rng) if k in ("value", "coordinates") or isinstance(v, dict) else v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_vary(v, rng) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return rng.randint(0, 2 * value + 100)
    if isinstance(value, float):
        return round(rng.uniform(0, 2 * abs(value) + 1), 3)
    return value


def city(count: int, *, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` entities of the example types, ids and numbers varied, related to the devices."""
    rng = random.Random(seed)
    templates = {name: _template(model) for name, (model, _) in MODELS.items()}
    devices = max(1, int(count * MODELS["Device"][1]))
    entities = []
    for number in range(count):
        name = rng.choices(list(MODELS), weights=[share for _, share in MODELS.values()])[0]
        entity = _vary(copy.deepcopy(templates[name]), rng)
        entity["id"] = f"urn:ngsi-ld:{name}:santander:{number}"
        lon, lat = -3.80 + rng.uniform(-0.05, 0.05), 43.46 + rng.uniform(-0.03, 0.03)
        if "location" in entity and entity["location"]["value"].get("type") == "Point":
            entity["location"]["value"]["coordinates"] = [round(lon, 6), round(lat, 6)]
        if name == "WeatherObserved":
            entity["temperature"]["value"] = round(rng.uniform(-2, 38), 1)
        if name == "ParkingSpot":
            entity["status"]["value"] = rng.choice(["free", "occupied", "unknown"])
        if name == "WasteContainer" and "fillingLevel" in entity:
            entity["fillingLevel"]["value"] = round(rng.random(), 2)
        if "refDevice" in entity:
            entity["refDevice"]["object"] = f"urn:ngsi-ld:Device:santander:{rng.randrange(devices)}"
        if name == "Device":
            entity["id"] = f"urn:ngsi-ld:Device:santander:{number % devices}"
        entities.append(entity)
    return entities


def bench_conversion(entities: list[dict[str, Any]]) -> tuple[Measure, Measure]:
    onto = default_ontology()
    converter = Converter(onto)
    sample = entities[:300]
    contexts = {name: context_document(onto, entity_type=name)["@context"] for name in MODELS}
    loader = document_loader()

    def ours() -> int:
        return sum(converter.ntriples(e).count("\n") for e in entities)

    def reference() -> int:
        total = 0
        for entity in sample:
            text = jsonld.to_rdf(
                {**entity, "@context": contexts[entity["type"]]},
                {"documentLoader": loader, "format": "application/n-quads"},
            )
            total += text.count("\n")
        return total

    return best_of("pyld to_rdf", reference, repeat=2), best_of("contextbridge Converter", ours, repeat=3)


def bench_load(entities: list[dict[str, Any]], workdir: Path) -> tuple[Measure, list[Measure], EmbeddedStore]:
    text = Converter(default_ontology(), infer_types=True).many(entities)
    triples = text.count("\n")
    graph = NamedNode(tenant_graph(None))
    runs = iter(range(1_000_000))

    def bulk() -> int:
        store = Store(str(workdir / f"bulk-{next(runs)}"))
        store.bulk_load(text.encode("utf-8"), format=RdfFormat.N_TRIPLES, to_graph=graph)
        store.flush()
        return triples

    stores: list[EmbeddedStore] = []

    rng = random.Random(11)

    def reading() -> list[dict[str, Any]]:  # a new reading of every entity: every number changed
        versions = []
        for entity in entities:
            version = _vary(copy.deepcopy(entity), rng)
            version["id"] = entity["id"]  # ids and shapes kept
            versions.append(version)
        return versions

    readings, later = reading(), reading()

    def load(store: EmbeddedStore, versions: list[dict[str, Any]]) -> int:
        async def batches() -> int:
            written = 0
            for start in range(0, len(versions), 1000):
                written += (await store.upsert(versions[start : start + 1000])).triples
            return written

        return asyncio.run(batches())

    def upsert() -> int:
        stores.append(EmbeddedStore(workdir / f"ours-{next(runs)}"))
        return load(stores[-1], entities)

    def update() -> int:  # every entity replaces its old state, as the process last wrote it
        return load(stores[-1], readings)

    def update_cold() -> int:  # the same in a new process: the old states are read from the store
        path = stores[-1].path
        asyncio.run(stores[-1].close())
        stores.append(EmbeddedStore(path))
        return load(stores[-1], later)

    def batches(versions: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        return [versions[start : start + 1000] for start in range(0, len(versions), 1000)]

    def store_alone() -> Measure:
        """The store's own part of a new reading: the same SPARQL updates as ``upsert``'s, their
        changed triples worked out beforehand, on a store holding the first load: its ceiling."""
        converter = stores[-1].converter  # the sink's own
        state = {entity["id"]: converter.ntriples(entity) for entity in entities}  # the last version wins
        store = Store(str(workdir / "alone"))
        store.bulk_load("".join(state.values()).encode("utf-8"), format=RdfFormat.N_TRIPLES, to_graph=graph)
        updates, written = [], 0
        for start in range(0, len(readings), 1000):
            latest = {entity["id"]: converter.ntriples(entity) for entity in readings[start : start + 1000]}
            old = {line for ident in latest for line in state[ident].splitlines()}
            new = {line for text in latest.values() for line in text.splitlines()}
            updates.append(data_update(graph.value, old - new, new - old))
            written += sum(text.count("\n") for text in latest.values())
            state.update(latest)
        started = time.perf_counter()
        for update in updates:
            store.update(update)
        store.flush()
        return Measure("    the store's own updates alone", written, time.perf_counter() - started)

    def stream_first() -> int:  # what `contextbridge graph load` does
        stores.append(EmbeddedStore(workdir / f"ours-{next(runs)}"))
        return load_stream(stores[-1], batches(entities)).triples

    def stream_update() -> int:
        return load_stream(stores[-1], batches(readings)).triples

    baseline = best_of("pyoxigraph Store.bulk_load", bulk, repeat=2)
    ours = best_of("EmbeddedStore.upsert (first load)", upsert, repeat=2)
    replace = best_of("EmbeddedStore.upsert (a new reading of all)", update, repeat=1)
    alone = store_alone()
    cold = best_of("  the same, in a new process", update_cold, repeat=1)
    first = best_of("graph load pipeline (first load)", stream_first, repeat=2)
    again = best_of("graph load pipeline (a new reading of all)", stream_update, repeat=1)
    return baseline, [ours, replace, alone, cold, first, again], stores[-1]


def bench_queries(store: EmbeddedStore) -> list[tuple[str, float, int]]:

    timings = []
    for name, query in QUESTIONS.items():
        text = with_prefixes(query)
        best, rows = float("inf"), 0
        for _ in range(3):
            started = time.perf_counter()
            result = asyncio.run(store.query(text, timeout=120))
            best = min(best, time.perf_counter() - started)
            rows = len(result)
        timings.append((name, best, rows))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="A small city (about 100,000 triples).")
    parser.add_argument("--triples", type=int, default=None, help="Size of the city in triples.")
    options = parser.parse_args()
    target = options.triples or (100_000 if options.quick else 1_100_000)
    per_entity = sum(Converter(infer_types=True).ntriples(e).count("\n") for e in city(200)) / 200
    entities = city(int(target / per_entity) + 1)
    print(f"city: {len(entities):,} entities (about {per_entity:.0f} triples each)\n")

    reference, ours = bench_conversion(entities)
    print(table("NGSI-LD → RDF (target: ≥ 20×)", [ours], baseline=reference, unit="triples/s"), "\n")

    with tempfile.TemporaryDirectory() as tmp:
        baseline, loads, store = bench_load(entities, Path(tmp))
        print(
            table(
                "graph load (targets: first load ≥ 0.95×, a new reading ≥ 0.7×)",
                loads,
                baseline=baseline,
                unit="triples/s",
            )
        )
        print(f"  city graph: {store.count():,} triples\n")
        asyncio.run(store.load_ontology())
        print("SPARQL latency over the city (best of 3)")
        for name, seconds, rows in bench_queries(store):
            print(f"  {name:45} {seconds * 1000:9.1f} ms  ({rows} rows)")
        asyncio.run(store.close())


if __name__ == "__main__":
    main()
