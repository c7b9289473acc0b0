"""What is public: the names of ``contextbridge.__all__``, listed here once. Everything else (the
modules under the package) is private and may move; a test of behaviour imports a public name
from the package, never from the module that happens to define it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import contextbridge

PUBLIC = [
    # the mapping language and translation
    "FORMATS",
    "Converter",
    "Format",
    "Mapping",
    "TranslationStats",
    "Translator",
    "compile_expression",
    "get_format",
    "load_mapping",
    # entities, the ontology and constraints
    "Constraints",
    "Ontology",
    "UpdatePolicy",
    "Violation",
    "constraints_for",
    "context_document",
    "default_ontology",
    "describe_type",
    "merge_entities",
    "union_ontology",
    "validate_entity",
    # authoring
    "Draft",
    "draft_mapping",
    "lint_mapping",
    # sources, the outbox, delivery and sinks
    "BrokerClient",
    "DrainSettings",
    "Drainer",
    "FeedRunner",
    "GraphSink",
    "GraphStore",
    "Outbox",
    "RetryPolicy",
    "Source",
    "build_source",
    "format_result",
    "open_outbox",
    "open_store",
    # a configuration at work
    "Adapter",
    "Config",
    "Device",
    "load_config",
    "open_adapter",
    "open_registry",
    # errors (the tree is drawn in contextbridge/errors.py)
    "BrokerError",
    "ConfigError",
    "ConstraintError",
    "ContextBridgeError",
    "DeliveryError",
    "DeviceError",
    "EntityError",
    "FormatError",
    "GraphStoreError",
    "InvalidEntityError",
    "MappingError",
    "OntologyError",
    "OptionsError",
    "OutboxError",
    "Problem",
    "QueryBusy",
    "QueryError",
    "QueryRefused",
    "QueryTimeout",
    "RecordError",
    "Rejected",
    "RemoteRefused",
    "SinkRefused",
    "TransformError",
    "Unavailable",
]

TESTS = Path(__file__).resolve().parent


def test_all_is_sorted_and_complete() -> None:
    assert contextbridge.__all__ == sorted(contextbridge.__all__, key=lambda name: (not name.isupper(), name))
    for name in contextbridge.__all__:
        assert getattr(contextbridge, name) is not None


def test_the_public_names_are_these() -> None:
    assert sorted(PUBLIC) == sorted(contextbridge.__all__)
    assert len(set(PUBLIC)) == len(PUBLIC)
    assert set(PUBLIC) <= set(dir(contextbridge))


def test_every_error_descends_from_the_root() -> None:
    errors = [getattr(contextbridge, name) for name in contextbridge.__all__ if name.endswith("Error")]
    assert errors and all(issubclass(error, contextbridge.ContextBridgeError) for error in errors)


def test_importing_the_package_loads_none_of_the_heavy_modules() -> None:
    """The public face is lazy: ``import contextbridge`` (and ``--help``) stays fast."""
    probe = (
        "import sys, contextbridge; print(sorted(m for m in sys.modules if m.startswith('contextbridge.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert sorted(eval(loaded)) == ["contextbridge.errors", "contextbridge.lazy"]


def test_tests_import_public_names_through_the_package() -> None:
    """``from contextbridge import Translator``, not ``from contextbridge.language.translator import Translator``:
    the tests then read as a user's code and survive a module's move."""
    public = set(PUBLIC)
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("contextbridge."):
                found += [
                    f"{path.relative_to(TESTS)}:{node.lineno}: {alias.name} from {node.module}"
                    for alias in node.names
                    if alias.name in public and alias.asname is None
                ]
    assert found == []
