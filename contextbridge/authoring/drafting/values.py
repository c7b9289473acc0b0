"""Propose a value map for a field that holds states or categories: the raw values a vendor writes
(Spanish or English words, numeric codes, booleans) to the values the ontology's enumeration lists.

    >>> propose_map(profile("ubicacion", ["acera", "calzada"]), streetlight.locationCategory)
    ValueMap(table={'acera': 'sidewalk', 'calzada': 'road'}, reason="acera -> sidewalk ('acera' ...)")

Three kinds of evidence, strongest first:

- *words*: a raw value that is an enumeration value (``On`` for ``on``), or whose words or their
  translations name one (``acera`` → sidewalk, ``averia`` → the first value saying defective or
  broken); a value that names none is left out of the map (with ``on_error: skip`` the attribute is
  dropped for it, the record kept) and listed in the comment;
- *a state named by the field*: codes 0/1 (or booleans) of a field whose name is a state
  (``occupied``): 1 is that state, 0 its opposite, any other code ``unknown`` (the usual
  convention of sensor firmware, to be checked against the vendor's documentation);
- *a pair of opposite states in the enumeration* (``on``/``off``): codes 0/1 or booleans are
  off/on, inactive/active.

Deterministic: the tables are general vocabulary of city devices' states, not the values of one feed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...entities.ontology import OntologyProperty
from ...language.templates import to_text
from .profile import FieldProfile
from .vocabulary import fold, synonyms, tokens

# The raw words of states and categories → the English words an enumeration value may hold,
# most likely first. Spanish and English, general to city devices and street furniture.
VALUE_WORDS: dict[str, tuple[str, ...]] = {
    # health of a device
    "fault": ("defective", "broken", "fault", "error"),
    "faulty": ("defective", "broken", "fault"),
    "failure": ("defective", "broken", "fault"),
    "error": ("error", "defective", "fault", "broken"),
    "fallo": ("defective", "broken", "fault", "error"),
    "falla": ("defective", "broken", "fault", "error"),
    "averia": ("defective", "broken", "fault"),
    "averiado": ("defective", "broken", "fault"),
    "roto": ("broken", "defective"),
    "correcto": ("ok", "working"),
    "bien": ("ok", "working"),
    "normal": ("ok", "working"),
    "funcionando": ("working", "ok", "on"),
    # states
    "encendido": ("on",),
    "encendida": ("on",),
    "apagado": ("off",),
    "apagada": ("off",),
    "ocupado": ("occupied",),
    "ocupada": ("occupied",),
    "libre": ("free", "available"),
    "abierto": ("open",),
    "abierta": ("open",),
    "cerrado": ("closed",),
    "cerrada": ("closed",),
    "lleno": ("full",),
    "llena": ("full",),
    "vacio": ("empty",),
    "vacia": ("empty",),
    "activo": ("active", "on"),
    "inactivo": ("inactive", "off"),
    "desconocido": ("unknown",),
    "conectado": ("connected",),
    "desconectado": ("disconnected",),
    # places of street furniture
    "acera": ("sidewalk", "pavement"),
    "calzada": ("road", "carriageway"),
    "carretera": ("road",),
    "calle": ("street", "road"),
    "mediana": ("central", "island", "median"),
    "isleta": ("island",),
    "jardin": ("garden",),
    "parque": ("park",),
    "fachada": ("facade",),
    "paseo": ("pedestrian", "path", "promenade"),
    "peatonal": ("pedestrian",),
    "aparcamiento": ("parking",),
    "parking": ("parking",),
    "puente": ("bridge",),
    "tunel": ("tunnel",),
    "plaza": ("square",),
    "rotonda": ("roundabout",),
    "parque_infantil": ("playground",),
}
# Opposite states: the first is what a 1 (true) says, the second what a 0 (false) says.
STATE_PAIRS: tuple[tuple[str, str], ...] = (
    ("occupied", "free"),
    ("on", "off"),
    ("open", "closed"),
    ("full", "empty"),
    ("active", "inactive"),
    ("enabled", "disabled"),
    ("connected", "disconnected"),
)
_UNKNOWN = "unknown"
MAX_VALUES = 30  # distinct raw values a map is proposed for; more is no enumeration
# Words of a field's name that say a state (Spanish adjectives agree with their noun: ocupada).
_CODE_WORDS = {
    "ocupado": "occupied",
    "ocupada": "occupied",
    "ocupacion": "occupied",
    "occupancy": "occupied",
    "encendido": "on",
    "encendida": "on",
    "abierto": "open",
    "abierta": "open",
    "lleno": "full",
    "llena": "full",
    "activo": "active",
    "activa": "active",
    "conectado": "connected",
    "conectada": "connected",
}


@dataclass(frozen=True)
class ValueMap:
    """A proposed ``map:`` (raw value as text → value) and why."""

    table: dict[str, Any]
    reason: str


def _words(text: str) -> tuple[str, ...]:
    return tokens(text) or (re.sub(r"[^a-z0-9]", "", fold(text)),)


@functools.lru_cache(maxsize=8192)  # ranking scores every field against every type's enumerations
def translate(raw: Any, allowed: frozenset[str]) -> tuple[str | None, str]:
    """The enumeration value a raw word names (``Acera`` → sidewalk), or None; with the words used."""
    if not isinstance(raw, str) or not raw.strip():
        return None, ""
    compact = re.sub(r"[^a-z0-9]", "", fold(raw))
    for value in sorted(allowed):
        if re.sub(r"[^a-z0-9]", "", fold(value)) == compact:
            return value, "same word"
    said: list[str] = []
    for word in (*_words(raw), compact):
        for meaning in (word, *VALUE_WORDS.get(word, ()), *sorted(synonyms(word) - {word})):
            if meaning not in said:
                said.append(meaning)
    best: tuple[int, int, int, str] | None = None
    for value in sorted(allowed):
        own = set(tokens(value)) | {re.sub(r"[^a-z0-9]", "", fold(value))}
        ranks = [rank for rank, meaning in enumerate(said) if meaning in own]
        if ranks:
            # more words found, then the likelier meaning, then fewer words not said (lleno is
            # full, not almostFull)
            key = (-len(ranks), min(ranks), len(set(tokens(value)) - set(said)), value)
            best = key if best is None or key < best else best
    if best is None:
        return None, ""
    return best[3], f"'{said[best[1]]}'"


def propose_map(field: FieldProfile, allowed: frozenset[str]) -> ValueMap | None:
    """A map from the field's raw values to ``allowed`` (an attribute's enumeration), or None
    when the values need none (all in it already) or nothing places them."""
    raws = list(dict.fromkeys(field.values))
    if not raws or len(raws) > MAX_VALUES:
        return None
    if field.kind == "text":
        return _words_map(raws, allowed)
    if field.kind in ("number", "bool"):
        return _codes_map(field, raws, allowed)
    return None


def _words_map(raws: list[Any], allowed: frozenset[str]) -> ValueMap | None:
    if not allowed or all(isinstance(r, str) and r in allowed for r in raws):
        return None
    table: dict[str, Any] = {}
    notes, left = [], []
    for raw in raws:
        value, why = translate(raw, allowed)
        if value is None:
            left.append(to_text(raw))
            continue
        table[to_text(raw).strip()] = value
        if raw != value:
            said = f" ({why[1:-1]})" if why.startswith("'") and why[1:-1] not in (fold(raw), value) else ""
            notes.append(f"{raw} -> {value}{said}")
    if not table or len(table) * 2 < len(raws):
        return None  # fewer than half placed: not this enumeration
    reason = "values to the enumeration: " + (", ".join(notes[:8]) or "as written")
    reason += ", ..." if len(notes) > 8 else ""
    if left:
        reason += f"; {', '.join(left[:6])} named no value of it: left out (on_error: skip), add them"
    return ValueMap(table, reason)


def _codes_map(field: FieldProfile, raws: list[Any], allowed: frozenset[str]) -> ValueMap | None:
    texts = [to_text(r).strip() for r in raws]
    if field.kind == "number" and not all(re.fullmatch(r"\d", t) for t in texts):
        return None  # small integer codes only
    if field.kind == "bool":
        codes = {"true": "1", "false": "0"}
        texts = [codes.get(t, t) for t in texts]
    if not {"0", "1"} & set(texts):
        return None
    pair, why = _state_pair(field, allowed)
    if pair is None:
        return None
    on, off = pair
    spelled = {"1": on, "0": off}
    table: dict[str, Any] = {}
    for raw, text in zip(raws, texts, strict=True):
        table[to_text(raw).strip()] = spelled.get(text, _UNKNOWN)
    others = sorted(t for t in texts if t not in spelled)
    if field.kind == "bool":
        reason = f"booleans: true = {on}, false = {off} ({why})"
    else:
        reason = f"codes {', '.join(sorted(texts))}: 1 = {on}, 0 = {off} ({why})"
    if others:
        reason += f", {', '.join(others)} = {_UNKNOWN} (neither): check the vendor's documentation"
    if allowed and not {on, off} <= allowed:
        reason += f"; the ontology's enumeration ({', '.join(sorted(allowed))}) names neither: check"
    return ValueMap(dict(sorted(table.items())), reason)


def named_state(field: FieldProfile) -> tuple[str, str] | None:
    """The opposite states a code or boolean field's name says it holds (``occupied``, ``ocupada``:
    occupied/free), or None."""
    named = [_CODE_WORDS.get(w, w) for w in field.tokens]
    return next(((on, off) for on, off in STATE_PAIRS if on in named), None)


def _state_pair(field: FieldProfile, allowed: frozenset[str]) -> tuple[tuple[str, str] | None, str]:
    """The opposite states 1 and 0 stand for: the state the field's name says, else a pair of the
    enumeration (the enumeration's own spelling kept)."""
    named = named_state(field)
    if named is not None:
        return named, f"the name says {named[0]}"
    lowered = {fold(v): v for v in allowed}
    for on, off in STATE_PAIRS:
        if on in lowered and off in lowered:
            return (lowered[on], lowered[off]), f"the enumeration's pair {lowered[on]}/{lowered[off]}"
    return None, ""


def enumeration_owner(prop: OntologyProperty, type_name: str, labels: Mapping[str, str]) -> str | None:
    """The other type an attribute's comment describes (``The overall status of this street light``
    on ParkingSpot's ``status``, a core term every type shares), whose states the enumeration
    lists; None when the comment is about this type or no other."""
    said = re.sub(r"[^a-z0-9]", "", fold(prop.comment.split("Enum:")[0]))
    if re.sub(r"[^a-z0-9]", "", fold(labels.get(type_name, type_name))) in said:
        return None
    owners = sorted(
        name
        for name, label in labels.items()
        if name != type_name and len(_compact(label)) > 4 and _compact(label) in said
    )
    return owners[0] if len(owners) == 1 else None


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))
