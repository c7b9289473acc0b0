"""The typer application every command module registers on, and the shared helpers."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..errors import ContextBridgeError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="contextbridge: city feeds to NGSI-LD entities, Orion-LD and a SPARQL city graph.",
)


# The panels of `contextbridge --help`, in the order of a newcomer's day.
RUN = "Run the city's feeds"
MAPPINGS = "Write and check mappings"
GRAPH = "The city graph"
DELIVERY = "Delivery to Orion-LD"


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"contextbridge {version('contextbridge')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """The options of ``contextbridge`` itself (the help shown is the app's)."""


def echo_err(message: str = "") -> None:
    typer.echo(message, err=True)


def main() -> None:
    """Entry point of the ``contextbridge`` script: library errors become one line and exit 1."""
    try:
        app()
    except ContextBridgeError as error:
        echo_err(f"error: {error}")
        sys.exit(1)
