"""Lookup tables: reference data (asset inventories) that enriches thin records.

    lookups:
      sensors: {csv: parking-sensors.csv, key: sensor}
    entities:
      - id: "urn:ngsi-ld:ParkingSpot:santander:{sensor}"
        lookup: {sensors: "{sensor}"}
        attributes:
          street: {from: sensors.street}

A table is held in memory, bounded by ``max_rows``, and swapped whole on reload
(:mod:`.table`); a source is one small class per origin (file, HTTP, SQL: :mod:`.base`); an
entity's binding renders the key and applies the miss policy (:mod:`.binding`); a
:class:`LookupSet` holds a mapping's tables and refreshes the remote ones in a thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...lazy import lazy_exports
from .base import LookupSource
from .binding import MISS_POLICIES, compile_binding
from .files import FileSource
from .loader import SOURCES, compile_lookup
from .lookup_set import LookupSet, LookupStatus
from .table import LookupTable

if TYPE_CHECKING:
    from .http import HttpSource
    from .sql import SqlSource

# httpx and psycopg load when a mapping has an HTTP or SQL lookup, not with every mapping.
__getattr__, __dir__ = lazy_exports(__name__, {"http": ("HttpSource",), "sql": ("SqlSource",)})

__all__ = [
    "MISS_POLICIES",
    "SOURCES",
    "FileSource",
    "HttpSource",
    "LookupSet",
    "LookupSource",
    "LookupStatus",
    "LookupTable",
    "SqlSource",
    "compile_binding",
    "compile_lookup",
]
