"""contextbridge: city feeds to NGSI-LD entities, through declarative mappings and an ontology.

>>> from contextbridge import Translator, load_mapping
>>> translator = Translator(load_mapping("mappings/santander-parking.yaml"))
>>> with open("examples/santander/parking.json", "rb") as feed:
...     entities = [e for e in translator.translate_stream(feed) if isinstance(e, dict)]
>>> store = open_store(state_dir=Path(".contextbridge"))   # the city graph (or endpoint=URL)
>>> await store.upsert(entities, tenant="santander")
>>> print(format_result(await store.query("SELECT ?s WHERE { ?s a sosa:Observation }"), "table"))

Delivery goes through the durable outbox: ``open_outbox(dir_or_url)``, then a ``Drainer`` per
sink (``BrokerClient`` for Orion-LD, ``GraphSink`` for the city graph). Live feeds are a
``Source`` (``build_source``: MQTT, HTTP poll, webhook, files) and a mapping in a ``FeedRunner``;
``open_adapter(config, state_dir, store=...)`` puts a configuration's feeds and sinks together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    BrokerError,
    ConfigError,
    ConstraintError,
    ContextBridgeError,
    DeliveryError,
    DeviceError,
    EntityError,
    FormatError,
    GraphStoreError,
    InvalidEntityError,
    MappingError,
    OntologyError,
    OptionsError,
    OutboxError,
    Problem,
    QueryBusy,
    QueryError,
    QueryRefused,
    QueryTimeout,
    RecordError,
    Rejected,
    RemoteRefused,
    SinkRefused,
    TransformError,
    Unavailable,
)
from .lazy import lazy_exports

if TYPE_CHECKING:  # the names for type checkers and editors; at run time they load on first use
    from .adapter import Adapter, open_adapter
    from .broker import BrokerClient
    from .config import Config, load_config
    from .constraints import Constraints, Violation, constraints_for
    from .context import context_document
    from .delivery import Drainer, DrainSettings
    from .describe import describe_type
    from .drafting import Draft, draft_mapping
    from .entity import validate_entity
    from .expressions import compile_expression
    from .feeds import FeedRunner
    from .formats import FORMATS, Format, get_format
    from .graph import GraphSink, GraphStore, format_result, open_store
    from .lint import lint_mapping
    from .mapping import Mapping, load_mapping
    from .ontology import Ontology, default_ontology, union_ontology
    from .outbox import Outbox, open_outbox
    from .rdf import Converter
    from .registry import Device, open_registry
    from .retry import RetryPolicy
    from .sources import Source, build_source
    from .translator import TranslationStats, Translator
    from .updates import UpdatePolicy, merge_entities

# Imported on first use (PEP 562): module → the public names it defines.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "adapter": ("Adapter", "open_adapter"),
        "broker": ("BrokerClient",),
        "config": ("Config", "load_config"),
        "constraints": ("Constraints", "Violation", "constraints_for"),
        "context": ("context_document",),
        "delivery": ("DrainSettings", "Drainer"),
        "describe": ("describe_type",),
        "drafting": ("Draft", "draft_mapping"),
        "entity": ("validate_entity",),
        "expressions": ("compile_expression",),
        "feeds": ("FeedRunner",),
        "formats": ("FORMATS", "Format", "get_format"),
        "graph": ("GraphSink", "GraphStore", "format_result", "open_store"),
        "lint": ("lint_mapping",),
        "mapping": ("Mapping", "load_mapping"),
        "ontology": ("Ontology", "default_ontology", "union_ontology"),
        "outbox": ("Outbox", "open_outbox"),
        "rdf": ("Converter",),
        "registry": ("Device", "open_registry"),
        "retry": ("RetryPolicy",),
        "sources": ("Source", "build_source"),
        "translator": ("TranslationStats", "Translator"),
        "updates": ("UpdatePolicy", "merge_entities"),
    },
)

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "Adapter",
    "BrokerClient",
    "BrokerError",
    "Config",
    "ConfigError",
    "ConstraintError",
    "Constraints",
    "ContextBridgeError",
    "Converter",
    "DeliveryError",
    "Device",
    "DeviceError",
    "Draft",
    "DrainSettings",
    "Drainer",
    "EntityError",
    "FeedRunner",
    "Format",
    "FormatError",
    "GraphSink",
    "GraphStore",
    "GraphStoreError",
    "InvalidEntityError",
    "Mapping",
    "MappingError",
    "Ontology",
    "OntologyError",
    "OptionsError",
    "Outbox",
    "OutboxError",
    "Problem",
    "QueryBusy",
    "QueryError",
    "QueryRefused",
    "QueryTimeout",
    "RecordError",
    "Rejected",
    "RemoteRefused",
    "RetryPolicy",
    "SinkRefused",
    "Source",
    "TransformError",
    "TranslationStats",
    "Translator",
    "Unavailable",
    "UpdatePolicy",
    "Violation",
    "build_source",
    "compile_expression",
    "constraints_for",
    "context_document",
    "default_ontology",
    "describe_type",
    "draft_mapping",
    "format_result",
    "get_format",
    "lint_mapping",
    "load_config",
    "load_mapping",
    "merge_entities",
    "open_adapter",
    "open_outbox",
    "open_registry",
    "open_store",
    "union_ontology",
    "validate_entity",
]
