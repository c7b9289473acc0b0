"""The words a draft reads field names with: tokens, synonyms (Spanish and English), unit hints.

    >>> tokens("ayto:temperatura_F")
    ('temperatura', 'f')
    >>> sorted(synonyms("humedad"))
    ['humedad', 'humidity', 'moisture']
    >>> unit_hint(("temp", "c"))
    ('CEL', "name ends in 'c'")

The tables are general vocabulary of city sensor feeds (what a municipal export, a LoRaWAN
decoder or an open-data portal of any city names its fields), not the fields of one feed.
They are written by hand: no offline thesaurus of Spanish-English sensor vocabulary exists
as a library, and the list is short enough to review.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z0-9]+")

# Each word → the English words it can stand for (its own spelling is always kept).
SYNONYMS: dict[str, tuple[str, ...]] = {
    # measured quantities
    "temperatura": ("temperature",),
    "temp": ("temperature",),
    "humedad": ("humidity", "moisture"),
    "hum": ("humidity",),
    "rh": ("relative", "humidity"),
    "presion": ("pressure",),
    "press": ("pressure",),
    "pres": ("pressure",),
    "baro": ("atmospheric", "pressure"),
    "barometric": ("atmospheric", "pressure"),
    "ruido": ("noise", "sound", "laeq"),
    "noise": ("sound", "laeq"),
    "sonido": ("sound", "noise"),
    "luz": ("light", "illuminance"),
    "light": ("illuminance",),
    "luminosidad": ("illuminance", "light"),
    "lux": ("illuminance",),
    "bateria": ("battery",),
    "bat": ("battery",),
    "batt": ("battery",),
    "velocidad": ("speed",),
    "vel": ("speed",),
    "viento": ("wind",),
    "direccion": ("direction", "heading"),
    "rumbo": ("heading", "bearing"),
    "lluvia": ("precipitation", "rain"),
    "precipitacion": ("precipitation",),
    "rain": ("precipitation",),
    "intensidad": ("intensity",),
    "ocupacion": ("occupancy",),
    "occupied": ("occupancy", "status"),
    "ocupado": ("occupancy", "status"),
    "ocupada": ("occupancy", "status"),
    "llenado": ("filling",),
    "fill": ("filling",),
    "nivel": ("level",),
    "flujo": ("illuminance", "flow"),
    "caudal": ("flow",),
    "potencia": ("power", "rating"),
    "consumo": ("consumption", "power"),
    "energia": ("energy",),
    "voltaje": ("voltage",),
    "tension": ("voltage",),
    "corriente": ("current",),
    "altura": ("height", "altitude"),
    "altitud": ("altitude",),
    "peso": ("weight",),
    "carga": ("load",),
    "conductividad": ("conductivity",),
    "turbidez": ("turbidity",),
    "oxigeno": ("oxygen", "o2"),
    "disuelto": ("dissolved",),
    # a substance a sample is analysed for: its reading is a concentration of that component
    "cloro": ("chlorine", "concentration", "component"),
    "chlorine": ("concentration", "component"),
    "nitrato": ("nitrate", "concentration", "component"),
    "nitrate": ("concentration", "component"),
    "nitrito": ("nitrite", "concentration", "component"),
    "nitrite": ("concentration", "component"),
    "amonio": ("ammonium", "concentration", "component"),
    "ammonium": ("concentration", "component"),
    "fluoruro": ("fluoride", "concentration", "component"),
    "fluoride": ("concentration", "component"),
    "sulfato": ("sulphate", "concentration", "component"),
    "sulphate": ("concentration", "component"),
    "fosfato": ("phosphate", "concentration", "component"),
    "phosphate": ("concentration", "component"),
    "hierro": ("iron", "concentration", "component"),
    "plomo": ("lead", "concentration", "component"),
    "salinidad": ("salinity",),
    "distancia": ("distance",),
    # states and classifications
    "estado": ("status", "state"),
    "state": ("status",),
    "tipo": ("type", "category"),
    "categoria": ("category",),
    "ubicacion": ("location", "category"),
    "zona": ("zone", "area", "served"),
    "zone": ("area", "served"),
    "distrito": ("district", "area"),
    "barrio": ("district", "area"),
    "calle": ("street",),
    "direccion_postal": ("address",),
    "circuito": ("circuit",),
    "cuadro": ("cabinet", "panel", "board"),
    "armario": ("cabinet",),
    "linea": ("line",),
    "vehiculo": ("vehicle", "fleet"),
    "bus": ("vehicle",),
    "lampara": ("lamp",),
    "luminaria": ("streetlight", "lamp"),
    "farola": ("streetlight",),
    "cambio": ("change",),
    "contenedor": ("container", "waste"),
    "residuos": ("waste",),
    "aparcamiento": ("parking",),
    "plaza": ("parking", "spot"),
    # bike sharing (GBFS): a dock is a slot, a station's capacity its total of them
    "space": ("spot",),
    "spaces": ("spot",),
    "vacant": ("available", "free"),
    "dock": ("slot",),
    "docks": ("slot",),
    "bikes": ("bike",),
    "capacity": ("total", "slot"),
    "num": ("number",),
    "available": ("free",),
    "disabled": ("out", "service", "broken"),
    "broken": ("out", "service"),
    "averiado": ("out", "service", "broken"),
    "short": ("code",),
    "corto": ("code",),
    "updated": ("modified",),
    "actualizado": ("modified",),
    "modificado": ("modified",),
    "estacion": ("station", "name"),
    "nombre": ("name",),
    "descripcion": ("description",),
    "desc": ("description",),
    "uri": ("source", "url"),
    "url": ("source",),
    "enlace": ("source", "url"),
    # time words
    "fecha": ("date",),
    "hora": ("time", "hour"),
    "instante": ("instant", "time", "observation"),
    "ultima": ("last",),
    "ultimo": ("last",),
    "lectura": ("reading", "value", "reported"),
}

# The last word of a field name that says its unit (``temp_c``, ``pressure_pa``, ``hum_pct``).
UNIT_WORDS: dict[str, str] = {
    "c": "CEL",
    "celsius": "CEL",
    "degc": "CEL",
    "f": "FAH",
    "fahrenheit": "FAH",
    "degf": "FAH",
    "kelvin": "KEL",
    "pct": "P1",
    "percent": "P1",
    "porcentaje": "P1",
    "pc": "P1",
    "pa": "PAL",
    "hpa": "A97",
    "kpa": "KPA",
    "mbar": "MBR",
    "mb": "MBR",
    "w": "WTT",
    "kw": "KWT",
    "kwh": "KWH",
    "v": "VLT",
    "m": "MTR",
    "cm": "CMT",
    "mm": "MMT",
    "km": "KMT",
    "kmh": "KMH",
    "kph": "KMH",
    "mps": "MTS",
    "lux": "LUX",
    "lx": "LUX",
    "db": "2N",
    "dba": "2N",
    "ppm": "59",
    "ppb": "61",
    "ugm3": "GQ",
    "mgm3": "GP",
    "mgl": "M1",
    "uscm": "G42",
}

# Unit symbols written beside values (SenML ``u``, an XML ``unidad="W"`` attribute, a CSV header).
UNIT_SYMBOLS: dict[str, str] = {
    "cel": "CEL",
    "°c": "CEL",
    "°f": "FAH",
    "k": "KEL",
    "%": "P1",
    "%rh": "P1",
    "/": "C62",
    "pa": "PAL",
    "hpa": "A97",
    "kpa": "KPA",
    "mbar": "MBR",
    "bar": "BAR",
    "m/s": "MTS",
    "km/h": "KMH",
    "w": "WTT",
    "kw": "KWT",
    "wh": "WHR",
    "kwh": "KWH",
    "v": "VLT",
    "a": "AMP",
    "m": "MTR",
    "cm": "CMT",
    "mm": "MMT",
    "km": "KMT",
    "lx": "LUX",
    "lux": "LUX",
    "db": "2N",
    "dba": "2N",
    "db(a)": "2N",
    "ppm": "59",
    "ppb": "61",
    "ug/m3": "GQ",
    "µg/m3": "GQ",
    "µg/m³": "GQ",
    "mg/m3": "GP",
    "mg/m³": "GP",
    "mg/l": "M1",
    "µs/cm": "G42",
    "us/cm": "G42",
    "ms/cm": "H61",
    "s/m": "D10",
    "s": "SEC",
    "h": "HUR",
    "l": "LTR",
    "m3": "MTQ",
    "l/s": "G51",
    "kg": "KGM",
    "g": "GRM",
    "hz": "HTZ",
    "deg": "DD",
    "°": "DD",
}

# Where each unit's values plausibly lie in a city's measurements; a unit the ontology fixes is
# replaced by another one of the same quantity when the values fit only the other's range.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "PAL": (30_000, 110_000),
    "A97": (300, 1_100),
    "KPA": (30, 110),
    "D10": (0, 10),
    "G42": (10, 100_000),
    "H61": (0.01, 100),
    "C62": (0, 1),
    "P1": (0, 100),
}

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "de",
        "del",
        "el",
        "en",
        "for",
        "from",
        "in",
        "is",
        "it",
        "la",
        "las",
        "los",
        "of",
        "on",
        "or",
        "per",
        "the",
        "this",
        "to",
        "y",
    ]
)
# Words in a field name that say "identifier": an id template is built from such a field.
ID_WORDS = frozenset(
    [
        "id",
        "identifier",
        "ident",
        "code",
        "codigo",
        "cod",
        "eui",
        "serial",
        "sensor",
        "device",
        "dev",
        "node",
        "nodo",
        "station",
        "estacion",
        "punto",
        "point",
        "vehiculo",
        "vehicle",
        "matricula",
        "plate",
        "bn",
        "uuid",
        "key",
    ]
)
# Words that name an observation time (strong) or a record-keeping time (weak).
TIME_WORDS = {
    "observed": 3,
    "observation": 3,
    "measured": 3,
    "instante": 3,
    "instant": 3,
    "timestamp": 3,
    "lectura": 3,
    "reading": 3,
    "received": 2,
    "time": 2,
    "t": 2,
    "ts": 2,
    "fecha": 2,
    "date": 2,
    "hora": 1,
    "datetime": 2,
    "modified": 1,
    "updated": 1,
    "created": 0,
}


def fold(text: str) -> str:
    """Lower case without accents: ``Tetuán`` → ``tetuan``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def tokens(name: str) -> tuple[str, ...]:
    """The words of a field or attribute name, without a namespace prefix (``ayto:``)."""
    base = name.rsplit(":", 1)[-1] if ":" in name and not name.startswith("urn:") else name
    spaced = _CAMEL.sub(" ", base)
    # PM2,5 and PM2.5 name the same pollutant as pm25: a digit group is not split by punctuation
    spaced = re.sub(r"(?<=\d)[,.](?=\d)", "", spaced)
    found = [w for w in _WORD.findall(fold(spaced)) if w not in STOPWORDS]
    # an acronym camel-cased letter by letter (uVIndex: u, v, index) is one word (uv)
    merged: list[str] = []
    for word in found:
        if len(word) == 1 and word.isalpha() and merged and len(merged[-1]) == 1 and merged[-1].isalpha():
            merged[-1] += word
        else:
            merged.append(word)
    return tuple(merged)


def words(text: str) -> frozenset[str]:
    """The words of a label or comment, for matching (stop words dropped)."""
    return frozenset(w for w in _WORD.findall(fold(_CAMEL.sub(" ", text))) if w not in STOPWORDS)


def synonyms(word: str) -> frozenset[str]:
    """The word and what it can stand for (``bateria`` → battery)."""
    return frozenset((word, *SYNONYMS.get(word, ())))


def unit_hint(name_tokens: Iterable[str]) -> tuple[str, str] | None:
    """The unit a field name's last word says (``temp_c`` → CEL), with the reason."""
    words_ = tuple(name_tokens)
    if len(words_) < 2 or words_[-1] not in UNIT_WORDS:
        return None
    return UNIT_WORDS[words_[-1]], f"name ends in {words_[-1]!r}"


def unit_of_symbol(symbol: str) -> str | None:
    """The common code of a unit symbol written beside a value (``Cel``, ``%RH``, ``W``)."""
    return UNIT_SYMBOLS.get(fold(symbol.strip()))
