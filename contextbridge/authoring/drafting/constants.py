"""Constants a sample cannot show but the type wants: proposed with the evidence, to be reviewed.

    >>> [(c.name, c.value) for c in propose_constants(plan_inputs)]
    [('deviceCategory', ['sensor']), ('supportedProtocol', ['lora'])]

A field says what changes from record to record; what a whole feed shares (that its devices are
sensors, the network they speak, the kind of vehicle a bus feed is about) is written once by
the integrator. Three kinds are proposed, each only on evidence, each line commented *review*:

- *what the records carry*: an attribute of the type that categorises it (its name says
  *category*) whose enumeration lists ``sensor``, when the records carry readings of quantities
  the ontology knows: a device that reports readings is a sensor;
- *the network the payload comes through*: an attribute whose name says *protocol* or *network*,
  when the payload's own keys name a protocol (a LoRaWAN network server's ``lora`` data rate);
- *what the sample is named after*: an attribute with an enumeration (``Enum:'bus, car, ...'``)
  one of whose values is a word of the sample's file name or records path
  (``bus-positions.json`` → ``vehicleType: bus``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ...entities.ontology import OntologyProperty
from .match import enumeration
from .profile import FieldProfile
from .vocabulary import fold, tokens

# Words of a payload's keys that name the network or protocol the data came through.
PROTOCOLS: dict[str, str] = {
    "lora": "lora",
    "lorawan": "lora",
    "sigfox": "sigfox",
    "nbiot": "nbiot",
    "zigbee": "zigbee",
    "mqtt": "mqtt",
    "coap": "coap",
    "modbus": "modbus",
    "ble": "bluetooth",
    "bluetooth": "bluetooth",
    "wifi": "wifi",
}
_SENSOR = "sensor"


@dataclass(frozen=True)
class Constant:
    """A constant attribute proposed for review: its value and why."""

    name: str
    value: Any
    reason: str


def _as(prop: OntologyProperty, value: str) -> Any:
    """A list for attributes that hold several values (JSON range), else the value itself."""
    return [value] if prop.range == "json" else value


def propose_constants(
    attributes: Mapping[str, OntologyProperty],
    fields: Iterable[FieldProfile],
    *,
    taken: set[str],
    readings: list[str],
    hints: Iterable[str] = (),
    enumerations: Mapping[str, frozenset[str]] | None = None,
) -> list[Constant]:
    """Constants for the attributes of the type not already filled (``taken``); ``readings``
    names the quantities the records carry, ``hints`` the sample's file name and records path,
    ``enumerations`` the values each attribute may take (default: those its comment lists)."""
    found: list[Constant] = []
    keys = {w for f in fields for step in re.split(r"[.\[\]]", f.path) for w in tokens(step)}
    said = {w for h in hints for w in tokens(h)}
    categorised = False
    # the most specific name first: deviceCategory before a category its comment deprecates
    for name in sorted(attributes, key=lambda n: (-len(tokens(n)), n)):
        prop = attributes[name]
        if name in taken or prop.kind != "Property" or prop.range not in ("json", "string"):
            continue
        own = set(tokens(name))
        allowed = enumeration(prop) if enumerations is None else enumerations.get(name, frozenset())
        if "category" in own and _SENSOR in allowed and readings and not categorised:
            categorised = True
            shown = ", ".join(readings[:4]) + (", ..." if len(readings) > 4 else "")
            why = f"constant, review: the records carry readings ({shown}): a device that reports them is a {_SENSOR}"
            found.append(Constant(name, _as(prop, _SENSOR), why))
            continue
        if "category" in own and _SENSOR in allowed:
            continue
        if own & {"protocol", "network"}:
            protocols = sorted(
                {PROTOCOLS[w] for w in keys if w in PROTOCOLS and (not allowed or PROTOCOLS[w] in allowed)}
            )
            if len(protocols) == 1:
                why = (
                    f"constant, review: the payload's keys name {protocols[0]} (the network it came through)"
                )
                found.append(Constant(name, _as(prop, protocols[0]), why))
            continue
        named = sorted(v for v in allowed if fold(v) in said)
        if len(named) == 1:
            why = f"constant, review: the sample is named after {named[0]!r}, a value of {name}'s enumeration"
            found.append(Constant(name, _as(prop, named[0]), why))
    return found
