"""Enrichment cost: the parking feed translated from full messages, and from thin messages
enriched with a 100,000-row sensor inventory through a lookup, in the same run.

    python benchmarks/enrichment.py [--records N] [--inventory ROWS]

Both sides make the very same entities (checked before timing): the baseline is
santander-parking.yaml on records that carry position, zone and street; the other is
santander-parking-thin.yaml on messages that carry only the sensor id, the time and the
readings, its lookup table loaded from a generated CSV of ``--inventory`` sensors. The readings
are written alike on both sides (strings, as the open-data API gives them), and the messages hit
the inventory in scattered order, so the difference is the lookup alone: the key, the look-up in
a table far bigger than the CPU caches, the copy of the record the rows join. The ratio
``thin + lookup / full`` is the enrichment cost (target: at least 0.80, at most 20 % slower).
A second row builds the sensor's URL with a template instead of reading it from the inventory.
The table's memory is measured with tracemalloc on a separate load.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import best_of, table
from translate import sample_records, translate_all

from contextbridge.errors import RecordError
from contextbridge.language.lookups import LookupTable
from contextbridge.language.lookups.base import parse_rows
from contextbridge.language.mapping import load_mapping
from contextbridge.language.translator import Translator

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = ROOT / "mappings"


def inventory_rows(bases: list[dict[str, Any]], count: int) -> list[dict[str, str]]:
    """``count`` sensors shaped like the real ones: streets and zones of the sample, positions spread."""
    rows = []
    for i in range(count):
        base = bases[i % len(bases)]
        rows.append(
            {
                "sensor": str(100_000 + i),
                "latitude": f"{float(base['ayto:latitude']) + (i % 997) * 1e-5:.5f}",
                "longitude": f"{float(base['ayto:longitude']) - (i % 991) * 1e-5:.5f}",
                "zone": base["ayto:zona"],
                "street": base["ayto:calle"],
                "uri": f"http://datos.santander.es/api/datos/sensores_smart_parking/{100_000 + i}.json",
            }
        )
    return rows


def messages(
    bases: list[dict[str, Any]], sensors: list[dict[str, str]], count: int
) -> tuple[list[Any], list[Any]]:
    """The same readings as full open-data records and as thin device messages."""
    full, thin = [], []
    for j in range(count):
        sensor = sensors[(j * 7919) % len(sensors)]
        base = bases[j % len(bases)]
        full.append(
            {
                "ayto:idSensor": sensor["sensor"],
                "ayto:estado": base["ayto:estado"],
                "ayto:latitude": sensor["latitude"],
                "ayto:longitude": sensor["longitude"],
                "ayto:zona": sensor["zone"],
                "ayto:calle": sensor["street"],
                "ayto:bateria": base["ayto:bateria"],
                "dc:modified": base["dc:modified"],
                "dc:identifier": sensor["sensor"],
                "uri": sensor["uri"],
            }
        )
        thin.append(
            {
                "sensor": sensor["sensor"],
                "time": base["dc:modified"],
                "occupied": base["ayto:estado"],
                "battery": base["ayto:bateria"],
            }
        )
    return full, thin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--inventory", type=int, default=100_000)
    args = parser.parse_args()

    full_mapping = load_mapping(MAPPINGS / "santander-parking.yaml")
    bases = [
        record
        for record in sample_records(full_mapping)
        if record.get("ayto:bateria") and record["ayto:latitude"] and record["ayto:estado"]
    ]
    sensors = inventory_rows(bases, args.inventory)
    full, thin = messages(bases, sensors, args.records)

    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp) / "parking-sensors.csv"
        with inventory.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(sensors[0]))
            writer.writeheader()
            writer.writerows(sensors)
        text = (MAPPINGS / "santander-parking-thin.yaml").read_text(encoding="utf-8")
        text = text.replace("../examples/santander/parking-sensors.csv", str(inventory))
        started = time.perf_counter()
        thin_mapping = load_mapping(MAPPINGS / "santander-parking-thin.yaml", text=text)
        load_seconds = time.perf_counter() - started
        # the same, with the URL built from the sensor id by a template instead of read from the table
        templated = text.replace(
            "{from: sensors.uri}",
            '{template: "http://datos.santander.es/api/datos/sensores_smart_parking/{sensor}.json"}',
        )
        templated_mapping = load_mapping(MAPPINGS / "santander-parking-thin.yaml", text=templated)
    rows = len(thin_mapping.lookups.table("sensors"))

    expected = [e for outcome in Translator(full_mapping).translate(full) for e in [outcome]]
    enriched = list(Translator(thin_mapping).translate(thin))
    templated_entities = list(Translator(templated_mapping).translate(thin))
    if any(isinstance(e, RecordError) for e in expected) or not expected == enriched == templated_entities:
        sys.exit("the thin mapping with its lookup does not produce the full mapping's entities")

    baseline = best_of("full messages (no lookup)", lambda: translate_all(Translator(full_mapping), full))
    measured = best_of(
        f"thin messages + {rows:,}-row lookup", lambda: translate_all(Translator(thin_mapping), thin)
    )
    also = best_of(
        "  the same, URL by a template", lambda: translate_all(Translator(templated_mapping), thin)
    )
    print(
        table(
            f"Parking translation, {len(full):,} records, {len(expected):,} entities",
            [measured, also],
            baseline=baseline,
            unit="entities/s",
        )
    )
    slower = 1 - measured.rate / baseline.rate
    print(f"  enrichment cost: {slower:.1%} slower (target: at most 20 %)")
    print(f"  lookup table: {rows:,} rows loaded from CSV with the mapping in {load_seconds:.2f} s", end="")
    print(f", {table_bytes(sensors) / 1e6:.1f} MB in memory")


def table_bytes(rows: list[dict[str, str]]) -> int:
    """The memory a table of ``rows`` holds once loaded from its CSV (what stays after the load)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    data = out.getvalue().encode()
    tracemalloc.start()
    try:
        lookup = LookupTable("sensors", key=("sensor",), max_rows=len(rows))
        lookup.replace(parse_rows(data, "csv", {}, origin="inventory"))
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


if __name__ == "__main__":
    main()
