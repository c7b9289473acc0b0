"""The mapping language: load a YAML mapping, compile it once into plain callables."""

from __future__ import annotations

from .attributes import AttributeRule
from .compiler import EntityRule, Mapping, Sample, compile_mapping, load_mapping

__all__ = ["AttributeRule", "EntityRule", "Mapping", "Sample", "compile_mapping", "load_mapping"]
