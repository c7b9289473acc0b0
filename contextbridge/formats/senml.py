"""SenML JSON input (RFC 8428): base values resolved, one record per measurement.

    >>> fmt = SenmlFormat({})
    >>> pack = b'[{"bn": "urn:dev:ow:1:", "bu": "Cel", "bt": 1.3e9, "n": "temp", "v": 23.1}]'
    >>> record = next(fmt.parse(io.BytesIO(pack)))
    >>> record["n"], record["name"], record["u"], record["v"], record["t"]
    ('urn:dev:ow:1:temp', 'temp', 'Cel', 23.1, 1300000000.0)

Each record is resolved as RFC 8428 section 4.6 says: the name is base name + name, the
time base time + time (a result under 2**28 is relative to now, read once per parse), the
unit defaults to the base unit, ``v`` and ``s`` get the base value and base sum added.
Base fields hold for the following records until changed. A record is
``{n, name, bn, u?, v | vs | vb | vd, s?, t}``. With ``group: true``, consecutive records
with the same base name and time merge into ``{bn, t, values: {name: value}, units: {name: unit}}``
(and ``sums`` when there are sums): one record per device reading.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import FormatError
from .base import Format, OptionReader, Record
from .json import expected_object, iter_json_values

__all__ = ["SenmlFormat"]

RELATIVE_TIME_LIMIT = 2**28  # RFC 8428 §4.5.3: smaller times are relative to now
_VALUE_KEYS = ("v", "vs", "vb", "vd")
_BASE_KEYS = frozenset({"bn", "bt", "bu", "bv", "bs", "bver"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-:./_]*")  # RFC 8428 §4.5.1


class SenmlFormat(Format):
    """A SenML pack: a JSON array of SenML records (a single record object is also read)."""

    name = "senml"
    options = frozenset({"group"})

    def configure(self, options: OptionReader) -> None:
        self.group = options.flag("group", False)

    def parse(self, stream: BinaryIO, *, source: str | None = None) -> Iterator[Record | FormatError]:
        records = self._resolved(stream, source)
        return _grouped(records) if self.group else records

    def _resolved(self, stream: BinaryIO, source: str | None) -> Iterator[Record | FormatError]:
        base = _Base(now=time.time())
        number = 0
        for raw in iter_json_values(stream, prefix=None, source=source):
            if isinstance(raw, FormatError):
                yield raw
                return
            number += 1
            try:
                record = base.resolve(raw)
            except FormatError as error:
                error.located(record=number, source=source, data=raw)
                yield error
                continue
            if record is not None:
                yield record


class _Base:
    """The base fields in force, and the resolution of one record against them."""

    def __init__(self, *, now: float) -> None:
        self.now = now
        self.name = ""
        self.time = 0.0
        self.unit: str | None = None
        self.value: float = 0
        self.sum: float = 0

    def resolve(self, raw: Any) -> Record | None:
        """The resolved record; None for a record that only sets base fields."""
        if not isinstance(raw, dict):
            raise FormatError(expected_object(raw))
        for key in raw:
            if key.endswith("_"):  # RFC 8428 §4.4: fields ending in "_" must be understood
                raise FormatError(f"unsupported must-understand SenML field {key!r}", field=key)
        self._update_base(raw)
        kinds = [key for key in _VALUE_KEYS if key in raw]
        if not kinds and "s" not in raw:
            if _BASE_KEYS.issuperset(raw):
                return None
            raise FormatError("SenML record without a value (v, vs, vb, vd) or a sum (s)")
        if len(kinds) > 1:
            raise FormatError(f"SenML record with several values: {', '.join(kinds)}", field=kinds[1])
        own = _text(raw, "n", "")
        name = self.name + own
        if not _NAME.fullmatch(name):
            raise FormatError(f"invalid SenML name {name!r}", field="n")
        record: Record = {"n": name, "name": own, "bn": self.name}
        unit = _text(raw, "u", self.unit)
        if unit is not None:
            record["u"] = unit
        if kinds:
            record[kinds[0]] = self._value(raw, kinds[0])
        if "s" in raw:
            record["s"] = _number(raw, "s") + self.sum
        resolved = self.time + _number(raw, "t", 0)
        record["t"] = float(resolved + self.now if resolved < RELATIVE_TIME_LIMIT else resolved)
        return record

    def _update_base(self, raw: dict[str, Any]) -> None:
        # All base fields are checked before any is kept, so a bad one changes nothing.
        name = _text(raw, "bn", self.name)
        base_time = _number(raw, "bt", self.time)
        unit = _text(raw, "bu", self.unit)
        value = _number(raw, "bv", self.value)
        base_sum = _number(raw, "bs", self.sum)
        if "bver" in raw and (type(raw["bver"]) is not int or raw["bver"] < 1):
            raise FormatError(f"invalid SenML version {raw['bver']!r}", field="bver")
        self.name, self.time, self.unit, self.value, self.sum = name, base_time, unit, value, base_sum

    def _value(self, raw: dict[str, Any], kind: str) -> Any:
        if kind == "v":
            return _number(raw, "v") + self.value
        value = raw[kind]
        expected = bool if kind == "vb" else str
        if not isinstance(value, expected):
            raise FormatError(f"SenML {kind!r} must be a {expected.__name__}, got {value!r}", field=kind)
        return value


def _number(raw: dict[str, Any], key: str, default: float | None = None) -> Any:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormatError(f"SenML {key!r} must be a number, got {value!r}", field=key)
    return value


def _text(raw: dict[str, Any], key: str, default: str | None) -> Any:
    value = raw.get(key, default)
    if value is not None and not isinstance(value, str):
        raise FormatError(f"SenML {key!r} must be a string, got {value!r}", field=key)
    return value


def _grouped(records: Iterator[Record | FormatError]) -> Iterator[Record | FormatError]:
    """Merge consecutive records of one base name and time (a name seen twice starts a new group)."""
    group: Record | None = None
    for record in records:
        if isinstance(record, FormatError):
            if group is not None:
                yield group
                group = None
            yield record
            continue
        name = record["name"]
        if (
            group is None
            or group["bn"] != record["bn"]
            or group["t"] != record["t"]
            or name in group["values"]
            or name in group.get("sums", ())
        ):
            if group is not None:
                yield group
            group = {"bn": record["bn"], "t": record["t"], "values": {}, "units": {}}
        for kind in _VALUE_KEYS:
            if kind in record:
                group["values"][name] = record[kind]
                break
        if "u" in record:
            group["units"][name] = record["u"]
        if "s" in record:
            group.setdefault("sums", {})[name] = record["s"]
    if group is not None:
        yield group
