"""Small builders for crafted assignment problems (one day, one town)."""

from __future__ import annotations

import math
from datetime import datetime

from assignment.problem import (
    Assignment,
    Location,
    Plan,
    Problem,
    Professional,
    Request,
    Shift,
    Unassigned,
    compute_score,
)

DAY = "2026-12-07"
CENTRE = Location(39.47, -0.376)


def at(east_km: float = 0.0, north_km: float = 0.0) -> Location:
    """Return the place east_km east and north_km north of the centre."""
    return Location(
        CENTRE.lat + north_km / 111.32,
        CENTRE.lon + east_km / (111.32 * math.cos(math.radians(CENTRE.lat))),
    )


def when(hhmm: str, day: str = DAY) -> datetime:
    """Return the datetime of HH:MM on day."""
    return datetime.fromisoformat(f"{day}T{hhmm}")


def pro(
    pid,
    *,
    skills=("cleaning",),
    shifts=(("08:00", "15:00"),),
    cap=2400,
    excluded=(),
    where=None,
    day=DAY,
) -> Professional:
    """Return a professional working the given shifts on day."""
    return Professional(
        id=pid,
        location=where or CENTRE,
        skills=frozenset(skills),
        shifts=tuple(Shift(when(a, day), when(b, day)) for a, b in shifts),
        max_minutes_per_week=cap,
        excluded_clients=frozenset(excluded),
    )


def req(
    rid,
    *,
    start="09:00",
    end=None,
    dur=60,
    skill="cleaning",
    where=None,
    prio=1,
    pref=None,
    required=None,
    client=None,
    day=DAY,
) -> Request:
    """Return a request whose window is start..end (end defaults to start) on day."""
    return Request(
        id=rid,
        client=client or f"C-{rid}",
        location=where or CENTRE,
        skill=skill,
        window_start=when(start, day),
        window_end=when(end or start, day),
        duration_min=dur,
        priority=prio,
        preferred_professional=pref,
        required_professional=required,
    )


def problem(pros, reqs, current=()) -> Problem:
    """Return a problem at 25 km/h."""
    return Problem(tuple(pros), tuple(reqs), 25.0, tuple(current))


def plan(prob: Problem, rows, day=DAY) -> Plan:
    """Return a plan giving (request, professional, HH:MM) rows, the rest unassigned."""
    assignments = tuple(
        Assignment(r, p, when(t, day) if len(t) == 5 else datetime.fromisoformat(t))
        for r, p, t in rows
    )
    given = {a.request for a in assignments}
    unassigned = tuple(Unassigned(r.id) for r in prob.requests if r.id not in given)
    return Plan(assignments, unassigned, compute_score(prob, assignments), {})
