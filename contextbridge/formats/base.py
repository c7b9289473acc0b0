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

from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO, ClassVar, TypeVar

from ..errors import ConfigError, FormatError, OptionsError

# Options every source block may carry; they are read elsewhere (numeric casts).
COMMON_OPTIONS: frozenset[str] = frozenset({"decimal"})

Record = dict[str, Any]
T = TypeVar("T")


class Format:
    """Base of the input formats. Subclasses set ``name`` and ``options`` and override ``configure``
    (read the options) and ``parse``. A format with a wrong option raises one OptionsError naming
    every wrong option, not only the first."""

    name: ClassVar[str] = ""
    options: ClassVar[frozenset[str]] = frozenset()  # the format's own option names

    def __init__(self, options: Mapping[str, Any]) -> None:
        reader = OptionReader(options, known=self.options | COMMON_OPTIONS, fmt=self.name)
        self.configure(reader)
        reader.finish()

    def configure(self, options: OptionReader) -> None:
        """Read the format's options (``options.text``, ``options.flag``...); a format without any
        has nothing to do."""

    def parse(self, stream: BinaryIO, *, source: str | None = None) -> Iterator[Record | FormatError]:
        """Yield the records of ``stream`` in order, and a FormatError for each one that is broken."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class OptionReader:
    """A format's options, read key by key: a wrong value is noted and its default used, so that
    reading goes on; ``finish()`` raises one OptionsError with every mistake, unknown keys first."""

    def __init__(self, options: Mapping[str, Any], *, known: frozenset[str], fmt: str) -> None:
        self.data = options
        self.problems: list[tuple[str, str]] = []
        listed = ", ".join(sorted(known))
        for key in sorted(set(options) - known, key=str):
            self.problems.append(
                (str(key), f"unknown option {key!r} for format {fmt!r} (known options: {listed})")
            )

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def bad(self, key: str, value: Any, expected: str) -> None:
        """Note a wrong value: the message names the key, the value and what was expected."""
        self.problems.append((key, str(bad_option(key, value, expected))))

    def text(self, key: str, default: str | None) -> str | None:
        """A string option (absent → ``default``)."""
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, str):
            self.bad(key, value, "expected a string")
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        """A true/false option (absent → ``default``)."""
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.bad(key, value, "expected true or false")
            return default
        return value

    def checked(self, key: str, make: Callable[[], T], default: T) -> T:
        """``make()``, or ``default`` when it raises a ConfigError (noted under ``key``)."""
        try:
            return make()
        except ConfigError as error:
            self.problems.append((error.key or key, str(error)))
            return default

    def finish(self) -> None:
        if self.problems:
            raise OptionsError(self.problems)


def bad_option(key: str, value: Any, expected: str) -> ConfigError:
    """The error for an option with a wrong value: it names the key, the value and what was expected."""
    return ConfigError(f"option {key!r}: {expected}, got {value!r}", key=key)
