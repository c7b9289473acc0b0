"""contextbridge: city feeds to NGSI-LD entities, through declarative mappings and an ontology."""

from __future__ import annotations

__version__ = "0.1.0"
