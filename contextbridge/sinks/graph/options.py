"""What a query may ask of the city graph: result formats, time and row limits.

Plain values with no dependency, so that the command line shows them in ``--help`` without loading
a graph store (pyoxigraph, the ontology, pyld).
"""

from __future__ import annotations

DEFAULT_TENANT = "default"  # the tenant of requests that name none
FORMATS = ("table", "json", "xml", "csv", "tsv", "turtle", "ntriples")
DEFAULT_TIMEOUT = 30.0  # seconds per query
DEFAULT_LIMIT = 10_000  # result rows (or triples) per query
