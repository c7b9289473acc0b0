"""The public API is one curated list, sorted, every name importable from the package."""

from __future__ import annotations

import contextbridge


def test_all_is_sorted_and_complete() -> None:
    assert contextbridge.__all__ == sorted(contextbridge.__all__, key=lambda name: (not name.isupper(), name))
    for name in contextbridge.__all__:
        assert getattr(contextbridge, name) is not None


def test_every_error_descends_from_the_root() -> None:
    errors = [getattr(contextbridge, name) for name in contextbridge.__all__ if name.endswith("Error")]
    assert errors and all(issubclass(error, contextbridge.ContextBridgeError) for error in errors)
