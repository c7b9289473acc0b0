"""The Orion-LD sink: an async NGSI-LD client, and how it packs batches and reads their answers.

>>> async with BrokerClient("http://orion:1026", auth=BearerToken(token)) as broker:
...     result = await broker.upsert(entities)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...lazy import lazy_exports
from .batches import CORE_CONTEXT, BrokerBatch, batch_result, pack, pack_encoded
from .options import MAX_BATCH_BYTES
from .url import BrokerUrl

if TYPE_CHECKING:
    from .client import BrokerClient, QueryPage

# httpx loads with the client (PEP 562), not with the constants the command line shows.
__getattr__, __dir__ = lazy_exports(__name__, {"client": ("BrokerClient", "QueryPage")})

__all__ = [
    "CORE_CONTEXT",
    "MAX_BATCH_BYTES",
    "BrokerBatch",
    "BrokerClient",
    "BrokerUrl",
    "QueryPage",
    "batch_result",
    "pack",
    "pack_encoded",
]
