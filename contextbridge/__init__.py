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
    from .authoring.describe import describe_type
    from .authoring.drafting import Draft, draft_mapping
    from .authoring.lint import lint_mapping
    from .delivery.drainer import Drainer, DrainSettings
    from .entities.constraints import Constraints, Violation, constraints_for
    from .entities.jsonld import context_document
    from .entities.ontology import Ontology, default_ontology, union_ontology
    from .entities.rdf import Converter
    from .entities.updates import UpdatePolicy, merge_entities
    from .entities.validation import validate_entity
    from .formats import FORMATS, Format, get_format
    from .language.expressions import compile_expression
    from .language.mapping import Mapping, load_mapping
    from .language.translator import TranslationStats, Translator
    from .outbox import Outbox, open_outbox
    from .remote.retry import RetryPolicy
    from .runtime.adapter import Adapter, open_adapter
    from .runtime.config import Config, load_config
    from .runtime.feedrunner import FeedRunner
    from .sinks.broker import BrokerClient
    from .sinks.graph import GraphSink, GraphStore, format_result, open_store
    from .sources import Source, build_source
    from .storage.devices import Device, open_registry

# Imported on first use (PEP 562): module → the public names it defines.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "runtime.adapter": ("Adapter", "open_adapter"),
        "sinks.broker": ("BrokerClient",),
        "runtime.config": ("Config", "load_config"),
        "entities.constraints": ("Constraints", "Violation", "constraints_for"),
        "entities.jsonld": ("context_document",),
        "delivery.drainer": ("DrainSettings", "Drainer"),
        "authoring.describe": ("describe_type",),
        "authoring.drafting": ("Draft", "draft_mapping"),
        "entities.validation": ("validate_entity",),
        "language.expressions": ("compile_expression",),
        "runtime.feedrunner": ("FeedRunner",),
        "formats": ("FORMATS", "Format", "get_format"),
        "sinks.graph": ("GraphSink", "GraphStore", "format_result", "open_store"),
        "authoring.lint": ("lint_mapping",),
        "language.mapping": ("Mapping", "load_mapping"),
        "entities.ontology": ("Ontology", "default_ontology", "union_ontology"),
        "outbox": ("Outbox", "open_outbox"),
        "entities.rdf": ("Converter",),
        "storage.devices": ("Device", "open_registry"),
        "remote.retry": ("RetryPolicy",),
        "sources": ("Source", "build_source"),
        "language.translator": ("TranslationStats", "Translator"),
        "entities.updates": ("UpdatePolicy", "merge_entities"),
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
