"""Streaming input formats: each turns a byte stream into records (plain dicts).

    >>> fmt = get_format("json", {"records": "resources[*]"})
    >>> records = list(fmt.parse(open("sensors.json", "rb"), source="sensors.json"))

The registry is a dict; adding a format is adding a module with one ``Format`` subclass
and one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .base import Format
from .csv import CsvFormat
from .json import JsonFormat
from .ndjson import NdjsonFormat
from .senml import SenmlFormat
from .xml import XmlFormat

__all__ = [
    "FORMATS",
    "CsvFormat",
    "Format",
    "JsonFormat",
    "NdjsonFormat",
    "SenmlFormat",
    "XmlFormat",
    "get_format",
]

FORMATS: dict[str, type[Format]] = {
    fmt.name: fmt for fmt in (JsonFormat, NdjsonFormat, CsvFormat, XmlFormat, SenmlFormat)
}


def get_format(name: str, options: Mapping[str, Any]) -> Format:
    """The format called ``name``, configured with ``options``; ConfigError names the known formats."""
    try:
        cls = FORMATS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(FORMATS))
        raise ConfigError(f"unknown format {name!r} (known formats: {known})", key="format") from None
    return cls(options)
