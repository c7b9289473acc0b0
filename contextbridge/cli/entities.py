"""Commands on NGSI-LD entities: validate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from .app import MAPPINGS, app, echo_err
from .mappings import OntologyOption, load_ontology


@app.command(rich_help_panel=MAPPINGS)
def validate(
    files: Annotated[list[Path], typer.Argument(help="NDJSON files of normalized NGSI-LD entities.")],
    ontology_paths: OntologyOption = None,
    no_ontology: Annotated[bool, typer.Option("--no-ontology", help="Check the NGSI-LD rules only.")] = False,
    no_constraints: Annotated[
        bool, typer.Option("--no-constraints", help="Leave out the Smart Data Models constraints.")
    ] = False,
) -> None:
    """Check entities against the NGSI-LD rules Orion-LD enforces, the ontology and the Smart Data
    Models constraints (each named with its rule and origin); one line per problem."""
    from ..entities.constraints import constraints_for
    from ..entities.validation import validate_entity

    ontology = None if no_ontology else load_ontology(ontology_paths)
    check = None if ontology is None or no_constraints else constraints_for(ontology).check
    entities = problems = 0
    for path in files:
        with path.open("rb") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                entities += 1
                where = f"{path}:{number}"
                try:
                    entity = orjson.loads(line)
                except orjson.JSONDecodeError as error:
                    typer.echo(f"{where}: invalid JSON: {error}")
                    problems += 1
                    continue
                found = (
                    [str(error) for error in validate_entity(entity)]
                    if isinstance(entity, dict)
                    else ["BadRequestData: an entity must be a JSON object"]
                )
                if not found and ontology is not None:
                    found = [f"{entity.get('id')}: {message}" for message in ontology.problems(entity)]
                if not found and check is not None:
                    found = [str(violation) for violation in check(entity)]
                for message in found:
                    typer.echo(f"{where}: {message}")
                problems += len(found)
    echo_err(f"{entities} entities checked, {problems} problems")
    if problems:
        raise typer.Exit(1)
