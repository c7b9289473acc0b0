"""The ``contextbridge`` command line: one module per group of commands, all on one app."""

from __future__ import annotations

from . import entities, mappings, running  # noqa: F401  (each command module registers its commands on the app)
from . import delivery  # noqa: F401  (sync, outbox, dlq)
from .app import app, main

__all__ = ["app", "main"]
