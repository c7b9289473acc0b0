"""What a mapping computes per record besides attribute values: ids and relationship objects
from expressions (``id: {expr: ...}``), and the items an entity rule runs over (``each:``).

    >>> render = compile_uri_expression("'urn:ngsi-ld:OffStreetParking:frankfurt:' + re_search('^[0-9]+', id)")
    >>> render({"id": "24276[Turmcenter]"})
    'urn:ngsi-ld:OffStreetParking:frankfurt:24276'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote

from ...entities.validation import is_uri
from ...errors import TransformError
from ..expressions import compile_expression
from ..fieldpaths import MISSING, compile_path
from ..templates import Template

Record = Mapping[str, Any]

# What an entity rule with ``each:`` may make of one record: one entity per item, all emitted together.
MAX_EACH: Final = 100_000
EACH_NAMES: Final = ("item", "index", "key")

# In a computed URI, characters Orion-LD refuses (spaces, controls, < > " { } | \ ^ ` [ ] ' ( ) ; =,
# and non-ASCII) are percent-escaped, as templates escape what they insert; the rest is kept.
_URI_KEPT = "!#$%&*+,/:?@-._~"


def compile_uri_expression(source: str) -> Template:
    """An expression giving a URI, as a Template (``fields`` are the fields it reads): None or an
    empty text is missing, anything else not a string or not a URI after escaping is refused."""
    expression = compile_expression(source)

    def render(record: Any) -> Any:
        value = expression(record)
        if value is None:
            return MISSING
        if type(value) is not str:
            raise TransformError(f"a computed URI must be a string, not {type(value).__name__}")
        text = value.strip()
        if not text:
            return MISSING
        try:
            text = quote(text, safe=_URI_KEPT)
        except UnicodeEncodeError:
            raise TransformError(f"not valid Unicode: {text!r}") from None
        if not is_uri(text):
            raise TransformError(f"{text!r} is not a URI: it needs a scheme, as in 'urn:ngsi-ld:Type:id'")
        return text

    return Template(source, tuple(sorted(expression.names)), render)


def compile_each(path: str) -> Callable[[Record], list[dict[str, Any]]]:
    """``each: PATH``: the record once per item of the list (or entry of the object) at PATH, with the
    item as ``item``, its position as ``index`` and, for an object, the entry's name as ``key``.
    Missing or null: no items. Each view is a shallow copy: the record itself is never changed."""
    get = compile_path(path)

    def each(record: Record) -> list[dict[str, Any]]:
        found = get(record)
        if found is MISSING or found is None:
            return []
        if type(found) is list:
            _bounded(len(found), path)
            return [{**record, "item": item, "index": index} for index, item in enumerate(found)]
        if type(found) is dict:
            _bounded(len(found), path)
            return [
                {**record, "item": item, "index": index, "key": key}
                for index, (key, item) in enumerate(found.items())
            ]
        raise TransformError(f"each: expected a list or an object, not {type(found).__name__}", field=path)

    return each


def _bounded(count: int, path: str) -> None:
    if count > MAX_EACH:
        raise TransformError(f"each: {count:,} items, above the limit of {MAX_EACH:,} per record", field=path)
