"""Start-up time of the command line, against the interpreter's own in the same run.

    python benchmarks/startup.py [--runs 15]

Each command runs ``--runs`` times as a fresh process, the runs interleaved so that the machine's
load falls on all alike; the best and the median wall time are reported, with the ratios of the
medians against two baselines measured in the same run: ``python -c pass`` (the interpreter alone)
and ``python -c "import httpx"`` (one everyday library). Targets on an idle machine:
``contextbridge --help`` under 0.3 s and ``contextbridge translate`` of a small file under 0.6 s.

``translate`` runs twice: warm (the compiled constraints cached, in a cache directory of its own
that the warm-up run fills: what a user sees from the second run on) and with the cache off
(``CONTEXTBRIDGE_CACHE_DIR=off``: the ontology and shapes compiled at every start, as on a first
run or after the ontology changed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRANSLATE = "contextbridge translate (48 entities)"
TARGETS = {"contextbridge --help": 0.3, f"{TRANSLATE}, warm": 0.6}


def cli() -> list[str]:
    """The installed ``contextbridge`` script beside this interpreter, else ``python -m contextbridge``."""
    script = Path(sys.executable).parent / "contextbridge"
    return [str(script)] if script.exists() else [sys.executable, "-m", "contextbridge"]


# As installed: bytecode cached after the first run (a process told not to write it compiles every
# module of the package again each time, which is not what users see).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
Command = tuple[list[str], dict[str, str]]


def commands(tmp: Path) -> dict[str, Command]:
    translate = [
        *cli(), "translate", "examples/santander/parking.json",
        "-m", "mappings/santander-parking.yaml", "-o", str(tmp / "entities.ndjson"),
    ]  # fmt: skip
    cached = {**ENV, "CONTEXTBRIDGE_CACHE_DIR": str(tmp / "cache")}
    return {
        "python -c pass (baseline)": ([sys.executable, "-c", "pass"], ENV),
        "python -c 'import httpx' (baseline)": ([sys.executable, "-c", "import httpx"], ENV),
        "python -c 'import contextbridge'": ([sys.executable, "-c", "import contextbridge"], ENV),
        "contextbridge --help": ([*cli(), "--help"], ENV),
        f"{TRANSLATE}, warm": (translate, cached),
        f"{TRANSLATE}, cache off": (translate, {**ENV, "CONTEXTBRIDGE_CACHE_DIR": "off"}),
    }


def timed(command: Command) -> float:
    argv, env = command
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        todo = commands(Path(tmp))
        for command in todo.values():  # warm the caches (bytecode, file system, compiled plans) once
            timed(command)
        times: dict[str, list[float]] = {name: [] for name in todo}
        for _ in range(runs):
            for name, command in todo.items():
                times[name].append(timed(command))
    median = {name: statistics.median(values) for name, values in times.items()}
    interpreter, httpx = list(median.values())[:2]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{runs} runs each, interleaved; load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"{'command':<48}{'best s':>8}{'median s':>10}{'× pass':>8}{'× httpx':>9}  target")
    for name, values in times.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else f"< {target} s: {'yes' if min(values) < target else 'NO'} (best)"
        print(
            f"{name:<48}{min(values):>8.3f}{median[name]:>10.3f}"
            f"{median[name] / interpreter:>8.1f}{median[name] / httpx:>9.2f}  {verdict}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    main(parser.parse_args().runs)
