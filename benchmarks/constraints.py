"""Validation speed with the Smart Data Models constraints on, against validation without them.

    python benchmarks/constraints.py [--copies N]

The entities are the golden outputs of every example mapping (280, all Types of the city), N
times over. The baseline is ``validate_entity`` (the NGSI-LD rules Orion-LD enforces) plus the
ontology check, what ``contextbridge validate`` did before; the measured row adds the compiled
constraints check (``Constraints.check``), as ``validate`` and the translator run it now. Both
are measured in the same run; the last row is the compiled check alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import best_of, table

from contextbridge.constraints import default_constraints
from contextbridge.entity import validate_entity
from contextbridge.ontology import default_ontology

ROOT = Path(__file__).resolve().parent.parent


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

    baseline = best_of("validate, constraints off", without)
    rows = [best_of("validate, constraints on", with_constraints), best_of("constraints check alone", alone)]
    print(table(f"Validation of {len(entities):,} entities", rows, baseline=baseline, unit="entities/s"))


if __name__ == "__main__":
    main()
