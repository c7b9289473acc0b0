"""Translation speed: entities per second for each example mapping, and the compiled parking
mapping against a hand-written Python function producing the very same entities.

    python benchmarks/translate.py [--records N] [--repeat N] [--parking-only]

The hand-written function is what an integrator would write without contextbridge: direct
dict look-ups, the same casts, the same time normalisation, the same output. The ratio
``compiled / hand-written`` is measured in the same run, the sides taking turns and timed in CPU
time (target: at least 0.9). The mapping runs as generated Python source (the default) and as the
closures it is generated from (``Translator(..., generated=False)``).
"""

from __future__ import annotations

import argparse
import collections
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Measure, alternating, best_of, table

from contextbridge.errors import RecordError
from contextbridge.language.mapping import Mapping, load_mapping
from contextbridge.language.templates import FILTERS
from contextbridge.language.translator import Translator

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = ROOT / "mappings"
PARKING_STATUS = {"0": "free", "1": "occupied", "2": "unknown"}


def _utc(text: str) -> str:
    moment = datetime.fromisoformat(text).astimezone(UTC)
    millis = moment.microsecond // 1000
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{millis:03d}Z" if millis else f"{base}Z"


def handwritten_parking(record: dict[str, Any]) -> list[dict[str, Any]]:
    """santander-parking.yaml, by hand."""
    sensor = record["ayto:idSensor"]
    observed = _utc(record["dc:modified"])
    point = {
        "type": "Point",
        "coordinates": [float(record["ayto:longitude"]), float(record["ayto:latitude"])],
    }
    spot: dict[str, Any] = {
        "id": f"urn:ngsi-ld:ParkingSpot:santander:{sensor}",
        "type": "ParkingSpot",
        "status": {
            "type": "Property",
            "value": PARKING_STATUS[record["ayto:estado"]],
            "observedAt": observed,
        },
        "location": {"type": "GeoProperty", "value": point, "observedAt": observed},
        "category": {"type": "Property", "value": ["onStreet"]},
    }
    if record.get("ayto:zona"):
        spot["areaServed"] = {"type": "Property", "value": record["ayto:zona"], "observedAt": observed}
    if record.get("ayto:calle"):
        street = FILTERS["slug"](record["ayto:calle"])
        spot["refParkingSite"] = {
            "type": "Relationship",
            "object": f"urn:ngsi-ld:OnStreetParking:santander:{street}",
        }
    spot["refDevice"] = {"type": "Relationship", "object": f"urn:ngsi-ld:Device:santander:parking-{sensor}"}
    if record.get("uri"):
        spot["source"] = {"type": "Property", "value": record["uri"], "observedAt": observed}
    device: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Device:santander:parking-{sensor}",
        "type": "Device",
        "controlledProperty": {"type": "Property", "value": ["occupancy"]},
        "deviceCategory": {"type": "Property", "value": ["sensor"]},
    }
    battery = record.get("ayto:bateria")
    if battery:
        level = round(float(battery) * 0.01, 2)
        if 0 <= level <= 1:
            device["batteryLevel"] = {
                "type": "Property",
                "value": level,
                "unitCode": "C62",
                "observedAt": observed,
            }
    device["location"] = {"type": "GeoProperty", "value": point, "observedAt": observed}
    device["dateLastValueReported"] = {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": observed},
        "observedAt": observed,
    }
    if record.get("uri"):
        device["source"] = {"type": "Property", "value": record["uri"], "observedAt": observed}
    return [spot, device]


def sample_records(mapping: Mapping) -> list[Any]:
    """The records of the mapping's first sample, parsed once (errors dropped)."""
    with mapping.samples[0].input.open("rb") as stream:
        return [r for r in mapping.source_format.parse(stream) if not isinstance(r, RecordError)]


def scaled(records: list[Any], count: int) -> list[Any]:
    return [records[i % len(records)] for i in range(count)]


def translate_all(translator: Translator, records: list[Any]) -> int:
    """Every outcome taken (at C speed, as the hand-written side's ``sum``), the entities counted
    by the translator itself."""
    collections.deque(translator.translate(records), maxlen=0)
    return translator.stats.entities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--parking-only", action="store_true", help="skip the table of every mapping")
    parser.add_argument("--repeat", type=int, default=7, help="turns of each side (the best is kept)")
    args = parser.parse_args()

    parking = load_mapping(MAPPINGS / "santander-parking.yaml")
    records = scaled(sample_records(parking), args.records)
    good = [r for r in records if _translates(parking, r)]
    expected = [e for record in good for e in Translator(parking).translate_record(record)]
    if [e for record in good for e in handwritten_parking(record)] != expected:
        sys.exit("the hand-written parking function does not produce the mapping's entities")

    closures = [e for record in good for e in Translator(parking, generated=False).translate_record(record)]
    if closures != expected:
        sys.exit("the generated code and the closures do not produce the same entities")

    # The sides take turns and are timed in CPU time: the machine's load weighs on all alike.
    baseline, *rows = alternating(
        {
            "hand-written Python (parking)": lambda: sum(len(handwritten_parking(r)) for r in good),
            "compiled mapping (generated code)": lambda: translate_all(Translator(parking), good),
            "compiled mapping (closures)": lambda: translate_all(Translator(parking, generated=False), good),
        },
        repeat=args.repeat,
    )
    print(table(f"Parking translation, {len(good):,} records", rows, baseline=baseline, unit="entities/s"))

    if args.parking_only:
        return
    print()
    per_mapping: list[Measure] = []
    for path in sorted(MAPPINGS.glob("*.yaml")):
        mapping = load_mapping(path)
        if not mapping.samples:
            continue
        data = mapping.samples[0].input.read_bytes()
        repeat = max(1, args.records // max(1, len(sample_records(mapping))))

        def parse_and_translate(mapping: Mapping = mapping, data: bytes = data, repeat: int = repeat) -> int:
            translator = Translator(mapping)
            return sum(translate_all_stream(translator, data) for _ in range(repeat))

        per_mapping.append(best_of(mapping.id, parse_and_translate, repeat=3))
    print("Every example mapping, parse + translate + validate")
    for measure in per_mapping:
        print(f"  {measure.name:40} {measure.rate:14,.0f} entities/s")


def translate_all_stream(translator: Translator, data: bytes) -> int:
    return sum(
        1
        for outcome in translator.translate_stream(io.BytesIO(data), source="bench")
        if not isinstance(outcome, RecordError)
    )


def _translates(mapping: Mapping, record: Any) -> bool:
    try:
        Translator(mapping).translate_record(record)
    except RecordError:
        return False
    return True


if __name__ == "__main__":
    main()
