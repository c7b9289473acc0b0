"""A parking CSV into the city graph, against Morph-KGC materialising the same CSV with the equivalent
RML mapping to an N-Triples file.

    python -m venv benchmarks/.morph-venv
    benchmarks/.morph-venv/bin/pip install -r benchmarks/requirements-morph.txt
    python benchmarks/morph.py [--rows 200000] [--morph-python benchmarks/.morph-venv/bin/python]

Morph-KGC pins an older pyoxigraph than contextbridge's, so it lives in a virtual environment of its
own and runs as a separate process; so does each contextbridge command, which makes each side's peak
memory its process's own (``ru_maxrss``). The CSV (7 columns, generated here) goes:

- through Morph-KGC (``benchmarks/morph/parking.rml.ttl``) to an N-Triples file (8 triples a row);
- through ``contextbridge translate`` (``benchmarks/morph/parking.yaml``) to NDJSON, then
  ``contextbridge graph load --view direct`` into a fresh embedded graph: the same 8 triples a row;
- and ``graph load`` in the NGSI-LD view (every attribute a node: about 25 triples a row);
- and, the ceiling of any loader into this store, pyoxigraph's bulk loader alone taking Morph-KGC's
  N-Triples into a fresh store's named graph, in the chunks ``graph load`` gives it.

Printed: each step's wall time and peak memory, the speed ratio (Morph-KGC's time over
contextbridge's: target ≥ 1×) beside the store's own (Morph-KGC's time over the bulk loader's alone),
the memory ratio (target ≤ 0.5×) and the NGSI-LD view's time against Morph-KGC's (target ≤ 3×).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from contextbridge.sinks.graph.loading import CHUNK

HERE = Path(__file__).resolve().parent
MAPPING = HERE / "morph" / "parking.yaml"
RML = HERE / "morph" / "parking.rml.ttl"
STREETS = ["calle-daoiz-y-velarde", "paseo-pereda", "calle-burgos", "calle-san-fernando", "calle-vargas"]
ZONES = ["Centro", "Castilla-Hermida", "Cuatro Caminos", "El Sardinero"]


def write_csv(path: Path, rows: int, *, seed: int = 5) -> None:
    """``rows`` parking readings: sensor, status, latitude, longitude, zone, street, modified."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("sensor,status,latitude,longitude,zone,street,modified\n")
        for number in range(rows):
            out.write(
                f"{10_000 + number},{rng.choice(('free', 'occupied', 'unknown'))},"
                # shortest repr, as the converter writes a float: both sides give the same literals
                f"{round(43.46 + rng.uniform(-0.03, 0.03), 6)},{round(-3.80 + rng.uniform(-0.05, 0.05), 6)},"
                f"{rng.choice(ZONES)},{rng.choice(STREETS)},"
                f"2026-03-01T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z\n"
            )


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    peak_mb: float
    stderr: str


def run(name: str, command: list[str], *, cwd: Path) -> Step:
    """Run ``command``; its wall time and its own peak resident memory (``wait4``'s rusage)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    errors = process.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):  # 1: some rows refused, which the counts show
        sys.exit(f"{name} failed ({process.returncode}):\n{errors[-3000:]}")
    return Step(name, seconds, usage.ru_maxrss / 1024, errors)


# The store alone: N-Triples lines (argv[1]) bulk-loaded into a new store (argv[2]) in chunks of
# argv[3] triples, into a named graph as ``graph load`` does (a tenant's graph).
BULK_ALONE = """
import sys
from pyoxigraph import NamedNode, RdfFormat, Store
store, graph, size = Store(sys.argv[2]), NamedNode("urn:bench:graph"), int(sys.argv[3])
with open(sys.argv[1], "rb") as lines:
    chunk = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            store.bulk_load(b"".join(chunk), format=RdfFormat.N_TRIPLES, to_graph=graph)
            chunk = []
    store.bulk_load(b"".join(chunk), format=RdfFormat.N_TRIPLES, to_graph=graph)
store.flush()
"""


def loaded_triples(step: Step) -> int:
    found = re.search(r"loaded [\d,]+ entities \(([\d,]+) triples\)", step.stderr)
    return int(found.group(1).replace(",", "")) if found else 0


def same_triples(store: Path, ntriples: Path) -> bool:
    """Whether the direct view's graph holds exactly the triples Morph-KGC wrote."""
    import asyncio

    import pyoxigraph

    from contextbridge.sinks.graph import EmbeddedStore

    graph = EmbeddedStore(store, view="direct")
    try:
        ours = {
            str(t)
            for t in pyoxigraph.parse(graph.dump(tenant="default"), format=pyoxigraph.RdfFormat.N_TRIPLES)
        }
    finally:
        asyncio.run(graph.close())
    theirs = {str(t) for t in pyoxigraph.parse(path=str(ntriples), format=pyoxigraph.RdfFormat.N_TRIPLES)}
    return ours == theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument(
        "--morph-python",
        default=os.environ.get("MORPH_PYTHON", str(HERE / ".morph-venv" / "bin" / "python")),
        help="The interpreter of the environment Morph-KGC is installed in.",
    )
    parser.add_argument("--skip-ngsi-ld", action="store_true", help="Leave out the NGSI-LD view.")
    parser.add_argument(
        "--check", action="store_true", help="Check that both sides gave the same triples (direct view)."
    )
    options = parser.parse_args()
    if not Path(options.morph_python).exists():
        sys.exit(
            f"no Morph-KGC environment at {options.morph_python}: python -m venv benchmarks/.morph-venv && "
            "benchmarks/.morph-venv/bin/pip install -r benchmarks/requirements-morph.txt"
        )
    morph_python = str(Path(options.morph_python).absolute())  # the commands run in a scratch directory
    cli = [sys.executable, "-m", "contextbridge"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv = work / "parking.csv"
        write_csv(csv, options.rows)
        (work / "parking.rml.ttl").write_text(RML.read_text(encoding="utf-8").replace("CSV_PATH", str(csv)))
        (work / "morph.ini").write_text(
            "[CONFIGURATION]\noutput_file: morph.nt\noutput_format: N-TRIPLES\n\n"
            f"[Parking]\nmappings: {work / 'parking.rml.ttl'}\n"
        )
        print(
            f"{options.rows:,} rows of 7 columns ({csv.stat().st_size / 1e6:.1f} MB)  load average: "
            f"{os.getloadavg()[0]:.1f}\n"
        )
        morph = run("Morph-KGC → N-Triples", [morph_python, "-m", "morph_kgc", "morph.ini"], cwd=work)
        with (work / "morph.nt").open("rb") as out:
            morph_triples = sum(1 for _ in out)
        translate = run(
            "contextbridge translate",
            [*cli, "translate", "-m", str(MAPPING), str(csv), "-o", str(work / "spots.ndjson")],
            cwd=work,
        )
        direct = run(
            "contextbridge graph load --view direct",
            [*cli, "graph", "load", "--state", str(work / "direct"), "--view", "direct", "spots.ndjson"],
            cwd=work,
        )
        alone = run(
            "pyoxigraph bulk loader alone (Morph-KGC's)",
            [sys.executable, "-c", BULK_ALONE, "morph.nt", str(work / "alone"), str(CHUNK)],
            cwd=work,
        )
        steps = [
            (morph, morph_triples),
            (translate, 0),
            (direct, loaded_triples(direct)),
            (alone, morph_triples),
        ]
        if options.check:
            same = same_triples(work / "direct" / "graph", work / "morph.nt")
            print(f"same triples on both sides: {same}\n")
        ngsi = None
        if not options.skip_ngsi_ld:
            ngsi = run(
                "contextbridge graph load (NGSI-LD view)",
                [*cli, "graph", "load", "--state", str(work / "ngsi-ld"), "spots.ndjson"],
                cwd=work,
            )
            steps.append((ngsi, loaded_triples(ngsi)))
        print(f"  {'':42} {'seconds':>8} {'triples':>11} {'peak MB':>8}")
        for step, triples in steps:
            shown = f"{triples:,}" if triples else ""
            print(f"  {step.name:42} {step.seconds:8.2f} {shown:>11} {step.peak_mb:8.0f}")
        ours = translate.seconds + direct.seconds
        peak = max(translate.peak_mb, direct.peak_mb)
        print(
            f"\ncontextbridge translate + graph load --view direct: {ours:.2f} s, {peak:.0f} MB peak\n"
            f"  speed vs Morph-KGC: {morph.seconds / ours:.2f}× (target ≥ 1×; the store's bulk loader alone: "
            f"{morph.seconds / alone.seconds:.2f}×)\n"
            f"  memory vs Morph-KGC: {peak / morph.peak_mb:.2f}× (target ≤ 0.5×)"
        )
        if ngsi is not None:
            print(
                f"NGSI-LD view: translate + graph load {translate.seconds + ngsi.seconds:.2f} s, "
                f"{(translate.seconds + ngsi.seconds) / morph.seconds:.2f}× Morph-KGC's time (target ≤ 3×)"
            )


if __name__ == "__main__":
    main()
