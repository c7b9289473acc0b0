"""Validation of normalized NGSI-LD entities, before they reach Orion-LD.

    >>> validate_entity({"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot",
    ...                  "status": {"type": "Property", "value": "free"}})
    []
    >>> [e.rule for e in validate_entity({"id": "spot 1", "type": "ParkingSpot"})]
    ['id-uri']
    >>> is_valid_name("batteryLevel"), is_valid_name("N-TOT"), is_uri("urn:ngsi-ld:Device:a")
    (True, False, True)

An entity is checked as it is POSTed with its @context in a Link header (no ``"@context"`` member
unless ``allow_context=True``). Every problem is reported, in one pass, each as an
:class:`~contextbridge.errors.EntityError` with a stable ``rule`` code, the attribute (dotted for
sub-attributes: ``temperature.accuracy``) and the ProblemDetails type Orion-LD answers.

Where the rules come from (ETSI GS CIM 009 v1.8 = "spec"; Orion-LD = FIWARE/context.Orion-LD sources):

- ``id``: a URI (spec annex A.2). Orion-LD only asks for a colon and RFC 3986 characters
  (``payloadCheck/pCheckUri.cpp``); here the RFC scheme is required too (``2020-03-17T08:45:00Z``
  has a colon but is no URI) and Orion's forbidden characters ``< > " ' = ; ( )`` and whitespace
  are refused too (Orion forbids them in requests, and an id also travels in URL paths). And an
  id is an IRI by RFC 3987 to the letter, as the city graph checks it (pyoxigraph refuses the
  rest): no ``{ } | \\ ^`` or backtick, ``[ ]`` only around an IP literal host, no C1 controls,
  noncharacters or lone surrogates, private-use characters only in the query, one ``#``.
- ``type``: one name. The spec allows an array, Orion-LD does not implement multi-typed entities
  (issue #1764), hence ``multi_type=False`` by default.
- Names (attributes, sub-attributes, entity types): a letter, then letters, digits or ``_``,
  optionally ``prefix:name`` (the spec's name ABNF: "implementations should raise BadRequestData"), or an
  absolute URI without the characters Orion-LD refuses in names (``pcheckName.cpp``:
  ``= [ ] & ? " '``, space). Orion-LD itself lets ``-`` through; the spec does not.
- Reserved names: ``id @id type @type scope`` are not attributes (``pCheckAttribute.cpp``
  ``validAttrName``); core @context terms typed ``DateTime`` or ``@id`` (``observedAt``, ``expiresAt``,
  ``instanceId``...) make Orion-LD demand a bare string, so no attribute can have those names
  (``pCheckTypeFromContext``). ``location``, ``observationSpace``, ``operationSpace`` are
  GeoProperties (spec 4.7; ``PCHECK_SPECIAL_ATTRIBUTE``).
- Attribute types: Property, Relationship, GeoProperty, LanguageProperty, VocabProperty (or the
  spec's VocabularyProperty, which Orion-LD takes as VocabProperty: ``pCheckAttributeObject``),
  JsonProperty, each with its one content member (value, object, languageMap, vocab, json) and
  no other's (``valueAndTypeCheck``).
- Concise attributes (spec 1.6+, as Orion-LD reads them in ``pCheckAttribute.cpp``): without
  ``type``, the content member present tells it (a ``value`` that is a GeoJSON geometry: a
  GeoProperty); a bare JSON value (string, number, boolean, array of non-objects) is a Property's
  value; a GeoJSON geometry alone is a GeoProperty's. The translator still writes normalized. ListProperty/ListRelationship (spec 1.8) are unknown to
  Orion-LD ("Invalid value for attribute /type/"). ``unitCode`` and ``valueType`` belong to
  properties, ``objectType`` to relationships.
- Nulls: no member admits null (spec 5.2.1: JSON-LD expansion drops them), nested ones neither,
  except inside JSON literals (``{"@type": "@json"}``) and JsonProperty ``json``.
  NaN and Infinity are not JSON: Orion-LD's parser answers InvalidRequest.
- GeoJSON (``pcheckGeoPropertyValue.cpp``, ``pCheckGeo*Coordinates.cpp``): only ``type`` and
  ``coordinates``; Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon; positions
  of 2 or 3 numbers, longitude in [-180, 180], latitude in [-90, 90]; a LineString has 2 positions
  or more; a polygon ring 4 or more, the last equal to the first.
- LanguageProperty (``pCheckLanguageMap``): an object of language tag (BCP 47, or ``@none``) to a
  non-empty string or array of non-empty strings.
- Multi-attributes (``multiAttributeArray``): an array of instances, each datasetId once, at most
  one without. An array where no instance has a datasetId would be stored as one Property whose
  value is the array, so it is refused too. ``datasetId`` is a URI, on attributes only.
- Date-times (``observedAt``, ``createdAt``, ``modifiedAt``, ``{"@type": "DateTime", "@value": ...}``):
  an xsd:dateTime ``YYYY-MM-DDThh:mm:ss[.f][Z|±hh:mm]`` (without zone read as UTC), as Orion-LD's
  ``dateTimeFromString`` also reads it: at most 6 decimals, no year before 1970.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Mapping
from typing import Any

from ..errors import EntityError

__all__ = ["check_entity", "is_uri", "is_valid_name", "validate_attribute", "validate_entity"]

_BAD = "BadRequestData"
_INVALID = "InvalidRequest"  # Orion-LD's answer to a body that is not JSON (NaN, Infinity)

# The spec's name ABNF: name = unicodeLetter *(unicodeLetter / unicodeNumber / "_"), optionally "prefix:name".
_NAME_RE = re.compile(r"[^\W\d_]\w*(?::[^\W\d_]\w*)?\Z")
# An absolute IRI (RFC 3987), so that the graph (whose IRIs are checked to the letter) takes
# every id the broker takes, without the sub-delimiters Orion-LD forbids (' ( ) ; =).
# Non-ASCII: RFC 3987's ucschar (no C1 controls, surrogates, U+FFFE/U+FFFF, nor a plane's last
# two); private-use characters in the query only; [ ] only around an IP literal host.
_UCSCHAR = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    + "".join(f"{chr(plane << 16)}-{chr((plane << 16) + 0xFFFD)}" for plane in range(1, 14))
    + "\U000e1000-\U000efffd"
)
_IPRIVATE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
_CHARS = rf"A-Za-z0-9\-._~!$&*+,{_UCSCHAR}"  # unreserved and sub-delims, for runs of [...]++
_PCT = "%[0-9A-Fa-f]{2}"


def _run(extra: str = "") -> str:
    """Any run of IRI characters (plus ``extra``) and percent-escapes; possessive: no backtracking."""
    return rf"(?:[{_CHARS}{extra}]++|{_PCT})*+"


_URI_RE = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*:(?=.)(?:"
    rf"//(?:{_run(':')}@)?"  # authority: userinfo,
    r"(?:\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&*+,:]+)\]"  # an IP literal host
    rf"|{_run()})(?::[0-9]*)?(?:/{_run(':@')})*"  # or a name, port; the path
    rf"|(?!//){_run(':@/')})"  # no authority: the path
    rf"(?:\?{_run(':@/?' + _IPRIVATE)})?(?:#{_run(':@/?')})?\Z"
)
_NAME_FORBIDDEN_RE = re.compile(r"[\[\]&?]")  # allowed in URIs, refused by Orion-LD in names
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,6})?(?:Z|[+-](\d\d)(?::?(\d\d))?)?\Z"
)
_DATE_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)\Z")
_TIME_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?Z?\Z")
_LANGUAGE_TAG_RE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*\Z")
_SCOPE_RE = re.compile(r"/?\w+(?:/\w+)*\Z")  # spec, Scope ABNF: [/] ScopeLevel *(/ ScopeLevel)

# The attribute types Orion-LD knows, each with its content member.
_CONTENT = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
}
_CONTENT_MEMBERS = frozenset(("value", "object", "languageMap", "vocab", "json"))
_UNSUPPORTED_TYPES = {
    "ListProperty": "ListProperty (NGSI-LD 1.8) is not supported by Orion-LD",
    "ListRelationship": "ListRelationship (NGSI-LD 1.8) is not supported by Orion-LD",
}
# Concise attributes: the content member present tells the type (pCheckAttributeObject).
_CONCISE = (
    ("value", "Property"),
    ("object", "Relationship"),
    ("languageMap", "LanguageProperty"),
    ("vocab", "VocabProperty"),
    ("json", "JsonProperty"),
)
_MEMBER_OWNER = {"unitCode": "Property", "valueType": "Property", "objectType": "Relationship"}
_SYSTEM_TIMES = frozenset(("createdAt", "modifiedAt"))  # set by the broker; Orion-LD drops them
_GEO_NAMES = frozenset(("location", "observationSpace", "operationSpace"))
# Core @context v1.8 terms typed DateTime or @id: Orion-LD wants a plain string under those names.
_CORE_TYPED_TERMS = frozenset(
    (
        "contextSourceTimeAt", "createdAt", "datasetId", "deletedAt", "endAt", "endTimeAt", "entityId",
        "expiresAt", "instanceId", "lastFailure", "lastNotification", "lastSuccess", "modifiedAt",
        "notifiedAt", "object", "observedAt", "previousObject", "startAt", "subscriptionId", "success",
        "tenant", "timeAt",
    )
)  # fmt: skip
_ENTITY_RESERVED = frozenset(("@id", "@type", *(_CORE_TYPED_TERMS - _SYSTEM_TIMES)))
_GEOMETRY_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


def is_valid_name(name: str) -> bool:
    """An attribute or type name: a letter, then letters, digits, ``_`` (or ``prefix:name``); or a URI."""
    if _NAME_RE.match(name):
        return True
    return is_uri(name) and _NAME_FORBIDDEN_RE.search(name) is None


def is_uri(text: str) -> bool:
    """An absolute IRI (RFC 3987) but for ``' ( ) ; =``, which Orion-LD refuses: a scheme, ``:``,
    then no whitespace, controls, ``< > " { } | \\ ^ `` ` ``, nor ``[ ]`` outside an IP literal host."""
    return _URI_RE.match(text) is not None


def validate_entity(
    entity: Mapping[str, Any], *, allow_context: bool = False, multi_type: bool = False
) -> list[EntityError]:
    """Every NGSI-LD rule ``entity`` breaks, in document order; ``[]`` when Orion-LD would take it.

    ``allow_context`` accepts an ``"@context"`` member (an ``application/ld+json`` body);
    ``multi_type`` accepts an array of types, which the spec allows but Orion-LD does not.
    """
    if not isinstance(entity, Mapping):
        return [EntityError("an entity must be a JSON object", rule="entity-object")]
    raw_id = entity.get("id")
    check = _Checker(raw_id if isinstance(raw_id, str) else None)
    check.entity(entity, allow_context=allow_context, multi_type=multi_type)
    return check.errors


def validate_attribute(name: str, attribute: Any, *, entity_id: str | None = None) -> list[EntityError]:
    """Every rule one attribute (named ``name``) breaks; the entity's other members are not looked at."""
    check = _Checker(entity_id)
    if check.name(name, name, reserved=_ENTITY_RESERVED):
        check.attribute(name, attribute, name)
    return check.errors


def check_entity(entity: Mapping[str, Any], *, allow_context: bool = False, multi_type: bool = False) -> None:
    """Raise the first :class:`EntityError` of :func:`validate_entity`, if any."""
    errors = validate_entity(entity, allow_context=allow_context, multi_type=multi_type)
    if errors:
        raise errors[0]


def _datetime_problem(text: Any) -> str | None:
    """Why ``text`` is no date-time Orion-LD accepts, or None."""
    if not isinstance(text, str):
        return f"a date-time must be a string, not {_json_type(text)}"
    match = _DATETIME_RE.match(text)
    if match is None:
        return f"{text!r} is not an ISO 8601 date-time YYYY-MM-DDThh:mm:ss[.ffffff][Z|±hh:mm]"
    year, month, day, hour, minute, second, tz_hour, tz_minute = (
        int(part) if part else 0 for part in match.groups()
    )
    if year < 1970:
        return f"{text!r}: Orion-LD refuses years before 1970"
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return f"{text!r} is not a calendar date"
    if hour > 23 or minute > 59 or second > 59 or tz_hour > 14 or tz_minute > 59:
        return f"{text!r} is not a time of day"
    return None


def _date_problem(text: Any) -> str | None:
    match = _DATE_RE.match(text) if isinstance(text, str) else None
    if match is None:
        return f"{text!r} is not an ISO 8601 date YYYY-MM-DD"
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return f"{text!r} is not a calendar date"
    return None


def _time_problem(text: Any) -> str | None:
    if isinstance(text, str) and _TIME_RE.match(text):
        return None
    return f"{text!r} is not an ISO 8601 time hh:mm:ss[.ffffff][Z]"


_LITERAL_CHECKS = {"DateTime": _datetime_problem, "Date": _date_problem, "Time": _time_problem}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


class _Checker:
    """Collects the problems of one entity."""

    __slots__ = ("entity_id", "errors")

    def __init__(self, entity_id: str | None) -> None:
        self.entity_id = entity_id
        self.errors: list[EntityError] = []

    def add(self, rule: str, attribute: str | None, message: str, error_type: str = _BAD) -> None:
        self.errors.append(
            EntityError(
                message, entity_id=self.entity_id, attribute=attribute, rule=rule, error_type=error_type
            )
        )

    def entity(self, entity: Mapping[str, Any], *, allow_context: bool, multi_type: bool) -> None:
        if "id" not in entity:
            self.add("id-missing", None, "the entity has no 'id'")
        elif not isinstance(entity["id"], str) or not is_uri(entity["id"]):
            self.add(
                "id-uri", None, f"the entity id must be an absolute IRI (RFC 3987), not {entity['id']!r}"
            )
        if "type" not in entity:
            self.add("type-missing", None, "the entity has no 'type'")
        else:
            self.entity_type(entity["type"], multi_type=multi_type)
        for name, member in entity.items():
            if name in ("id", "type"):
                continue
            if name == "@context":
                if not allow_context:
                    self.add("context", None, "'@context' in the body: send it in the Link header")
                elif not isinstance(member, str | list | dict) or not member:
                    self.add("context", None, "'@context' must be a URL, an object or an array of them")
            elif name == "scope":
                self.scope(member)
            elif name in _SYSTEM_TIMES:
                self.datetime(member, name)
            elif self.name(name, name, reserved=_ENTITY_RESERVED):
                self.attribute(name, member, name)

    def entity_type(self, value: Any, *, multi_type: bool) -> None:
        if isinstance(value, list) and multi_type:
            if not value:
                self.add("type-value", "type", "the entity type array is empty")
            names = value
        elif isinstance(value, str):
            names = [value]
        else:
            why = " (Orion-LD has no multi-typed entities)" if isinstance(value, list) else ""
            self.add("type-value", "type", f"the entity type must be a string, not {_json_type(value)}{why}")
            return
        for name in names:
            if not isinstance(name, str):
                self.add("type-value", "type", f"an entity type must be a string, not {_json_type(name)}")
            elif not is_valid_name(name):
                self.add(
                    "name-chars",
                    "type",
                    f"invalid entity type {name!r}: a letter, then letters, digits, '_'; or a URI",
                )

    def scope(self, value: Any) -> None:
        scopes = value if isinstance(value, list) and value else [value]
        for scope in scopes:
            if not isinstance(scope, str) or not _SCOPE_RE.match(scope):
                self.add("scope", "scope", f"a scope is a path like '/Madrid/Gardens', not {scope!r}")

    def name(self, name: str, where: str, *, reserved: frozenset[str]) -> bool:
        """Check an attribute or sub-attribute name; False when its content is not worth checking."""
        if name in reserved:
            self.add("reserved-name", where, f"{name!r} is reserved by NGSI-LD and cannot name an attribute")
            return False
        if not is_valid_name(name):
            self.add(
                "name-chars",
                where,
                f"invalid attribute name {name!r}: a letter, then letters, digits, '_'; or a URI",
            )
        return True

    def datetime(self, value: Any, where: str) -> None:
        if value is None:
            self.add("null-value", where, "null is not a date-time")
        elif (problem := _datetime_problem(value)) is not None:
            self.add("datetime", where, problem)

    def attribute(self, name: str, attr: Any, where: str) -> None:
        """An entity-level attribute: one instance, or several distinguished by datasetId (an array
        of anything but objects is a concise Property's value)."""
        if isinstance(attr, list) and (not attr or any(isinstance(item, Mapping) for item in attr)):
            self.instances(name, attr, where)
        else:
            self.instance(name, attr, where, top=True)

    def instances(self, name: str, instances: list[Any], where: str) -> None:
        if not instances or not all(isinstance(item, Mapping) for item in instances):
            self.add("attribute-object", where, "an attribute is an object or a non-empty array of objects")
            return
        seen: set[Any] = set()
        defaults = 0
        for item in instances:
            if "datasetId" not in item:
                defaults += 1
            elif isinstance(item["datasetId"], str):
                if item["datasetId"] in seen:
                    self.add("dataset-id", where, f"datasetId {item['datasetId']!r} is used twice")
                seen.add(item["datasetId"])
        if not seen and len(instances) > 1:
            self.add("dataset-id", where, "the instances of a multi-attribute need a datasetId (all but one)")
        elif defaults > 1:
            self.add("dataset-id", where, "more than one instance without datasetId")
        for item in instances:
            self.instance(name, item, where, top=True)

    def instance(self, name: str, attr: Any, where: str, *, top: bool) -> None:
        if attr is None:
            self.add("null-value", where, "an attribute cannot be null")
            return
        if not isinstance(attr, Mapping):  # concise: a JSON value alone is a Property's value
            if top and name in _GEO_NAMES:
                self.add("geo-property", where, f"{name!r} must be a GeoProperty, not a {_json_type(attr)}")
            else:
                self.value(attr, where)
            return
        kind = attr.get("type")
        if kind == "VocabularyProperty":
            kind = "VocabProperty"
        elif kind is None:  # concise: the content member present tells the type
            kind = next((found for member, found in _CONCISE if member in attr), None)
            if kind == "Property" and _is_geometry(attr["value"]):
                kind = "GeoProperty"
            if kind is None:
                message = "the attribute has no 'type' (Property, ...) nor value, object, languageMap, vocab or json"
                self.add("attribute-type", where, message)
                return
        elif kind not in _CONTENT:
            if _is_geometry(attr):  # concise: a GeoJSON geometry alone is a GeoProperty's value
                if (problem := _geometry_problem(attr)) is not None:
                    self.add("geo-json", where, problem)
                return
            self.add(
                "attribute-type", where, _UNSUPPORTED_TYPES.get(kind, f"unknown attribute type {kind!r}")
            )
            return
        if top and name in _GEO_NAMES and kind != "GeoProperty":
            self.add("geo-property", where, f"{name!r} must be a GeoProperty, not a {kind}")
        content = _CONTENT[kind]
        if content not in attr:
            rule = {"value": "property-value", "object": "relationship-object"}.get(content, _rule_of(kind))
            self.add(rule, where, f"a {kind} needs '{content}'")
        for key, member in attr.items():
            if key == "type":
                continue
            if key in _CONTENT_MEMBERS:
                if key != content:
                    self.add("attribute-member", where, f"'{key}' is not a member of a {kind}")
                elif member is None:
                    self.add("null-value", where, f"'{key}' cannot be null")
                else:
                    self.content(kind, member, where)
            elif key == "observedAt" or key in _SYSTEM_TIMES:
                self.datetime(member, f"{where}.{key}")
            elif key == "datasetId":
                if not top:
                    self.add("dataset-id", where, "a sub-attribute has no datasetId")
                elif not isinstance(member, str) or not is_uri(member):
                    self.add("dataset-id", where, f"datasetId must be a URI, not {member!r}")
            elif key in _MEMBER_OWNER:
                self.typed_member(kind, key, member, where)
            elif self.name(key, f"{where}.{key}", reserved=_CORE_TYPED_TERMS):
                self.instance(key, member, f"{where}.{key}", top=False)

    def typed_member(self, kind: str, key: str, member: Any, where: str) -> None:
        owner = _MEMBER_OWNER[key]
        if kind != owner:
            self.add("attribute-member", where, f"'{key}' is a member of a {owner}, not of a {kind}")
        elif key == "unitCode":
            if not isinstance(member, str) or not member:
                self.add("unit-code", where, f"unitCode must be a UN/CEFACT code string, not {member!r}")
        else:
            names = member if isinstance(member, list) and member else [member]
            if not all(isinstance(item, str) and is_valid_name(item) for item in names):
                self.add("member-value", where, f"{key} must name a type, not {member!r}")

    def content(self, kind: str, member: Any, where: str) -> None:
        if kind == "Property":
            self.value(member, where)
        elif kind == "Relationship":
            objects = member if isinstance(member, list) else [member]
            if not objects or not all(isinstance(item, str) and is_uri(item) for item in objects):
                self.add(
                    "relationship-object", where, f"a Relationship object is a URI or URIs, not {member!r}"
                )
        elif kind == "GeoProperty":
            if (problem := _geometry_problem(member)) is not None:
                self.add("geo-json", where, problem)
        elif kind == "LanguageProperty":
            self.language_map(member, where)
        elif kind == "VocabProperty":
            words = member if isinstance(member, list) and member else [member]
            if not all(isinstance(word, str) and is_valid_name(word) for word in words):
                self.add("vocab", where, f"vocab is a term or an array of terms, not {member!r}")
        else:  # JsonProperty: any JSON, nulls included, but JSON it must be
            self.value(member, where, nulls=True)

    def value(self, value: Any, where: str, *, nulls: bool = False) -> None:
        """Walk a value: no nulls (JSON-LD drops them), no NaN/Infinity; typed literals checked."""
        stack: list[tuple[Any, bool]] = [(value, nulls)]
        while stack:
            item, nulls_ok = stack.pop()
            if isinstance(item, str | bool | int):
                continue
            if isinstance(item, float):
                if not math.isfinite(item):
                    self.add("json-number", where, f"{item} is not a JSON number", _INVALID)
            elif item is None:
                if not nulls_ok:
                    self.add("null-value", where, "null inside a value is dropped by JSON-LD; leave it out")
            elif isinstance(item, Mapping):
                literal = item.get("@type")
                if literal == "@json":
                    nulls_ok = True  # a JSON literal keeps its nulls
                elif isinstance(literal, str) and (checker := _LITERAL_CHECKS.get(literal)) is not None:
                    if (problem := checker(item.get("@value"))) is not None:
                        self.add("datetime", where, problem)
                    continue
                stack.extend((member, nulls_ok) for member in item.values())
            elif isinstance(item, list | tuple):
                stack.extend((member, nulls_ok) for member in item)
            else:
                self.add("json-value", where, f"{type(item).__name__} is not a JSON value", _INVALID)

    def language_map(self, member: Any, where: str) -> None:
        if not isinstance(member, Mapping) or not member:
            self.add("language-map", where, "languageMap is an object of language tag to text")
            return
        for tag, text in member.items():
            if tag != "@none" and not _LANGUAGE_TAG_RE.match(tag):
                self.add("language-map", where, f"{tag!r} is not a language tag (BCP 47)")
            texts = text if isinstance(text, list) and text else [text]
            if not all(isinstance(item, str) and item for item in texts):
                self.add(
                    "language-map", where, f"the text for {tag!r} must be non-empty strings, not {text!r}"
                )


def _rule_of(kind: str) -> str:
    return {"LanguageProperty": "language-map", "VocabProperty": "vocab"}.get(kind, "json-value")


def _is_geometry(value: Any) -> bool:
    """A GeoJSON geometry by its look (``isGeoJsonValue``): a geometry type and coordinates."""
    return isinstance(value, Mapping) and value.get("type") in _GEOMETRY_DEPTH and "coordinates" in value


def _geometry_problem(geometry: Any) -> str | None:
    """Why ``geometry`` is no GeoJSON geometry Orion-LD accepts, or None."""
    if not isinstance(geometry, Mapping):
        return f"a GeoProperty value is a GeoJSON geometry object, not {_json_type(geometry)}"
    extra = set(geometry) - {"type", "coordinates"}
    if extra:
        return f"a GeoJSON geometry has only 'type' and 'coordinates', not {sorted(extra)}"
    kind = geometry.get("type")
    if kind not in _GEOMETRY_DEPTH:
        return f"unsupported geometry {kind!r}: one of {', '.join(_GEOMETRY_DEPTH)}"
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list):
        return f"a {kind} needs 'coordinates', an array"
    return _coordinates_problem(kind, coordinates, _GEOMETRY_DEPTH[kind])


def _coordinates_problem(kind: str, coordinates: Any, depth: int) -> str | None:
    if depth == 0:
        return _position_problem(coordinates)
    if not isinstance(coordinates, list) or not coordinates:
        return f"the coordinates of a {kind} nest {depth + 1} arrays deep"
    for part in coordinates:
        if (problem := _coordinates_problem(kind, part, depth - 1)) is not None:
            return problem
    if kind in ("LineString", "MultiLineString") and depth == 1 and len(coordinates) < 2:
        return "a LineString has at least 2 positions"
    if kind in ("Polygon", "MultiPolygon") and depth == 1:
        if len(coordinates) < 4:
            return "a polygon ring has at least 4 positions"
        first, last = coordinates[0], coordinates[-1]
        if len(first) != len(last) or any(abs(a - b) > 1e-9 for a, b in zip(first, last, strict=True)):
            return "a polygon ring ends where it starts"
    return None


def _position_problem(position: Any) -> str | None:
    if not isinstance(position, list) or len(position) not in (2, 3):
        return f"a position is 2 or 3 numbers, not {position!r}"
    for number in position:
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            return f"a position is 2 or 3 numbers, not {position!r}"
    longitude, latitude = position[0], position[1]
    if not -180 <= longitude <= 180:
        return f"longitude {longitude} is outside [-180, 180]"
    if not -90 <= latitude <= 90:
        return f"latitude {latitude} is outside [-90, 90]"
    return None
