"""contextbridge: city feeds to NGSI-LD entities, through declarative mappings and an ontology.

>>> from contextbridge import Translator, load_mapping
>>> translator = Translator(load_mapping("mappings/santander-parking.yaml"))
>>> with open("examples/santander/parking.json", "rb") as feed:
...     entities = [e for e in translator.translate_stream(feed) if isinstance(e, dict)]
"""

from __future__ import annotations

from .config import Config, load_config
from .context import context_document
from .entity import validate_entity
from .errors import (
    BrokerError,
    ConfigError,
    ContextBridgeError,
    DeliveryError,
    EntityError,
    FormatError,
    InvalidEntityError,
    MappingError,
    OntologyError,
    Problem,
    RecordError,
    TransformError,
)
from .expressions import compile_expression
from .formats import FORMATS, Format, get_format
from .lint import lint_mapping
from .mapping import Mapping, load_mapping
from .ontology import Ontology, default_ontology
from .translator import TranslationStats, Translator

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "BrokerError",
    "Config",
    "ConfigError",
    "ContextBridgeError",
    "DeliveryError",
    "EntityError",
    "Format",
    "FormatError",
    "InvalidEntityError",
    "Mapping",
    "MappingError",
    "Ontology",
    "OntologyError",
    "Problem",
    "RecordError",
    "TransformError",
    "TranslationStats",
    "Translator",
    "compile_expression",
    "context_document",
    "default_ontology",
    "get_format",
    "lint_mapping",
    "load_config",
    "load_mapping",
    "validate_entity",
]
