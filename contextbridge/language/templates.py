"""String templates over record fields: ``"urn:ngsi-ld:ParkingSpot:{ayto:idSensor}"``.

    >>> render = compile_template("urn:ngsi-ld:Streetlight:{calle|slug}-{@id}", uri=True)
    >>> render({"calle": "Calle Río de la Pila", "@id": "12"})
    'urn:ngsi-ld:Streetlight:calle-rio-de-la-pila-12'

``{path}`` inserts a field (see :mod:`contextbridge.language.fieldpaths`); ``{{`` and ``}}`` are literal braces;
``{path|filter}`` applies ``slug`` (transliterated: ``Straße`` → ``strasse``), ``lower``, ``upper`` or ``strip``. With ``uri=True`` (entity ids,
relationship objects, datasetIds) every inserted value is percent-escaped, so no record can
break out of the URI or smuggle in characters Orion-LD refuses. A field that is missing or
empty makes the whole template ``MISSING``; a value that is not valid Unicode (a lone surrogate)
cannot be percent-escaped and raises TransformError.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from anyascii import anyascii

from ..errors import ConfigError, TransformError
from .fieldpaths import MISSING, compile_path

_SLUG_RUN = re.compile(r"[^a-z0-9]+")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def _slug(text: str) -> str:
    # "Calle Río" -> "calle-rio", "Straße" -> "strasse", "Ørsted" -> "orsted": letters are
    # transliterated (anyascii: Unicode's own decompositions leave ß, ø, æ, ł... with no ASCII
    # form), then runs of other characters collapse to "-".
    plain = text if text.isascii() else anyascii(unicodedata.normalize("NFC", text))
    return _SLUG_RUN.sub("-", plain.lower()).strip("-")


FILTERS: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "slug": _slug,
    "strip": str.strip,
    "upper": str.upper,
}


# In URIs, unreserved characters and ':' (the URN separator) stay; everything else is %-encoded.
# Most ids are already plain ("3101", "env-419"): a match is cheaper than quote().
_URI_KEEP = "-._~:"
_URI_SAFE = re.compile(r"[A-Za-z0-9\-._~:]*").fullmatch


def to_text(value: Any) -> str:
    """How a record value is written inside a template (JSON's spelling for booleans)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Template:
    """A compiled template; call it with a record."""

    source: str
    fields: tuple[str, ...]
    render: Callable[[Any], Any]

    def __call__(self, record: Any) -> Any:
        return self.render(record)


def parse_template(source: str) -> tuple[str | tuple[str, str], ...]:
    """The parts of ``source``: literal texts and ``(path, filter name)`` placeholders (filter ``""``:
    none); raise ConfigError naming the column of a malformed placeholder."""
    if not isinstance(source, str):
        raise ConfigError(f"a template must be a string, not {type(source).__name__}")
    parts: list[str | tuple[str, str]] = []
    text: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(source):
        text.append(source[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            text.append(token[0])
            continue
        if token in ("{", "}"):
            raise ConfigError(f"unbalanced {token!r} at column {match.start() + 1} of template {source!r}")
        if "".join(text):
            parts.append("".join(text))
        text = []
        path, _, filter_name = match.group(1).partition("|")
        path, filter_name = path.strip(), filter_name.strip()
        if filter_name and filter_name not in FILTERS:
            known = ", ".join(sorted(FILTERS))
            raise ConfigError(f"unknown template filter {filter_name!r} in {source!r}; known: {known}")
        parts.append((path, filter_name))
    text.append(source[position:])
    if "".join(text):
        parts.append("".join(text))
    return tuple(parts)


def compile_template(source: str, *, uri: bool = False) -> Template:
    """Compile ``source``; raise ConfigError naming the column of a malformed placeholder."""
    parts: list[str | Callable[[Any], Any]] = []
    fields: list[str] = []
    for part in parse_template(source):
        if isinstance(part, str):
            parts.append(part)
            continue
        path, filter_name = part
        try:
            getter = compile_path(path)
        except ConfigError as error:
            raise ConfigError(f"in template {source!r}: {error}") from None
        fields.append(path)
        parts.append(_placeholder(path, getter, FILTERS.get(filter_name), uri))
    return Template(source, tuple(fields), _renderer(tuple(parts)))


def uri_escape(text: str, path: str) -> str:
    """``text`` percent-escaped for a URI (see ``_URI_KEEP``); TransformError on a lone surrogate."""
    try:
        return quote(text, safe=_URI_KEEP)
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8, so no URI, can spell it
        raise TransformError(f"not valid Unicode: {text!r}", field=path) from None


def _placeholder(
    path: str, getter: Callable[[Any], Any], apply: Callable[[str], str] | None, uri: bool
) -> Callable[[Any], Any]:
    def render(record: Any) -> Any:
        value = getter(record)
        if value is MISSING or value is None:
            return MISSING
        text = (value if type(value) is str else to_text(value)).strip()
        if apply is not None:
            text = apply(text)
        if not text:
            return MISSING
        if uri and not _URI_SAFE(text):
            return uri_escape(text, path)
        return text

    return render


def _renderer(parts: tuple[str | Callable[[Any], Any], ...]) -> Callable[[Any], Any]:
    if all(isinstance(part, str) for part in parts):
        constant = "".join(parts)  # type: ignore[arg-type]
        return lambda record: constant
    # The common id shape, "prefix{field}", gets a closure without a loop.
    if len(parts) == 2 and isinstance(parts[0], str) and callable(parts[1]):
        prefix, field = parts[0], parts[1]

        def render_prefixed(record: Any) -> Any:
            value = field(record)
            return MISSING if value is MISSING else prefix + value

        return render_prefixed

    def render(record: Any) -> Any:
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = part(record)
                if value is MISSING:
                    return MISSING
                out.append(value)
        return "".join(out)

    return render
