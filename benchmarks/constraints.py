"""Validation speed with the Smart Data Models constraints on, against validation without them.

    python benchmarks/constraints.py [--copies N]

The entities are the golden outputs of every example mapping (280, all Types of the city), N
times over. The baseline is ``validate_entity`` (the NGSI-LD rules Orion-LD enforces) plus the
ontology check, what ``contextbridge validate`` did before; the measured row adds the compiled
constraints check (``Constraints.check``), as ``validate`` and the translator run it now. Both
are measured in the same run; the last row is the compiled check alone. Then the translator:
every example mapping on its golden sample, ``constraints: off`` against ``warn`` (the default).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Measure, table

from contextbridge.entities.constraints import default_constraints
from contextbridge.entities.ontology import default_ontology
from contextbridge.entities.validation import validate_entity
from contextbridge.language.mapping import load_mapping
from contextbridge.language.translator import Translator

ROOT = Path(__file__).resolve().parent.parent


def interleaved(runs: dict[str, Callable[[], int]], repeat: int = 7) -> list[Measure]:
    """The best of ``repeat`` rounds, each round running every contender once: on a shared machine
    a burst of load then slows them all, not the one whose turn it was."""
    best = dict.fromkeys(runs, float("inf"))
    items = dict.fromkeys(runs, 0)
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            items[name] = run()
            best[name] = min(best[name], time.perf_counter() - started)
    return [Measure(name, items[name], best[name]) for name in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=50)
    args = parser.parse_args()
    entities = [
        orjson.loads(line)
        for path in sorted((ROOT / "mappings" / "expected").glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
        if line.strip()
    ] * args.copies
    ontology, check = default_ontology(), default_constraints().check

    def without() -> int:
        for entity in entities:
            validate_entity(entity)
            ontology.problems(entity)
        return len(entities)

    def with_constraints() -> int:
        for entity in entities:
            validate_entity(entity)
            ontology.problems(entity)
            check(entity)
        return len(entities)

    def alone() -> int:
        for entity in entities:
            check(entity)
        return len(entities)

    baseline, *rows = interleaved(
        {
            "validate, constraints off": without,
            "validate, constraints on": with_constraints,
            "constraints check alone": alone,
        }
    )
    print(table(f"Validation of {len(entities):,} entities", rows, baseline=baseline, unit="entities/s"))

    # The translator's hot path: every example mapping on its golden sample, off against warn.
    samples = []
    for path in sorted((ROOT / "mappings").glob("*.yaml")):
        mapping = load_mapping(path)
        samples += [(mapping, sample.input.read_bytes()) for sample in mapping.samples]

    def translate(mode: str) -> int:
        produced = 0
        for _ in range(args.copies):
            for mapping, payload in samples:
                translator = Translator(mapping, mode=mode)
                for _outcome in translator.translate_stream(io.BytesIO(payload)):
                    pass
                produced += translator.stats.entities
        return produced

    baseline, *rows = interleaved(
        {
            "translate, constraints off": lambda: translate("off"),
            "translate, constraints warn": lambda: translate("warn"),
        }
    )
    print(table("Translation of the example feeds", rows, baseline=baseline, unit="entities/s"))


if __name__ == "__main__":
    main()
