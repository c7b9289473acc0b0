"""The Orion-LD edge: an async NGSI-LD client, its authentication, and ProblemDetails.

>>> async with BrokerClient("http://orion:1026", auth=BearerToken(token)) as broker:
...     result = await broker.upsert(entities)
"""

from __future__ import annotations

from .auth import ApiKeyHeader, BearerToken, ClientCredentials
from .batches import CORE_CONTEXT, Batch, pack
from .client import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, MAX_BATCH_BYTES, BrokerClient, QueryPage
from .problems import BatchFailure, BatchResult
from .url import BrokerUrl

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
