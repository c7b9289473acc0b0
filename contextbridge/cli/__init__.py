"""The ``contextbridge`` command line: one module per group of commands, all on one app."""

# ruff: noqa: I001  (the order of the imports is the order of --help)

from __future__ import annotations

# Each command module registers its commands on the app when imported: in this order in --help.
from . import running, devices, keys, mappings, drafting, entities, graph, service, delivery  # noqa: F401
from .app import app, main

__all__ = ["app", "main"]
