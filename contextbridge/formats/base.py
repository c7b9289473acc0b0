"""The format plug-in point: one small class per input format, turning bytes into records.

    >>> fmt = CsvFormat({"delimiter": ";"})
    >>> for item in fmt.parse(open("feed.csv", "rb"), source="feed.csv"):
    ...     if isinstance(item, FormatError): reject(item)
    ...     else: translate(item)

``parse`` yields records (plain dicts) in input order. A problem confined to one record is
yielded as a FormatError carrying that record's 1-based number, and parsing goes on; a
problem that cannot be resumed (broken JSON or XML) is yielded last and ends the iteration.
Parsers stream: memory stays bounded whatever the size of the input.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, ClassVar

from ..errors import ConfigError, FormatError

# Options every source block may carry; they are read elsewhere (numeric casts).
COMMON_OPTIONS: frozenset[str] = frozenset({"decimal"})

Record = dict[str, Any]


class Format:
    """Base of the input formats. Subclasses set ``name`` and ``options`` and override ``parse``."""

    name: ClassVar[str] = ""
    options: ClassVar[frozenset[str]] = frozenset()  # the format's own option names

    def __init__(self, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - self.options - COMMON_OPTIONS)
        if unknown:
            known = ", ".join(sorted(self.options | COMMON_OPTIONS))
            raise ConfigError(
                f"unknown option {unknown[0]!r} for format {self.name!r} (known options: {known})",
                key=unknown[0],
            )

    def parse(self, stream: BinaryIO, *, source: str | None = None) -> Iterator[Record | FormatError]:
        """Yield the records of ``stream`` in order, and a FormatError for each one that is broken."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def bad_option(key: str, value: Any, expected: str) -> ConfigError:
    """The error for an option with a wrong value: it names the key, the value and what was expected."""
    return ConfigError(f"option {key!r}: {expected}, got {value!r}", key=key)


def text_option(options: Mapping[str, Any], key: str, default: str | None) -> str | None:
    """A string option (absent → ``default``); anything else is a ConfigError."""
    value = options.get(key, default)
    if value is not None and not isinstance(value, str):
        raise bad_option(key, value, "expected a string")
    return value


def bool_option(options: Mapping[str, Any], key: str, default: bool) -> bool:
    """A true/false option (absent → ``default``)."""
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise bad_option(key, value, "expected true or false")
    return value
