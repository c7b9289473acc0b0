"""SPARQL in worker processes (what ``serve`` does) against SPARQL in a thread of the store (the
command line), on the same embedded store, in the same run.

    python benchmarks/query_workers.py [--entities N] [--queries N]

Three measures, in queries per second: a simple question asked again and again in a thread (the
baseline); the same in the worker processes, on one snapshot (the pipe and the pickled rows
cost); and the same with one entity written before each question (a new snapshot each time:
RocksDB flushes its memtable and hard-links its files).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import best_of, table

from contextbridge.sinks.graph import EmbeddedStore

QUESTION = (
    "SELECT ?s ?v WHERE { ?s <https://smartdatamodels.org/dataModel.Weather/temperature> ?a ."
    " ?a <https://uri.etsi.org/ngsi-ld/hasValue> ?v } ORDER BY DESC(?v) LIMIT 10"
)


def weather(number: int, value: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:WeatherObserved:bench:{number}",
        "type": "WeatherObserved",
        "temperature": {"type": "Property", "value": value},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=50)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        threads = EmbeddedStore(Path(folder) / "graph")
        asyncio.run(threads.upsert([weather(n, n % 40 - 5.0) for n in range(options.entities)]))
        asyncio.run(threads.close())
        threads = EmbeddedStore(Path(folder) / "graph")

        def in_thread() -> int:
            async def ask() -> None:
                for _ in range(options.queries):
                    await threads.query(QUESTION)

            asyncio.run(ask())
            return options.queries

        baseline = best_of("in a thread", in_thread, repeat=3)
        asyncio.run(threads.close())

        workers = EmbeddedStore(Path(folder) / "graph", query_workers=4)

        def in_workers(write: bool) -> int:
            async def ask() -> None:
                for number in range(options.queries):
                    if write:
                        await workers.upsert([weather(number, float(number))])
                    await workers.query(QUESTION)

            asyncio.run(ask())
            return options.queries

        asyncio.run(workers.query(QUESTION))  # the first snapshot, and the workers started
        same = best_of("in worker processes, one snapshot", lambda: in_workers(False), repeat=3)
        fresh = best_of("in worker processes, a write before each", lambda: in_workers(True), repeat=3)
        asyncio.run(workers.close())
    print(
        table(
            f"SPARQL over {options.entities:,} entities", [same, fresh], baseline=baseline, unit="queries/s"
        )
    )


if __name__ == "__main__":
    main()
