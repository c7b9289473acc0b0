"""Peak memory of ``contextbridge translate`` on a generated input of any size (default 1 GB).

    python benchmarks/memory.py [--size-mb 1024] [--keep]

Writes a parking feed in the shape of Santander's open data API (one JSON document with a
``resources`` array) to a temporary file, translates it with the parking mapping in a child
process, and reports the child's peak resident memory (target: under 200 MB for 1 GB).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "mappings" / "santander-parking.yaml"


def write_feed(path: Path, size: int) -> int:
    """Write about ``size`` bytes of parking records; return how many records."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('{"summary": {"items_per_page": 0}, "resources": [\n')
        written = 0
        while written < size:
            record = {
                "ayto:idSensor": str(100000 + count % 500000),
                "ayto:estado": str(count % 2),
                "ayto:latitude": f"{43.46 + (count % 1000) / 100000:.5f}",
                "ayto:longitude": f"{-3.80 - (count % 997) / 100000:.5f}",
                "ayto:zona": "Centro",
                "ayto:calle": f"Calle {count % 300}",
                "ayto:bateria": str(50 + count % 50),
                "dc:modified": f"2024-05-14T08:{count % 60:02d}:{count % 59:02d}Z",
                "dc:identifier": str(count),
                "uri": f"http://datos.santander.es/api/datos/sensores_smart_parking/{count}.json",
            }
            line = ("," if count else "") + json.dumps(record) + "\n"
            out.write(line)
            written += len(line)
            count += 1
        out.write("]}\n")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        feed = Path(directory) / "parking-big.json"
        records = write_feed(feed, args.size_mb * 1024 * 1024)
        size = feed.stat().st_size
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "contextbridge",
                "translate",
                "-m",
                str(MAPPING),
                str(feed),
                "-o",
                "/dev/null",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if args.keep:
            feed.rename(ROOT / "benchmarks" / feed.name)
    print(result.stderr.strip().splitlines()[0] if result.stderr else "(no summary)")
    print(
        f"input: {size / 2**20:,.0f} MB, {records:,} records; {elapsed:,.1f} s ({records / elapsed:,.0f} records/s)"
    )
    print(f"peak memory of the translate process: {peak_kb / 1024:,.1f} MB (target < 200 MB)")
    if result.returncode != 0:
        sys.exit(result.returncode)


if __name__ == "__main__":
    main()
