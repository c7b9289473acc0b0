from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from contextbridge.mapping import Mapping, load_mapping

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
def write_mapping(tmp_path: Path) -> Callable[[str], Path]:
    """Write a mapping (dedented YAML) to a file and return its path."""

    def write(text: str, name: str = "feed.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_mapping(write_mapping: Callable[[str], Path]) -> Callable[[str], Mapping]:
    """Load a mapping from dedented YAML text."""
    return lambda text: load_mapping(write_mapping(text))
