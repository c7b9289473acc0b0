"""How much is sent to Orion-LD at once: plain values with no dependency, so that the command line
shows them in ``--help`` without loading the HTTP client.

Measured with benchmarks/delivery.py against the broker double on loopback: entities/s grow until
~200 per batch and flatten after; 4 batches in flight hide the round trip without piling work on a
single Orion-LD (its default thread pool is small).
"""

from __future__ import annotations

DEFAULT_BATCH_SIZE = 200
DEFAULT_CONCURRENCY = 4
# Orion-LD refuses bodies over 1 MB (413); stay clearly under it, headers and all.
MAX_BATCH_BYTES = 900_000
