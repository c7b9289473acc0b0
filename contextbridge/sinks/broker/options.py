"""How much is sent to Orion-LD at once: a plain value with no dependency, so that the command line
shows it in ``--help`` without loading the HTTP client (the batch size and concurrency every sink
shares are in ``contextbridge.delivery.sink``).
"""

from __future__ import annotations

# Orion-LD refuses bodies over 1 MB (413); stay clearly under it, headers and all.
MAX_BATCH_BYTES = 900_000
