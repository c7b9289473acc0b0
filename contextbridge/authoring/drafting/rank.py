"""Rank the ontology's entity types for a sample: which type are these records about?

    >>> [r.type for r in rank_types(fields, roles, ontology, hints=("traffic",))[:3]]
    ['TrafficFlowObserved', 'OffStreetParking', 'Vehicle']

A type's score adds, for each field matched to one of its attributes, the match score times the
attribute's rarity (``log((N + 1) / (n + 1))`` for an attribute that n of the N types have):
``location`` or ``name``, which every type has, say little; ``fillingLevel`` says a lot. Words of
the sample that name the type itself (its name or label, found in the file name, the records
path or a field name) add 1 each. The share of the type's attributes matched is added too: of two
types a sample fits alike, the smaller one, which it covers more, wins.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ...entities.ontology import Ontology
from .match import Match, match_fields
from .profile import FieldProfile
from .roles import Roles
from .vocabulary import synonyms, tokens, words


@dataclass(frozen=True)
class Ranked:
    type: str
    score: float
    reasons: tuple[str, ...]


def entity_types(ontology: Ontology) -> list[str]:
    """The types a mapping can produce: the classes with attributes."""
    return sorted(name for name in ontology.classes if ontology.attributes(name) and ":" not in name)


def rarity(ontology: Ontology) -> dict[str, float]:
    types = entity_types(ontology)
    counts = Counter(name for t in types for name in ontology.attributes(t))
    return {name: math.log((len(types) + 1) / (count + 1)) for name, count in counts.items()}


def rank_types(
    fields: list[FieldProfile], roles: Roles, ontology: Ontology, *, hints: Iterable[str] = ()
) -> list[Ranked]:
    """Every entity type, best first, each with the reasons of its score."""
    weights = rarity(ontology)
    said = set().union(
        *(synonyms(w) for h in hints for w in tokens(h)), *(synonyms(w) for f in fields for w in f.tokens)
    )
    ranked = []
    for type_name in entity_types(ontology):
        cls = ontology.classes[type_name]
        score, reasons = 0.0, []
        own = set(tokens(type_name)) | words(cls.label)
        named = sorted(own & said)
        if named:
            score += len(named)
            reasons.append(f"the sample says {', '.join(repr(w) for w in named)} (type {type_name})")
        matched = _once_per_field(
            (m.score.value * weights.get(m.attribute.name, 0.0), m)
            for m in match_fields(fields, type_name, ontology, roles)
        )
        score += sum(part for part, _ in matched)
        if matched:
            # of two types the sample fits alike, the one it covers more (the smaller) fits better
            covered = len(matched) / len(ontology.attributes(type_name))
            score += covered
            reasons.append(
                f"{len(matched)} of its {len(ontology.attributes(type_name))} attributes (+{covered:.2f})"
            )
        for part, m in sorted(matched, key=lambda item: (-item[0], item[1].attribute.name))[:4]:
            reasons.append(
                f"{m.attribute.name} <- {m.field.path} ({m.score.value:.2f} x rarity {part / max(m.score.value, 1e-9):.2f})"
            )
        ranked.append(Ranked(type_name, round(score, 3), tuple(reasons)))
    return sorted(ranked, key=lambda r: (-r.score, r.type))


def _once_per_field(scored: Iterable[tuple[float, Match]]) -> list[tuple[float, Match]]:
    """A field counts once: the observation time fills several attributes, but is one clue."""
    best: dict[str, tuple[float, Match]] = {}
    for part, match in scored:
        if match.field.path not in best or part > best[match.field.path][0]:
            best[match.field.path] = (part, match)
    return list(best.values())
