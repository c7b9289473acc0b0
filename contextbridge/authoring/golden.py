"""Golden samples: each mapping's sample inputs translate to exactly the expected entities.

>>> for result in run_samples(load_mapping("mappings/santander-parking.yaml")):
...     print(result.sample.input, "ok" if result.ok else result.diff)
>>> save_sample(mapping, "busy-hour", payload)    # samples/santander-parking/busy-hour.json + .expected.ndjson

A mapping's samples are those its ``samples:`` lists and those kept by convention in
``samples/<mapping file stem>/`` beside it (``contextbridge.language.mapping.compiler.discover_samples``),
where ``save_sample`` (the console's "save as sample") writes them.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ..errors import ConfigError, Problem, RecordError
from ..language.mapping import Mapping, Sample
from ..language.mapping.compiler import EXPECTED_SUFFIX, samples_folder
from ..language.translator import Translator


@dataclass(frozen=True)
class SampleResult:
    sample: Sample
    ok: bool
    diff: str = ""
    rejected: tuple[str, ...] = ()  # the sample's rejected records, reported, not compared


def translate_file(mapping: Mapping, path: Path) -> tuple[list[dict[str, Any]], list[RecordError]]:
    with path.open("rb") as stream:
        return _translate(mapping, stream, path.name)


def _translate(
    mapping: Mapping, stream: BinaryIO, source: str
) -> tuple[list[dict[str, Any]], list[RecordError]]:
    translator = Translator(mapping)
    entities: list[dict[str, Any]] = []
    errors: list[RecordError] = []
    for outcome in translator.translate_stream(stream, source=source):
        (errors if isinstance(outcome, RecordError) else entities).append(outcome)  # type: ignore[arg-type]
    return entities, errors


SAMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def save_sample(mapping: Mapping, name: str, payload: bytes) -> tuple[Sample, int]:
    """Keep ``payload`` as the golden sample ``name`` of ``mapping`` (a file of its mapping's
    directory), with what ``mapping`` translates it to; the sample and its number of entities.

    ``name`` is a short name (letters, digits, ``-``, ``_``): the files never leave
    ``samples/<stem>/`` beside the mapping. An existing sample of that name is replaced. The
    payload is translated first: a payload that cannot be read raises and writes nothing.
    """
    if not SAMPLE_NAME.match(name):
        raise ConfigError(f"sample name {name!r}: up to 64 letters, digits, '-' or '_'", key="sample")
    folder = samples_folder(mapping.path)
    extension = mapping.document.data["source"].get("format", "txt")
    extension = extension if isinstance(extension, str) and extension.isalnum() else "txt"
    sample = Sample(folder / f"{name}.{extension}", folder / f"{name}{EXPECTED_SUFFIX}")
    entities, _ = _translate(mapping, io.BytesIO(payload), sample.input.name)  # as run_samples will
    folder.mkdir(parents=True, exist_ok=True)
    for other in folder.glob(f"{name}.*"):  # another input of that name would make the pair ambiguous
        if other not in (sample.input, sample.expected) and "." not in other.name[len(name) + 1 :]:
            other.unlink()
    sample.input.write_bytes(payload)
    sample.expected.write_bytes(dump_ndjson(entities))
    return sample, len(entities)


def dump_ndjson(entities: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(entity, option=orjson.OPT_APPEND_NEWLINE) for entity in entities)


def _pretty(entities: Any) -> list[str]:
    return orjson.dumps(entities, option=orjson.OPT_INDENT_2).decode().splitlines(keepends=True)


def sample_problems(mapping: Mapping, sample: Sample | None = None) -> list[Problem]:
    """The sample files of ``mapping`` (or only ``sample``'s) that are missing, at their lines."""
    found = []
    for each in mapping.samples if sample is None else (sample,):
        if not each.input.is_file():
            found.append(mapping.document.problem((*each.key, "input"), f"no such file: {each.input}"))
        if not each.expected.is_file():
            message = f"no such file: {each.expected} (`contextbridge test --update` writes it)"
            found.append(mapping.document.problem((*each.key, "expected"), message))
    return found


def _keyed(entities: list[Any]) -> dict[tuple[str, int], Any]:
    """Entities by (id, occurrence): a feed may give the same entity once per record."""
    seen: dict[str, int] = {}
    keyed = {}
    for entity in entities:
        entity_id = str(entity.get("id")) if isinstance(entity, dict) else repr(entity)
        seen[entity_id] = seen.get(entity_id, 0) + 1
        keyed[(entity_id, seen[entity_id])] = entity
    return keyed


def _named(key: tuple[str, int]) -> str:
    return key[0] if key[1] == 1 else f"{key[0]} (#{key[1]})"


def describe_changes(expected: list[Any], translated: list[Any], *, where: str = "expected") -> str:
    """What differs, entity by entity, named by id: added, gone, or changed (with a diff of it)."""
    if expected == translated:
        return ""
    before, after = _keyed(expected), _keyed(translated)
    out: list[str] = []
    for key, entity in after.items():
        name = _named(key)
        if key not in before:
            out.append(f"+ new entity {name}\n")
        elif before[key] != entity:
            out.append(f"~ changed entity {name}\n")
            out.extend(
                "    " + line
                for line in difflib.unified_diff(
                    _pretty(before[key]), _pretty(entity), fromfile=where, tofile="translated", n=1
                )
            )
    out.extend(f"- entity {_named(key)} is no longer made\n" for key in before if key not in after)
    if not out:
        out.append("the same entities, in another order\n")
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def _expected(sample: Sample) -> list[Any] | None:
    try:
        lines = sample.expected.read_bytes().splitlines()
    except FileNotFoundError:
        return None
    return [orjson.loads(line) for line in lines if line.strip()]


def run_samples(mapping: Mapping, *, update: bool = False) -> Iterator[SampleResult]:
    """Check (or, with ``update``, rewrite) every golden sample of ``mapping``.

    A sample whose input is missing fails with the mapping's line that names it. A mismatch is
    described entity by entity, by id; with ``update``, the result's ``diff`` says what the rewrite
    changed ("" when nothing did).
    """
    for sample in mapping.samples:
        if not sample.input.is_file():
            yield SampleResult(sample, False, "\n".join(map(str, sample_problems(mapping, sample)[:1])))
            continue
        entities, errors = translate_file(mapping, sample.input)
        rejected = tuple(str(error) for error in errors)
        expected = _expected(sample)
        if update:
            changes = describe_changes(expected or [], entities, where=str(sample.expected))
            if expected is None or changes:
                sample.expected.parent.mkdir(parents=True, exist_ok=True)
                sample.expected.write_bytes(dump_ndjson(entities))
            yield SampleResult(sample, True, changes, rejected=rejected)
            continue
        if expected is None:
            yield SampleResult(sample, False, f"missing expected file {sample.expected} (run with --update)")
            continue
        if expected == entities:
            yield SampleResult(sample, True, rejected=rejected)
            continue
        yield SampleResult(
            sample, False, describe_changes(expected, entities, where=str(sample.expected)), rejected
        )
