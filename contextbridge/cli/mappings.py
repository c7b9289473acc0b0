"""Commands for mapping authors: translate, test, check, context, describe."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import orjson
import typer

from ..errors import ConfigError, MappingError, RecordError
from .app import MAPPINGS, app, echo_err

if TYPE_CHECKING:  # each command imports what it uses when it runs: `--help` stays fast
    from ..entities.ontology import Ontology
    from ..language.mapping import Mapping
    from ..language.translator import TranslationStats

OntologyOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--ontology", help="Extra ontology files or directories (Turtle), added to the bundled one."
    ),
]
ConstraintsOption = Annotated[
    str | None,
    typer.Option(help="Smart Data Models constraints: reject, warn or off (default: the mapping's, warn)."),
]


def mapping_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Mapping files named directly, or found (sorted) in the directories named."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            yield path


def _load_or_exit(path: Path, extra: list[Path] | None = None) -> Mapping:
    from ..language.mapping import load_mapping

    try:
        return with_ontologies(load_mapping(path), extra)
    except MappingError as error:
        echo_err(str(error))
        raise typer.Exit(1) from None


def with_ontologies(mapping: Mapping, extra: list[Path] | None) -> Mapping:
    """``mapping`` reading the ``--ontology`` files too (lint, constraints)."""
    return dataclasses.replace(mapping, ontologies=(*extra, *mapping.ontologies)) if extra else mapping


def print_summary(name: str, stats: TranslationStats) -> None:
    echo_err(
        f"{name}: {stats.records} records read, {stats.entities} entities written, "
        f"{stats.rejected} rejected, {stats.filtered} filtered"
    )
    for reason, count in stats.reasons.most_common():
        echo_err(f"  rejected {count} × {reason}")
    for reason, count in stats.warnings.most_common():
        echo_err(f"  constraint broken {count} × {reason} (first: {stats.warning_examples[reason]})")
    for name, count in stats.skipped_attributes.most_common():
        echo_err(f"  attribute {name!r} left out {count} × (first: {stats.skipped_examples[name]})")
    for error in stats.examples:
        echo_err(f"  {error}")
    if stats.rejected > len(stats.examples):
        echo_err(f"  ... and {stats.rejected - len(stats.examples)} more rejected records")


def _open_inputs(inputs: list[str]) -> Iterator[tuple[str, BinaryIO]]:
    for name in inputs:
        if name == "-":
            yield "<stdin>", sys.stdin.buffer
            continue
        try:
            stream = open(name, "rb")  # noqa: SIM115 - closed below, after streaming
        except OSError as error:
            echo_err(f"{name}: cannot open: {error.strerror}")
            raise typer.Exit(2) from None
        with stream:
            yield name, stream


@app.command(rich_help_panel=MAPPINGS)
def translate(
    inputs: Annotated[list[str], typer.Argument(help="Input files ('-' for standard input).")],
    mapping_path: Annotated[Path, typer.Option("--mapping", "-m", help="The mapping file.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write NDJSON here.")] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any record is rejected.")] = False,
    ontology_paths: OntologyOption = None,
    constraints: ConstraintsOption = None,
) -> None:
    """Translate INPUT files into NDJSON of normalized NGSI-LD entities."""
    from ..language.translator import Translator

    mapping = _load_or_exit(mapping_path, ontology_paths)
    translator = Translator(mapping, mode=constraints)
    out = output.open("wb") if output else sys.stdout.buffer
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    try:
        for name, stream in _open_inputs(inputs):
            for outcome in translator.translate_stream(stream, source=name):
                if not isinstance(outcome, RecordError):
                    out.write(dumps(outcome, option=newline))
    finally:
        out.flush()
        if output:
            out.close()
    print_summary(mapping.id, translator.stats)
    if strict and translator.stats.rejected:
        raise typer.Exit(1)


@app.command("test", rich_help_panel=MAPPINGS)
def test_samples(
    paths: Annotated[list[Path], typer.Argument(help="Mapping files or directories of mappings.")],
    update: Annotated[
        bool, typer.Option(help="Rewrite the expected files from the translation, printing what changed.")
    ] = False,
    ontology_paths: OntologyOption = None,
) -> None:
    """Run each mapping's golden samples (input → expected entities); show a diff on mismatch."""
    from ..authoring.golden import run_samples
    from ..language.mapping import load_mapping

    failed = checked = 0
    for path in mapping_files(paths):
        try:
            mapping = with_ontologies(load_mapping(path), ontology_paths)
        except MappingError as error:
            echo_err(str(error))
            failed += 1
            continue
        if not mapping.samples:
            typer.echo(f"{path}: no samples")
        for result in run_samples(mapping, update=update):
            checked += 1
            if update:
                status = "updated, changes:" if result.diff else "unchanged"
            else:
                status = "ok" if result.ok else "FAILED"
            ran = f" ({len(result.rejected)} rejected records)" if result.sample.input.is_file() else ""
            typer.echo(f"{path}: {result.sample.input.name}: {status}{ran}")
            if not result.ok:
                failed += 1
            if result.diff:
                typer.echo(result.diff)
    typer.echo(f"{checked} samples, {failed} failed")
    if failed or not checked:
        raise typer.Exit(1)


def load_ontology(extra: list[Path] | None) -> Ontology:
    from ..entities.ontology import union_ontology

    return union_ontology(extra or ())


@app.command(rich_help_panel=MAPPINGS)
def check(
    paths: Annotated[list[Path], typer.Argument(help="Mapping files or directories of mappings.")],
    ontology_paths: OntologyOption = None,
    show_code: Annotated[
        bool,
        typer.Option(
            "--show-code",
            help="Print the Python source each mapping is compiled to (what translates its records).",
        ),
    ] = False,
) -> None:
    """Lint mappings: schema, expressions, templates, units, times, against the ontology and the
    Smart Data Models constraints."""
    from ..authoring.golden import sample_problems
    from ..authoring.lint import lint_mapping
    from ..entities.ontology import union_ontology
    from ..language.mapping import load_mapping

    problems = count = 0
    for path in mapping_files(paths):
        count += 1
        try:
            mapping = with_ontologies(load_mapping(path), ontology_paths)
            if show_code:
                typer.echo(generated_source(mapping))
            found = lint_mapping(mapping, union_ontology(mapping.ontologies)) + sample_problems(mapping)
        except MappingError as error:
            found = error.problems
        problems += len(found)
        for problem in found:
            typer.echo(str(problem))
    echo_err(f"{count} mappings checked, {problems} problems")
    if problems or not count:
        raise typer.Exit(1)


def generated_source(mapping: Mapping) -> str:
    """The source the translator runs for ``mapping``, its constraints (unless off) compiled in."""
    from ..entities.constraints import load_constraints
    from ..language.mapping.codegen import generated

    checker = None if mapping.constraints == "off" else load_constraints(mapping.ontologies)
    return generated(mapping, checker).source


@app.command(rich_help_panel=MAPPINGS)
def context(
    type_name: Annotated[
        str | None, typer.Option("--type", help="The flat @context of one entity type (as Orion-LD needs).")
    ] = None,
    ontology_paths: OntologyOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write it to a file.")] = None,
) -> None:
    """The JSON-LD @context generated from the ontology (the core NGSI-LD context last)."""
    from ..entities.jsonld import context_document, dumps

    text = dumps(context_document(load_ontology(ontology_paths), entity_type=type_name))
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


@app.command(rich_help_panel=MAPPINGS)
def describe(
    type_name: Annotated[str, typer.Argument(metavar="TYPE", help="An entity type of the ontology.")],
    ontology_paths: OntologyOption = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """What the ontology says about TYPE: IRI, superclasses, attributes (IRI, kind, datatype, unit,
    enumeration, range, required) and the Smart Data Models constraints with their origin."""
    if output_format not in ("text", "json"):
        raise ConfigError(f"unknown format {output_format!r} (known: text, json)", key="format")
    from ..authoring.describe import UnknownType, describe_text, describe_type

    try:
        found = describe_type(load_ontology(ontology_paths), type_name)
    except UnknownType as error:
        echo_err(str(error))
        raise typer.Exit(1) from None
    if output_format == "json":
        typer.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(describe_text(found), nl=False)
