"""What is proved once, when a mapping loads, about every entity it will make.

Entity types and attribute names, attribute kinds (``location`` must be a GeoProperty), every
constant of the mapping (static values, map values, defaults, language tags, units) and the
URI templates of ids and relationships are checked here against the NGSI-LD rules of
:mod:`contextbridge.entities.validation`. What varies per record — a raw field, an expression's result, a
GeoJSON geometry — is checked by the attribute itself as it is built. Together they validate
every entity, without re-validating on the hot path what cannot change.
"""

from __future__ import annotations

import re

from ...entities.validation import is_uri, validate_entity
from ...errors import ConfigError, EntityError
from .attributes import AttributeRule

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def check_uri_template(source: str) -> None:
    """Raise ConfigError unless ``source`` always gives a URI: it must start with its scheme."""
    if not _SCHEME.match(source):
        raise ConfigError(f"{source!r} must start with a URI scheme, as in 'urn:ngsi-ld:Type:{{id}}'")
    sample = _PLACEHOLDER.sub("x", source.replace("{{", "").replace("}}", ""))
    if not is_uri(sample):
        raise ConfigError(f"{source!r} is not a URI even with plain values (no spaces, < > \" ' = ; ( ))")


def check_type(type_name: str) -> None:
    _raise(validate_entity({"id": "urn:ngsi-ld:Sample:1", "type": type_name}))


def check_attribute(type_name: str, rule: AttributeRule) -> None:
    """Raise ConfigError with what NGSI-LD refuses in the attributes ``rule`` makes, whatever the record."""
    for template in (rule.spec.get("relationship"), rule.spec.get("datasetId")):
        if isinstance(template, str):  # not {expr: ...}: a computed URI is checked as it is computed
            check_uri_template(template)
    for sample in rule.samples:
        _raise(validate_entity({"id": "urn:ngsi-ld:Sample:1", "type": type_name, rule.name: sample}))


def _raise(errors: list[EntityError]) -> None:
    if errors:
        raise ConfigError("; ".join(f"{error.error_type}: {error.message}" for error in errors))
