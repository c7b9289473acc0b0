"""Value steps of an attribute that the mapping language added to the basic chain: fallback
sources (``from: [a, b]``, ``observedAt: [...]``), ranges to categories (``bins:``), and the rounding that keeps
``scale``/``offset``/unit conversion free of float noise (0.35, not 0.35000000000000003).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ...errors import ConfigError, TransformError
from ..fieldpaths import MISSING, compile_path
from ..templates import compile_template
from ..units import converter

Getter = Callable[[Any], Any]
Step = Callable[[Any], Any]


def source_getter(source: str | Sequence[str]) -> tuple[Getter, str]:
    """``from:`` as a path, or a list of paths tried in order (the first present wins); the getter
    and the field to name in errors."""
    if isinstance(source, str):
        return compile_path(source), source
    getters = tuple(compile_path(path) for path in source)

    def first_present(record: Any) -> Any:
        for get in getters:
            value = get(record)
            if value is not MISSING and value is not None and (type(value) is not str or value.strip()):
                return value
        return MISSING

    return first_present, ",".join(source)


def time_field(spec: Mapping[str, Any]) -> str:
    """The record field(s) a time spec reads, to name in errors."""
    return ",".join(compile_template(spec["template"]).fields) if "template" in spec else spec["from"]


def first_time(getters: list[Callable[[Any], str]], fields: list[str]) -> Callable[[Any], str]:
    """``observedAt: [...]``: the first time getter whose field is present."""

    def first_observed(record: Any) -> str:
        for get in getters:
            try:
                return get(record)
            except TransformError as error:
                if error.reason != "missing time":  # present but unreadable: that is the answer
                    raise
        raise TransformError("missing time", field=",".join(fields))

    return first_observed


def bins_step(table: Sequence[Sequence[Any]]) -> tuple[Step, list[Any]]:
    """``[[1000, veryPoor], [4000, poor], [null, good]]``: the label of the first bin whose upper
    bound (inclusive, as Prometheus' ``le``) the value is at or below; a last bound of null is open.
    The step and the labels (checked when the mapping loads)."""
    bounds: list[float] = []
    labels: list[Any] = []
    for position, pair in enumerate(table):
        bound, label = pair
        last = position == len(table) - 1
        if bound is None and not last:
            raise ConfigError(f"bins: only the last bin may be open (null), not bin {position + 1}")
        if bound is not None:
            if bounds and not bound > bounds[-1]:
                raise ConfigError(f"bins: upper bounds must increase ({bound} after {bounds[-1]})")
            bounds.append(bound)
        labels.append(label)
    open_end = table[-1][0] is None
    highest = bounds[-1] if bounds else None

    def bin_of(value: Any) -> Any:
        position = bisect.bisect_left(bounds, value)
        if position == len(bounds) and not open_end:
            raise TransformError(f"{value!r} is above the last bin (up to {highest})")
        return labels[position]

    return bin_of, labels


def _decimals(number: float) -> int | None:
    """The decimal places of ``number`` as written (0.01 → 2); None if it has no short form (5/9)."""
    exponent = Decimal(repr(float(number))).as_tuple().exponent
    places = max(-int(exponent), 0)
    return places if places <= 12 else None


def linear_terms(spec: Mapping[str, Any]) -> tuple[float, float]:
    """``scale``, ``offset`` and a ``unit`` → ``unitCode`` conversion folded into one multiply-add:
    ``(x * scale + offset)`` converted is ``x * factor + constant`` (every unit the mappings name
    converts linearly; (1.0, 0.0) when there is nothing to do)."""
    scale, offset = spec.get("scale", 1), spec.get("offset", 0)
    if "unit" in spec:
        if "unitCode" not in spec:
            raise ConfigError("'unit' (the input's unit) needs 'unitCode' (the unit to send)")
        convert = converter(spec["unit"], spec["unitCode"])
        b = convert(0.0)
        a = convert(1.0) - b
    else:
        a, b = 1.0, 0.0
    return a * scale, a * offset + b


def linear_step(factor: float, constant: float) -> Step:
    """``x * factor + constant``, rounded to the decimal places its inputs carry: a reading with
    ``d`` places times a factor with ``f`` places has ``d + f`` (35 × 0.01 = 0.35), plus an offset
    with ``c`` places at least ``c``. A factor without a short decimal form (a unit conversion
    such as °F → °C, whose factor pint gives to about 15 digits) keeps 12 significant digits,
    more than any sensor measures."""
    factor_places, constant_places = _decimals(factor), _decimals(constant)

    def significant(value: Any) -> float:
        return float(f"{value * factor + constant:.12g}")

    if factor_places is None or constant_places is None:
        return significant
    extra, least = factor_places, constant_places

    def exact(value: Any) -> float:
        places: int | None = 0
        if type(value) is not int:
            text = repr(value)
            places = len(text) - text.find(".") - 1 if "e" not in text else _decimals(value)
        if places is None or places > 12:
            return significant(value)
        return round(value * factor + constant, max(places + extra, least))

    return exact
