"""The ``contextbridge`` command line: one module per group of commands, all on one app."""

from __future__ import annotations

# Each command module registers its commands on the app when imported.
from . import (  # noqa: F401
    delivery,
    entities,
    graph,
    mappings,
    running,
    service,
)
from .app import app, main

__all__ = ["app", "main"]
