"""RDF terms as N-Triples text, and JSON values as JSON-LD to-RDF writes them.

The converter writes N-Triples text, not term objects: building a pyoxigraph ``Quad`` costs
more than a microsecond, parsing the same line in Rust less, and the stores take text anyway
(``Store.load``, SPARQL ``INSERT DATA``)::

    number_literal(20, None)     # '"20"^^<http://www.w3.org/2001/XMLSchema#integer>'
    number_literal(20.5, None)   # '"2.05E1"^^<http://www.w3.org/2001/XMLSchema#double>'
    json_literal({"b": 1, "a": [1, 2]})  # RFC 8785 canonical JSON, typed rdf:JSON
"""

from __future__ import annotations

import json
import re
from numbers import Integral
from typing import Any

from c14n.Canonicalize import canonicalize

from contextbridge.errors import EntityError

XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_INTEGER = f"<{XSD}integer>"
XSD_DOUBLE = f"<{XSD}double>"
XSD_BOOLEAN = f"<{XSD}boolean>"
RDF_JSON = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON>"
TRUE, FALSE = f'"true"^^{XSD_BOOLEAN}', f'"false"^^{XSD_BOOLEAN}'

_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_BAD_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_LANGUAGE = re.compile(r"^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$")


def quote(text: str) -> str:
    """A string as an N-Triples quoted string (JSON's escapes are all valid N-Triples escapes)."""
    return json.dumps(text, ensure_ascii=False) if _ESCAPE.search(text) else f'"{text}"'


def iri(value: str) -> str:
    """``<value>``; an IRI that N-Triples cannot carry is refused (it would fail the whole batch)."""
    if _BAD_IRI.search(value):
        raise EntityError(f"{value!r} is not a valid IRI")
    return f"<{value}>"


def language(tag: str) -> str:
    if not _LANGUAGE.match(tag):
        raise EntityError(f"{tag!r} is not a valid language tag")
    return tag


def typed(text: str, datatype: str | None) -> str:
    """A literal; ``datatype`` is written ``<iri>``, None for a plain (xsd:string) literal."""
    return quote(text) if datatype is None else f"{quote(text)}^^{datatype}"


def number_literal(value: Any, datatype: str | None) -> str:
    """A JSON number: integral values below 1e21 are xsd:integer, the rest canonical xsd:double."""
    kind = type(value)
    if kind is float:
        if not value.is_integer():
            return f'"{canonical_double(value)}"^^{datatype or XSD_DOUBLE}'
    elif kind is not int and not isinstance(value, Integral) and not float(value).is_integer():
        return f'"{canonical_double(float(value))}"^^{datatype or XSD_DOUBLE}'
    if datatype == XSD_DOUBLE:
        return f'"{canonical_double(float(value))}"^^{datatype}'
    if abs(value) >= 1e21:
        return f'"{canonical_double(float(value))}"^^{datatype or XSD_DOUBLE}'
    return f'"{int(value)}"^^{datatype or XSD_INTEGER}'


def canonical_double(value: float) -> str:
    """The canonical xsd:double form JSON-LD uses: ``1.5E1``, ``-2.0E-3``, ``1.0E21``."""
    mantissa, _, exponent = f"{value:1.15E}".partition("E")
    mantissa = mantissa.rstrip("0")
    if mantissa.endswith("."):
        mantissa += "0"
    return f"{mantissa}E{int(exponent)}"


def json_literal(value: Any) -> str:
    """An ``rdf:JSON`` literal of a JSON value, in the canonical form JSON-LD uses."""
    return f"{quote(canonicalize(value).decode('utf-8'))}^^{RDF_JSON}"
