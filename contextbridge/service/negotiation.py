"""HTTP content negotiation (RFC 9110 §12.5.1): the best offered media type an ``Accept`` allows.

    choose(["application/sparql-results+json", "text/csv"], "text/csv;q=0.9, */*;q=0.1")
    # 'text/csv'

A missing or empty ``Accept`` takes the first offer; ``q=0`` excludes a type; among ranges
that match an offer, the most specific one gives its quality (``text/csv`` over ``text/*``
over ``*/*``). Ties go to the order of the offers (the server's preference).
"""

from __future__ import annotations

from collections.abc import Sequence


def _ranges(accept: str) -> list[tuple[str, str, float]]:
    found = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = max(0.0, min(1.0, float(value)))
                except ValueError:
                    quality = 0.0
        kind, _, sub = media.lower().partition("/")
        found.append((kind, sub or "*", quality))
    return found


def _quality(offer: str, ranges: list[tuple[str, str, float]]) -> float:
    kind, _, sub = offer.partition("/")
    best, specificity = 0.0, -1
    for rkind, rsub, quality in ranges:
        if rkind == kind and rsub == sub:
            level = 2
        elif rkind == kind and rsub == "*":
            level = 1
        elif rkind == "*" and rsub == "*":
            level = 0
        else:
            continue
        if level > specificity:
            best, specificity = quality, level
    return best


def choose(offers: Sequence[str], accept: str | None) -> str | None:
    """The offer the client prefers, or None when it accepts none of them (answer 406)."""
    if not accept or not accept.strip():
        return offers[0] if offers else None
    ranges = _ranges(accept)
    best, chosen = 0.0, None
    for offer in offers:
        quality = _quality(offer, ranges)
        if quality > best:
            best, chosen = quality, offer
    return chosen
