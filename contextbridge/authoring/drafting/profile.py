"""Profile a sample's fields: paths, kinds of value, ranges, time formats, units, coordinates, ids.

    >>> fields = profile_records([{"id": "a", "temp_c": "7,5", "time": "2024-05-14T05:00:00Z"}], decimal=",")
    >>> [(f.path, f.kind) for f in fields]
    [('id', 'text'), ('temp_c', 'number'), ('time', 'time')]

Each profile keeps what the later steps need to say *why*: the values' range, how many were
empty, which time format every value parsed with, where a unit came from.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .vocabulary import tokens, unit_hint, unit_of_symbol

# Share of the non-empty values that must agree for a field to be numeric or a time: the rest
# are the faults real feeds carry ("n/d", "-").
AGREEMENT = 0.8
# Fields profiled (the first, in record order): drafting scores each against every attribute.
MAX_FIELDS = 200
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
# strftime formats of legacy exports, day before month first (the European and Latin American
# order); a value with a first part above 12 rules out the other order anyway.
STRFTIME = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%Y%m%d%H%M%S",
    "%H:%M:%S",
    "%H:%M",
)
_INDEX = re.compile(r"\[\d")
_CODE = re.compile(r"(?=[^\s]*\d)(?=[^\s]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_.-]{0,15}")
# The keys that name a measurement of a list and those that hold its value, most telling first.
_NAME_KEYS = ("type", "name", "measurementType", "measurement", "parameter", "variable", "metric", "key", "n")
_VALUE_KEYS = ("measurementValue", "value", "v", "val", "reading")
_LABEL = re.compile(r"[^'\\\[\]{}|\n]+")
_SIMPLE_KEY = re.compile(r"[^.\[\]\"'{}|\s][^.\[\]\"'{}|]*")


@dataclass(frozen=True)
class TimeFormat:
    """How a field writes times: a mapping ``format`` and what the values hold."""

    format: str  # iso8601, epoch, epoch_ms or a strftime format
    zoned: bool  # every value carries its offset (no tz needed)
    date: bool  # the values hold a date
    clock: bool  # the values hold a time of day


@dataclass(frozen=True)
class FieldProfile:
    """One field (leaf path) of the records, seen over the whole sample."""

    path: str
    name: str  # the key that names it (the parent's for an XML element's text)
    tokens: tuple[str, ...]
    present: int  # records that have it, empty or not
    empty: int  # of those, empty ("" or null)
    kind: str  # number, text, time, bool
    text: bool  # numbers or times written as text (a cast is needed)
    values: tuple[Any, ...]  # the non-empty values, in order (at most 50 kept)
    distinct: int
    low: float | None
    high: float | None
    median: float | None  # says the unit better than the range, which holds the faults
    integral: bool
    decimals: int
    time: TimeFormat | None
    unit: tuple[str, str] | None  # (common code, why)
    url: bool
    coded: bool  # every value is a short code of letters and digits (SDR-01, A12), no words
    in_list: bool
    depth: int


def quote_key(key: str) -> str:
    """A key as a path step: plain when it can be, else ``["key"]``."""
    return key if _SIMPLE_KEY.fullmatch(key) and key.strip() == key else '["' + key.replace('"', "") + '"]'


def profile_records(
    records: list[dict[str, Any]], *, decimal: str = ".", context: frozenset[str] = frozenset()
) -> list[FieldProfile]:
    """The profile of every leaf field of ``records``, in the order they first appear.

    ``context``: the words of what a record is (``parkingFacilityStatus``), which its fields repeat
    (``parkingFacilityOccupancy``) without saying what they hold: dropped from their names' words
    when others are left."""
    seen: dict[str, list[Any]] = {}
    names: dict[str, tuple[str, tuple[str, ...], int, bool]] = {}
    units: dict[str, tuple[str, str]] = {}
    for record in records:
        for path, name, steps, value, unit in _leaves(record, "", (), 0):
            seen.setdefault(path, []).append(value)
            names.setdefault(path, (name, steps, len(steps), bool(_INDEX.search(path))))
            if unit is not None:
                units.setdefault(path, unit)
    profiles = []
    for path, found in list(seen.items())[:MAX_FIELDS]:
        name, steps, depth, in_list = names[path]
        profile = _profile(path, name, found, decimal, units.get(path), depth, in_list)
        content = tuple(t for t in profile.tokens if t not in context)
        if content and content != profile.tokens:
            profile = dataclasses.replace(profile, tokens=content, unit=profile.unit or unit_hint(content))
        profiles.append(profile)
    return profiles


def _leaves(
    node: Any, path: str, steps: tuple[str, ...], depth: int, symbols: dict[str, Any] | None = None
) -> Iterator[tuple[Any, ...]]:
    if not isinstance(node, dict) or depth > 6:
        return
    # SenML readings write the units beside the values ({"values": {...}, "units": {...}})
    units = node.get("units") if isinstance(node.get("units"), dict) else None
    for key, value in node.items():
        if not isinstance(key, str) or (key == "units" and units is not None):
            continue
        step = quote_key(key)
        here = f"{path}.{step}" if path and not step.startswith("[") else f"{path}{step}"
        if isinstance(value, dict) and value and all(k.startswith("@") for k in value):
            # an XML element of attributes alone (<reference id="24276[Turmcenter]"/>): each is a field
            for attribute, text in value.items():
                yield f'{here}["{attribute}"]', f"{key}_{attribute[1:]}", (*steps, key), text, None
        elif isinstance(value, dict) and value and all(k == "#text" or k.startswith("@") for k in value):
            # an XML element with attributes: its text is the value, an attribute may say the unit
            unit = _symbol_unit(next((v for k, v in value.items() if k.startswith("@")), None), key)
            yield f'{here}["#text"]', key, steps, value.get("#text"), unit
        elif isinstance(value, dict):
            yield from _leaves(value, here, (*steps, key), depth + 1, units)
        elif isinstance(value, list):
            if value and all(not isinstance(item, dict | list) for item in value) and len(value) <= 3:
                for index, item in enumerate(value):
                    yield f"{here}[{index}]", key, steps, item, None
            elif value and isinstance(value[0], dict):
                selections = list(_selections(value, here))
                if selections:
                    yield from ((path, label, (*steps, key), v, None) for path, label, v in selections)
                else:
                    yield from _leaves(value[0], f"{here}[0]", (*steps, key), depth + 1)
        else:
            yield here, key, steps, value, _symbol_unit(symbols.get(key), key) if symbols else None


def _selections(items: list[Any], here: str) -> Iterator[tuple[str, str, Any]]:
    """A list of measurements, each named by one key and valued by another (``{"type": "Air
    Temperature", "measurementValue": 1.8}``), read per name: ``here[?type == 'Air
    Temperature'].measurementValue``, the field named by its label. Nothing for any other list."""
    if not all(isinstance(item, dict) for item in items):
        return
    namer = next((k for k in _NAME_KEYS if all(isinstance(i.get(k), str) for i in items)), None)
    valuer = next((k for k in _VALUE_KEYS if all(k in i for i in items)), None)
    labels = [item.get(namer) for item in items] if namer else []
    if namer is None or valuer is None or len(set(labels)) < len(labels):
        return
    for label, item in zip(labels, items, strict=True):
        # a label the path's quotes cannot hold, or a value that is no reading, is left out
        if _LABEL.fullmatch(label) and not isinstance(item[valuer], dict | list):
            yield f"{here}[?{namer} == '{label}'].{valuer}", label, item[valuer]


def _symbol_unit(symbol: Any, key: str) -> tuple[str, str] | None:
    if not isinstance(symbol, str):
        return None
    code = unit_of_symbol(symbol)
    return (code, f"unit {symbol!r} written beside the value") if code else None


def _profile(
    path: str,
    name: str,
    found: list[Any],
    decimal: str,
    unit: tuple[str, str] | None,
    depth: int,
    in_list: bool,
) -> FieldProfile:
    values = [v for v in found if v is not None and v != ""]
    strings = [v for v in values if isinstance(v, str)]
    numbers = [_number(v, decimal) for v in values]
    parsed = [n for n in numbers if n is not None]
    time = time_format(values)
    kind, text = "text", bool(strings)
    if values and all(isinstance(v, bool) for v in values):
        kind, text = "bool", False
    elif time is not None:
        kind = "time"
    elif values and len(parsed) >= AGREEMENT * len(values):
        kind = "number"
    name_tokens = tokens(name)
    written = [v.strip() for v in strings] if kind == "number" else []
    decimals = max((len(w.replace(",", ".").partition(".")[2]) for w in written), default=0)
    if kind == "number" and not strings:
        decimals = max((len(repr(float(v)).partition(".")[2].rstrip("0")) for v in parsed), default=0)
    return FieldProfile(
        path=path,
        name=name,
        tokens=name_tokens,
        present=len(found),
        empty=len(found) - len(values),
        kind=kind,
        text=text,
        values=tuple(values[:50]),
        distinct=len({repr(v) for v in values}),
        low=min(parsed) if kind == "number" and parsed else None,
        high=max(parsed) if kind == "number" and parsed else None,
        median=sorted(parsed)[len(parsed) // 2] if kind == "number" and parsed else None,
        integral=kind == "number" and all(float(n).is_integer() for n in parsed),
        decimals=decimals,
        time=time,
        unit=unit or unit_hint(name_tokens),
        url=bool(strings) and all(s.startswith(("http://", "https://")) for s in strings),
        coded=bool(strings) and all(_CODE.fullmatch(s.strip()) for s in strings),
        in_list=in_list,
        depth=depth,
    )


def _number(value: Any, decimal: str) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if decimal == ",":
            text = text.replace(".", "").replace(",", ".") if "," in text else text
        if _NUMBER.match(text):
            return float(text)
    return None


def time_format(values: list[Any]) -> TimeFormat | None:
    """The one format most values are times in, or None."""
    if not values:
        return None
    strings = [v.strip() for v in values if isinstance(v, str)]
    need = AGREEMENT * len(values)
    iso = [_ISO.match(s) for s in strings]
    if sum(m is not None for m in iso) >= need and any(m and len(m.group(0)) >= 10 for m in iso):
        zoned = all(m is None or m.group(1) is not None for m in iso)
        clock = any(m is not None and len(m.group(0)) > 10 for m in iso)
        return TimeFormat("iso8601", zoned, True, clock)
    if len(strings) >= need:
        for fmt in STRFTIME:
            if sum(_strptime(s, fmt) for s in strings) >= need:
                return TimeFormat(fmt, False, "%d" in fmt, "%H" in fmt)
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) >= need:
        if all(1e9 <= n < 4.2e9 for n in numbers):
            return TimeFormat("epoch", True, True, True)
        if all(1e12 <= n < 4.2e12 for n in numbers):
            return TimeFormat("epoch_ms", True, True, True)
    return None


def _strptime(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True
