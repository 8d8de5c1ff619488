"""Plain data of the assignment problem and plan, and the score every plan is compared by."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EARTH_RADIUS_KM = 6371.0088
TIME_FORMAT = "%Y-%m-%dT%H:%M"


class ProblemError(ValueError):
    """A problem or plan that breaks the exchange format, naming the first offending field."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field_path = field_path
        self.message = message


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Shift:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Professional:
    id: str
    location: Location
    skills: frozenset[str]
    shifts: tuple[Shift, ...]
    max_minutes_per_week: int
    excluded_clients: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    client: str
    location: Location
    skill: str
    window_start: datetime
    window_end: datetime
    duration_min: int
    priority: int = 1
    preferred_professional: str | None = None
    required_professional: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    request: str
    professional: str
    start: datetime


@dataclass(frozen=True)
class Problem:
    professionals: tuple[Professional, ...]
    requests: tuple[Request, ...]
    speed_kmh: float = 25.0
    current_plan: tuple[Assignment, ...] = ()
    version: int = 1


@dataclass(frozen=True, slots=True)
class Reason:
    professional: str | None
    rule: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Unassigned:
    request: str
    reasons: tuple[Reason, ...] = ()
    suggestion: str | None = None


@dataclass(frozen=True, slots=True)
class Score:
    covered_priority: int
    covered: int
    requests: int
    moved: int
    preferences_honoured: int
    travel_km: float

    def key(self) -> tuple[int, int, int, float]:
        """Return a tuple that sorts better plans higher (the spec's lexicographic order)."""
        return (self.covered_priority, -self.moved, self.preferences_honoured, -self.travel_km)


@dataclass(frozen=True)
class Plan:
    assignments: tuple[Assignment, ...]
    unassigned: tuple[Unassigned, ...]
    score: Score
    solver: dict[str, Any] = field(default_factory=dict)


def haversine_km(a: Location, b: Location) -> float:
    """Return the great-circle distance between two places in km."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def travel_minutes(km: float, speed_kmh: float) -> int:
    """Return the whole minutes needed to travel km at speed_kmh, rounded up."""
    return math.ceil(km * 60 / speed_kmh)


def format_time(t: datetime) -> str:
    """Format a time as YYYY-MM-DDTHH:MM."""
    return t.strftime(TIME_FORMAT)


def compute_score(problem: Problem, assignments: tuple[Assignment, ...] | list) -> Score:
    """Compute the score of a set of assignments (assumed to name known ids)."""
    requests = {r.id: r for r in problem.requests}
    pros = {p.id: p for p in problem.professionals}
    current = {a.request: a.professional for a in problem.current_plan}
    given = {a.request: a.professional for a in assignments}
    moved = sum(1 for rid, pid in current.items() if given.get(rid) != pid)
    honoured = sum(
        1 for a in assignments if requests[a.request].preferred_professional == a.professional
    )
    days: dict[tuple[str, Any], list[Assignment]] = {}
    for a in assignments:
        days.setdefault((a.professional, a.start.date()), []).append(a)
    travel = 0.0
    for (pid, _), services in days.items():
        here = pros[pid].location
        for a in sorted(services, key=lambda s: s.start):
            there = requests[a.request].location
            travel += haversine_km(here, there)
            here = there
        travel += haversine_km(here, pros[pid].location)
    return Score(
        covered_priority=sum(requests[a.request].priority for a in assignments),
        covered=len(assignments),
        requests=len(problem.requests),
        moved=moved,
        preferences_honoured=honoured,
        travel_km=round(travel, 2),
    )
