"""The fields that play an entity's structural roles: its id, its observation time, its position.

    >>> roles = find_roles(profile_records(records))
    >>> roles.id.field.path, roles.time.field.path, roles.point.lat.path
    ('ayto:idSensor', 'dc:modified', 'ayto:latitude')

Each choice carries a score and the reason, so the draft's comments (and the tests) can say why.
"""

from __future__ import annotations

from dataclasses import dataclass

from .profile import FieldProfile, TimeFormat
from .vocabulary import ID_WORDS, TIME_WORDS

LAT_WORDS = frozenset({"lat", "latitude", "latitud"})
LON_WORDS = frozenset({"lon", "long", "lng", "longitude", "longitud"})
# Id words that say "identifier" by themselves count more than those naming a thing (sensor).
_STRONG_ID = {"id": 2.0, "identifier": 2.0, "ident": 2.0, "uuid": 2.0, "eui": 1.5, "serial": 1.5}


@dataclass(frozen=True)
class Choice:
    """A field chosen for a role, with why."""

    field: FieldProfile
    score: float
    reason: str


@dataclass(frozen=True)
class TimeChoice:
    """The observation time: one field, or a date field and a time-of-day field together."""

    field: FieldProfile
    clock: FieldProfile | None  # the separate time-of-day field, if any
    format: TimeFormat
    reason: str

    @property
    def fmt(self) -> str:
        if self.clock is None:
            return self.format.format
        assert self.clock.time is not None
        return f"{self.format.format} {self.clock.time.format}"


@dataclass(frozen=True)
class PointChoice:
    lat: FieldProfile
    lon: FieldProfile
    reason: str


@dataclass(frozen=True)
class Roles:
    id: Choice | None
    time: TimeChoice | None
    point: PointChoice | None

    def used(self) -> frozenset[str]:
        """The paths these roles consume (they are not matched to attributes again)."""
        paths = set()
        if self.time:
            paths.add(self.time.field.path)
            if self.time.clock:
                paths.add(self.time.clock.path)
        if self.point:
            paths |= {self.point.lat.path, self.point.lon.path}
        return frozenset(paths)


def find_roles(fields: list[FieldProfile]) -> Roles:
    point = find_point(fields)
    coordinates = {point.lat.path, point.lon.path} if point else set()
    return Roles(find_id([f for f in fields if f.path not in coordinates]), find_time(fields), point)


def id_score(field: FieldProfile) -> tuple[float, str]:
    """How much a field looks like the identifier of the thing a record is about."""
    if field.kind not in ("text", "number") or field.url or field.empty or field.distinct < 1:
        return 0.0, ""
    if field.kind == "number" and not field.integral:
        return 0.0, ""
    words = [w for w in field.tokens if w in ID_WORDS]
    if not words:
        return 0.0, ""
    score = sum(_STRONG_ID.get(w, 1.0) for w in words)
    unique = field.distinct / max(1, field.present)
    score += unique - 0.5 * field.in_list - 0.1 * field.depth
    reason = f"id-like name ({', '.join(words)}); {field.distinct} distinct values in {field.present} records"
    return score, reason


def find_id(fields: list[FieldProfile]) -> Choice | None:
    scored = [(id_score(f), f) for f in fields]
    best = max(scored, key=lambda item: item[0][0], default=None)
    if best is None or best[0][0] <= 0:
        return None
    (score, reason), field = best
    return Choice(field, score, reason)


def time_score(field: FieldProfile) -> float:
    """How much a time field looks like the moment of the observation."""
    assert field.time is not None
    score = float(max((TIME_WORDS.get(w, 0) for w in field.tokens), default=0))
    score += 1.0 if field.time.format == "iso8601" and field.time.zoned else 0.0
    return score - 0.5 * field.depth - 1.0 * field.in_list + 0.1 * min(field.distinct, 10)


def find_time(fields: list[FieldProfile]) -> TimeChoice | None:
    times = [f for f in fields if f.time is not None]
    full = [f for f in times if f.time and f.time.date and f.time.clock]
    if full:
        best = max(full, key=time_score)
        assert best.time is not None
        zone = "with its offset" if best.time.zoned else "without offset"
        return TimeChoice(best, None, best.time, f"times in {best.time.format}, {zone}")
    dates = [f for f in times if f.time and f.time.date and not f.time.clock and f.time.format != "iso8601"]
    clocks = [f for f in times if f.time and f.time.clock and not f.time.date]
    if dates and clocks:
        date, clock = max(dates, key=time_score), max(clocks, key=time_score)
        assert date.time is not None
        return TimeChoice(date, clock, date.time, "a date field and a time-of-day field, read together")
    if times:
        best = max(times, key=time_score)
        assert best.time is not None
        return TimeChoice(best, None, best.time, f"dates in {best.time.format}")
    return None


def find_point(fields: list[FieldProfile]) -> PointChoice | None:
    """A latitude/longitude pair of one parent, named so or a GeoJSON ``coordinates`` pair;
    the order is checked by the values' ranges."""
    numbers = [f for f in fields if f.kind == "number" and f.low is not None]
    pairs: list[tuple[float, FieldProfile, FieldProfile, str]] = []
    for lat in numbers:
        if not set(lat.tokens) & LAT_WORDS:
            continue
        for lon in numbers:
            if set(lon.tokens) & LON_WORDS and _parent(lat.path) == _parent(lon.path):
                score = lat.present - lat.empty - 5 * lat.in_list - lat.depth
                pairs.append((score, lat, lon, "named latitude and longitude"))
    for first in numbers:
        if first.path.endswith("coordinates[0]"):
            second = next((f for f in numbers if f.path == first.path[:-2] + "1]"), None)
            if second is not None:
                pairs.append((first.present - first.depth, second, first, "GeoJSON coordinates (lon, lat)"))
    if not pairs:
        return None
    _, lat, lon, why = max(pairs, key=lambda p: p[0])
    if not _within(lat, 90) and _within(lon, 90):
        lat, lon, why = lon, lat, why + "; swapped: the 'latitude' values exceed 90"
    if not (_within(lat, 90) and _within(lon, 180)):
        return None
    return PointChoice(lat, lon, f"{why}; lat {_span(lat)}, lon {_span(lon)}")


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _within(field: FieldProfile, limit: float) -> bool:
    assert field.low is not None and field.high is not None
    return -limit <= field.low and field.high <= limit


def _span(field: FieldProfile) -> str:
    return f"{field.low:g}..{field.high:g}"
