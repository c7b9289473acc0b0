"""The ``draft`` command: a first mapping for a new feed, proposed from a sample payload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from .app import MAPPINGS, app, echo_err
from .mappings import OntologyOption, load_ontology


@app.command(rich_help_panel=MAPPINGS)
def draft(
    sample: Annotated[
        Path, typer.Argument(help="A sample payload of the feed (JSON, NDJSON, CSV, XML, SenML).")
    ],
    type_name: Annotated[
        str | None,
        typer.Option("--type", help="The entity type (default: the best-ranked type of the ontology)."),
    ] = None,
    format_name: Annotated[
        str | None, typer.Option("--format", help="The input format (default: guessed).")
    ] = None,
    tz: Annotated[str, typer.Option("--tz", help="The zone of times written without an offset.")] = "UTC",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the mapping here.")] = None,
    ontology_paths: OntologyOption = None,
) -> None:
    """Draft a mapping from a SAMPLE payload: each proposed line says why; review it, then test it."""
    from ..authoring.drafting import draft_mapping  # the ontology loads when a draft is made, not for --help

    try:
        payload = sample.read_bytes()
    except OSError as error:
        echo_err(f"{sample}: cannot read: {error.strerror}")
        raise typer.Exit(2) from None
    try:
        result = draft_mapping(
            payload,
            name=sample.name,
            type_name=type_name,
            format=format_name,
            tz=tz,
            ontology=load_ontology(ontology_paths),
        )
    except (ConfigError, ValueError) as error:
        echo_err(f"{sample}: {error}")
        raise typer.Exit(1) from None
    for number, ranked in enumerate(result.ranking[:3], 1):
        echo_err(f"{number}. {ranked.type} ({ranked.score:g}): {'; '.join(ranked.reasons[:3])}")
    if output:
        output.write_text(result.text, encoding="utf-8")
        echo_err(f"{output}: draft for {result.type}, {result.proposed} attributes proposed")
    else:
        typer.echo(result.text, nl=False)
