"""The exception tree: every class drawn in the docstring of ``contextbridge.errors``, and each
branch says what the caller does next (fix the configuration, skip the record, retry, give up)."""

from __future__ import annotations

import inspect
import re

import pytest

from contextbridge import errors

TREE = {
    "ContextBridgeError": Exception,
    "ConfigError": errors.ContextBridgeError,
    "MappingError": errors.ConfigError,
    "RemoteRefused": errors.ConfigError,
    "OptionsError": errors.ConfigError,
    "OntologyError": errors.ContextBridgeError,
    "RecordError": errors.ContextBridgeError,
    "FormatError": errors.RecordError,
    "TransformError": errors.RecordError,
    "InvalidEntityError": errors.RecordError,
    "ConstraintError": errors.RecordError,
    "EntityError": errors.ContextBridgeError,
    "DeviceError": errors.ContextBridgeError,
    "Unavailable": errors.ContextBridgeError,
    "DeliveryError": errors.Unavailable,
    "OutboxError": errors.Unavailable,
    "QueryBusy": errors.Unavailable,
    "Rejected": errors.ContextBridgeError,
    "SinkRefused": errors.Rejected,
    "BrokerError": errors.SinkRefused,
    "GraphStoreError": errors.Rejected,
    "QueryError": errors.GraphStoreError,
    "QueryRefused": errors.QueryError,
    "QueryTimeout": errors.QueryError,
    "WebhookRefused": errors.ContextBridgeError,
    "WebhookAuthError": errors.WebhookRefused,
    "PayloadTooLarge": errors.WebhookRefused,
    "WebhookBusy": errors.WebhookRefused,
}


def _classes() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == errors.__name__
    }


def test_the_tree_is_pinned() -> None:
    assert set(_classes()) == set(TREE)
    for name, parent in TREE.items():
        assert _classes()[name].__bases__ == (parent,), name


def test_every_class_is_drawn_in_the_docstring_under_its_parent() -> None:
    doc = errors.__doc__ or ""
    drawn: dict[str, int] = {}  # class name → its depth in the drawing
    parents: dict[str, str] = {}
    stack: list[str] = []
    for line in doc.splitlines():
        match = re.match(r"^\s*(?:[│ ]*[├└]── )?([A-Z][A-Za-z]+)\b", line)
        if not match or match.group(1) not in TREE:
            continue
        name = match.group(1)
        depth = line.index(name)
        while stack and drawn[stack[-1]] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1]
        drawn[name] = depth
        stack.append(name)
    assert set(drawn) == set(TREE)
    for name, parent in parents.items():
        assert TREE[name].__name__ == parent, name


def test_retry_later_is_one_group() -> None:
    """A caller that retries catches ``Unavailable``: the busy query slots are in it, a refusal is not."""
    for error in (
        errors.DeliveryError("down"),
        errors.OutboxError("locked"),
        errors.QueryBusy("full"),
    ):
        assert isinstance(error, errors.Unavailable)
    assert not issubclass(errors.QueryBusy, errors.GraphStoreError)
    assert not issubclass(errors.RemoteRefused, errors.Unavailable)
    assert not issubclass(errors.Rejected, errors.Unavailable)
    assert errors.DeliveryError("slow down", retry_after=7).retry_after == 7
    assert errors.OutboxError("locked").retry_after is None


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_remote_refusal_is_a_configuration_fault(status: int) -> None:
    error = errors.RemoteRefused(f"GET answered {status}", url="https://feeds.example/x", status=status)
    assert isinstance(error, errors.ConfigError) and error.status == status
    assert str(error) == f"GET answered {status} (https://feeds.example/x)"
