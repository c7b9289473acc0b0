"""The Orion-LD edge: an async NGSI-LD client, its authentication, and ProblemDetails.

>>> async with BrokerClient("http://orion:1026", auth=BearerToken(token)) as broker:
...     result = await broker.upsert(entities)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .batches import CORE_CONTEXT, Batch, pack
from .options import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, MAX_BATCH_BYTES
from .problems import BatchFailure, BatchResult
from .url import BrokerUrl

if TYPE_CHECKING:
    from .auth import ApiKeyHeader, BearerToken, ClientCredentials
    from .client import BrokerClient, QueryPage

# httpx loads with the client (PEP 562), not with the constants the command line shows.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {"auth": ("ApiKeyHeader", "BearerToken", "ClientCredentials"), "client": ("BrokerClient", "QueryPage")},
)

__all__ = [
    "CORE_CONTEXT",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CONCURRENCY",
    "MAX_BATCH_BYTES",
    "ApiKeyHeader",
    "Batch",
    "BatchFailure",
    "BatchResult",
    "BearerToken",
    "BrokerClient",
    "BrokerUrl",
    "ClientCredentials",
    "QueryPage",
    "pack",
]
