"""Golden samples: each mapping's sample inputs translate to exactly the expected entities.

>>> for result in run_samples(load_mapping("mappings/santander-parking.yaml")):
...     print(result.sample.input, "ok" if result.ok else result.diff)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .errors import RecordError
from .mapping import Mapping, Sample
from .translator import Translator


@dataclass(frozen=True)
class SampleResult:
    sample: Sample
    ok: bool
    diff: str = ""
    rejected: tuple[str, ...] = ()  # the sample's rejected records, reported, not compared


def translate_file(mapping: Mapping, path: Path) -> tuple[list[dict[str, Any]], list[RecordError]]:
    translator = Translator(mapping)
    entities: list[dict[str, Any]] = []
    errors: list[RecordError] = []
    with path.open("rb") as stream:
        for outcome in translator.translate_stream(stream, source=path.name):
            (errors if isinstance(outcome, RecordError) else entities).append(outcome)  # type: ignore[arg-type]
    return entities, errors


def dump_ndjson(entities: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(entity, option=orjson.OPT_APPEND_NEWLINE) for entity in entities)


def _pretty(entities: list[Any]) -> list[str]:
    return orjson.dumps(entities, option=orjson.OPT_INDENT_2).decode().splitlines(keepends=True)


def run_samples(mapping: Mapping, *, update: bool = False) -> Iterator[SampleResult]:
    """Check (or, with ``update``, rewrite) every golden sample of ``mapping``."""
    for sample in mapping.samples:
        entities, errors = translate_file(mapping, sample.input)
        rejected = tuple(str(error) for error in errors)
        if update:
            sample.expected.parent.mkdir(parents=True, exist_ok=True)
            sample.expected.write_bytes(dump_ndjson(entities))
            yield SampleResult(sample, True, rejected=rejected)
            continue
        try:
            lines = sample.expected.read_bytes().splitlines()
        except FileNotFoundError:
            yield SampleResult(sample, False, f"missing expected file {sample.expected} (run with --update)")
            continue
        expected = [orjson.loads(line) for line in lines if line.strip()]
        if expected == entities:
            yield SampleResult(sample, True, rejected=rejected)
            continue
        diff = "".join(
            difflib.unified_diff(
                _pretty(expected), _pretty(entities), fromfile=str(sample.expected), tofile="translated"
            )
        )
        yield SampleResult(sample, False, diff, rejected)
