"""UN/CEFACT common codes (Recommendation 20), the ``unitCode`` of NGSI-LD, and conversion between them.

    >>> to_celsius = converter("FAH", "CEL")
    >>> round(to_celsius(212.0), 9)
    100.0
    >>> unit_name("GQ")
    'microgram per cubic metre'
    >>> convertible("P1", "C62"), convertible("FAH", "GQ")
    (True, False)

Only codes a city data platform measures with are known (weather, air and water quality, noise,
traffic, energy, lighting, water flows); each was checked against Recommendation 20. Quantities
without a common code (NTU turbidity, vehicles per hour) have no entry and cannot be converted.

pint decides which units are convertible, with one refinement: pint calls every ratio, angle,
count and logarithmic level "dimensionless", so those units carry a *kind* too; percent converts
to "one" and to ppm, never to degrees, decibels or pieces.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class _Unit:
    name: str  # the Recommendation 20 name, for messages
    symbol: str  # the Recommendation 20 symbol ("" for counts), to recognise it where a code belongs
    expression: str  # how pint spells it
    kind: str | None = None  # tells apart what pint treats alike (all dimensionless)


_UNITS: dict[str, _Unit] = {
    # temperature
    "CEL": _Unit("degree Celsius", "°C", "degC"),
    "FAH": _Unit("degree Fahrenheit", "°F", "degF"),
    "KEL": _Unit("kelvin", "K", "kelvin"),
    # proportions
    "P1": _Unit("percent", "%", "percent", "ratio"),
    "C62": _Unit("one", "1", "dimensionless", "ratio"),
    "NX": _Unit("part per thousand", "‰", "permille", "ratio"),
    "59": _Unit("part per million", "ppm", "ppm", "ratio"),
    "61": _Unit("part per billion", "ppb", "ppb", "ratio"),
    # logarithmic and counted quantities: each converts only to itself
    "2N": _Unit("decibel", "dB", "decibel", "sound level"),
    "Q30": _Unit("pH", "pH", "dimensionless", "pH"),
    "H87": _Unit("piece", "", "count", "pieces"),
    "IE": _Unit("person", "", "count", "persons"),
    # angles
    "DD": _Unit("degree", "°", "degree", "angle"),
    "C81": _Unit("radian", "rad", "radian", "angle"),
    # mass concentration (air and water quality)
    "GQ": _Unit("microgram per cubic metre", "µg/m³", "microgram/m**3"),
    "GP": _Unit("milligram per cubic metre", "mg/m³", "milligram/m**3"),
    "A93": _Unit("gram per cubic metre", "g/m³", "gram/m**3"),
    "KMQ": _Unit("kilogram per cubic metre", "kg/m³", "kilogram/m**3"),
    "H29": _Unit("microgram per litre", "µg/l", "microgram/litre"),
    "M1": _Unit("milligram per litre", "mg/l", "milligram/litre"),
    "GL": _Unit("gram per litre", "g/l", "gram/litre"),
    # electrical conductivity (water quality)
    "D10": _Unit("siemens per metre", "S/m", "siemens/m"),
    "H61": _Unit("millisiemens per centimetre", "mS/cm", "millisiemens/cm"),
    "G42": _Unit("microsiemens per centimetre", "µS/cm", "microsiemens/cm"),
    # speed
    "MTS": _Unit("metre per second", "m/s", "m/s"),
    "KMH": _Unit("kilometre per hour", "km/h", "km/hour"),
    "HM": _Unit("mile per hour", "mile/h", "mile/hour"),
    "KNT": _Unit("knot", "kn", "knot"),
    "H67": _Unit("millimetre per hour", "mm/h", "mm/hour"),
    # length
    "MTR": _Unit("metre", "m", "m"),
    "CMT": _Unit("centimetre", "cm", "cm"),
    "MMT": _Unit("millimetre", "mm", "mm"),
    "4H": _Unit("micrometre", "µm", "micrometre"),
    "KMT": _Unit("kilometre", "km", "km"),
    "KTM": _Unit("kilometre", "km", "km"),
    "SMI": _Unit("mile", "mile", "mile"),
    "FOT": _Unit("foot", "ft", "foot"),
    "INH": _Unit("inch", "in", "inch"),
    # area
    "MTK": _Unit("square metre", "m²", "m**2"),
    "KMK": _Unit("square kilometre", "km²", "km**2"),
    "HAR": _Unit("hectare", "ha", "hectare"),
    # volume
    "MLT": _Unit("millilitre", "ml", "millilitre"),
    "LTR": _Unit("litre", "l", "litre"),
    "MTQ": _Unit("cubic metre", "m³", "m**3"),
    # flow
    "G51": _Unit("litre per second", "l/s", "litre/second"),
    "L2": _Unit("litre per minute", "l/min", "litre/minute"),
    "E32": _Unit("litre per hour", "l/h", "litre/hour"),
    "MQS": _Unit("cubic metre per second", "m³/s", "m**3/second"),
    "MQH": _Unit("cubic metre per hour", "m³/h", "m**3/hour"),
    "G52": _Unit("cubic metre per day", "m³/d", "m**3/day"),
    # mass
    "MGM": _Unit("milligram", "mg", "milligram"),
    "GRM": _Unit("gram", "g", "gram"),
    "KGM": _Unit("kilogram", "kg", "kilogram"),
    "TNE": _Unit("tonne", "t", "tonne"),
    # time
    "SEC": _Unit("second", "s", "second"),
    "MIN": _Unit("minute", "min", "minute"),
    "HUR": _Unit("hour", "h", "hour"),
    "DAY": _Unit("day", "d", "day"),
    "WEE": _Unit("week", "wk", "week"),
    # pressure
    "PAL": _Unit("pascal", "Pa", "pascal"),
    "A97": _Unit("hectopascal", "hPa", "hectopascal"),
    "KPA": _Unit("kilopascal", "kPa", "kilopascal"),
    "MBR": _Unit("millibar", "mbar", "millibar"),
    "BAR": _Unit("bar", "bar", "bar"),
    # power, energy, irradiance
    "WTT": _Unit("watt", "W", "watt"),
    "KWT": _Unit("kilowatt", "kW", "kilowatt"),
    "MAW": _Unit("megawatt", "MW", "megawatt"),
    "JOU": _Unit("joule", "J", "joule"),
    "WHR": _Unit("watt hour", "W·h", "watt_hour"),
    "KWH": _Unit("kilowatt hour", "kW·h", "kilowatt_hour"),
    "MWH": _Unit("megawatt hour", "MW·h", "megawatt_hour"),
    "D54": _Unit("watt per square metre", "W/m²", "watt/m**2"),
    # electricity
    "VLT": _Unit("volt", "V", "volt"),
    "KVT": _Unit("kilovolt", "kV", "kilovolt"),
    "AMP": _Unit("ampere", "A", "ampere"),
    "4K": _Unit("milliampere", "mA", "milliampere"),
    "HTZ": _Unit("hertz", "Hz", "hertz"),
    # light
    "LUX": _Unit("lux", "lx", "lux"),
    "CDL": _Unit("candela", "cd", "candela"),
}

UNIT_CODES: Mapping[str, str] = MappingProxyType({code: unit.expression for code, unit in _UNITS.items()})
"""Every known common code and the pint expression of its unit."""

# a * x + b is computed from pint's own results far apart on the line: pint's offset arithmetic
# loses a few ulps near zero, so a slope from the values at 0 and 1 alone would be off by ~1e-14.
_SPAN = 1e6


def unit_name(code: str) -> str:
    """The unit's name, for messages: ``unit_name("CEL") == "degree Celsius"``."""
    return _known(code).name


def convertible(source: str, target: str) -> bool:
    """Whether values in ``source`` can be converted to ``target``; unknown codes are not."""
    if not (isinstance(source, str) and isinstance(target, str)):
        return False
    if source not in _UNITS or target not in _UNITS:
        return False
    if source == target:
        return True
    first, second = _UNITS[source], _UNITS[target]
    return first.kind == second.kind and _dimensionality(source) == _dimensionality(target)


def converter(source: str, target: str) -> Callable[[float], float]:
    """A function converting a value in ``source`` units to ``target`` units.

    Between two spellings of one unit (``KMT``, ``KTM``) the value is returned unchanged.
    Raises ConfigError for an unknown code or units that measure different things.
    """
    first, second = _known(source), _known(target)
    if not convertible(source, target):
        raise ConfigError(f"cannot convert {source} ({first.name}) to {target} ({second.name})")
    a, b = _line(source, target)
    if (a, b) == (1.0, 0.0):
        return _unchanged
    # pint costs ~10-20 µs a call; every conversion between these units is affine, so the line
    # is taken from pint once here and each record pays one multiply-add.
    if b == 0.0:
        return lambda value: a * value
    return lambda value: a * value + b


def _unchanged(value: float) -> float:
    return value


def _known(code: str) -> _Unit:
    unit = _UNITS.get(code) if isinstance(code, str) else None
    if unit is None:
        raise ConfigError(f"unknown unit code {code!r}{_suggestion(code)}")
    return unit


def _suggestion(code: Any) -> str:
    return unit_suggestions(str(code)) or " (UN/CEFACT common codes, e.g. CEL, P1, GQ, KMH)"


def unit_suggestions(code: str) -> str:
    """ "; did you mean CEL (degree Celsius)?" for a spelling of a known unit, or ""."""
    text = _plain(code)
    # Someone writing "km/h", "µg/m3" or "degree Celsius" meant the code of that unit.
    by_spelling = [
        known
        for known, unit in _UNITS.items()
        if text and text in (known.lower(), _plain(unit.name), _plain(unit.symbol), _plain(unit.expression))
    ]
    close = by_spelling or difflib.get_close_matches(code.strip().upper(), _UNITS, n=3, cutoff=0.5)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"{known} ({_UNITS[known].name})" for known in close) + "?"


def _plain(spelling: str) -> str:
    # "µg/m³", "ug/m3" and "UG/M3" are one spelling; so are "kW·h", "kWh" and "kw h".
    folded = spelling.strip().lower().translate(_FOLD)
    return "".join(folded.split())


_FOLD = str.maketrans({"²": "2", "³": "3", "µ": "u", "μ": "u", "·": "", "*": "", ".": ""})


@cache
def _registry() -> Any:
    # Built on first use: pint's registry takes ~0.3 s, a cost only mappings with units pay.
    import pint

    registry: Any = pint.UnitRegistry()
    registry.define("ppb = 1e-9 = part_per_billion")
    return registry


@cache
def _dimensionality(code: str) -> Any:
    return _registry().Quantity(1.0, _UNITS[code].expression).dimensionality


@cache
def _line(source: str, target: str) -> tuple[float, float]:
    """(a, b) with ``target = a * source + b``, from pint (Quantity handles offset units)."""
    registry = _registry()
    start, end = _UNITS[source].expression, _UNITS[target].expression

    def convert(value: float) -> float:
        return float(registry.Quantity(value, start).to(end).magnitude)

    if source == target:
        return 1.0, 0.0
    b = convert(0.0)
    a = convert(1.0) if b == 0.0 else (convert(_SPAN) - b) / _SPAN
    return a, b
