"""Independent validator: check any plan against a problem, whatever produced it.

Deliberately shares no code with the engine beyond the plain data classes, so that a bug in the
engine's time or travel arithmetic cannot hide itself here.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from assignment.problem import Assignment, Location, Plan, Problem, Professional, Request, Score

_R = 6371.0088
TRAVEL_TOLERANCE = 0.005  # relative difference accepted on the stated travel_km
SLACK_MIN = 1  # minute of slack for floating-point rounding of travel times


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    request: str | None
    professional: str | None
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def _km(a: Location, b: Location) -> float:
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b.lon - a.lon) / 2) ** 2
    )
    return 2 * _R * math.asin(min(1.0, math.sqrt(h)))


def _travel(a: Location, b: Location, speed: float) -> int:
    return math.ceil(_km(a, b) * 60 / speed)


def _minute(t: datetime) -> int:
    return t.date().toordinal() * 1440 + t.hour * 60 + t.minute


def _week(t: datetime) -> tuple[int, int]:
    iso = t.isocalendar()
    return iso[0], iso[1]


def recompute_score(problem: Problem, plan: Plan) -> Score:
    """Recompute the score of a plan's assignments that name known requests and professionals."""
    reqs = {r.id: r for r in problem.requests}
    pros = {p.id: p for p in problem.professionals}
    kept = [a for a in plan.assignments if a.request in reqs and a.professional in pros]
    given = {a.request: a.professional for a in kept}
    by_day: dict[tuple[str, object], list[Assignment]] = defaultdict(list)
    for a in kept:
        by_day[a.professional, a.start.date()].append(a)
    travel = 0.0
    for (pid, _), services in by_day.items():
        places = [pros[pid].location]
        places += [reqs[a.request].location for a in sorted(services, key=lambda a: a.start)]
        places.append(pros[pid].location)
        travel += sum(_km(x, y) for x, y in zip(places, places[1:], strict=False))
    return Score(
        covered_priority=sum(reqs[r].priority for r in given),
        covered=len(given),
        requests=len(problem.requests),
        moved=sum(1 for a in problem.current_plan if given.get(a.request) != a.professional),
        preferences_honoured=sum(
            1 for r, p in given.items() if reqs[r].preferred_professional == p
        ),
        travel_km=round(travel, 2),
    )


def _check_one(a: Assignment, r: Request, p: Professional, out: list[Violation]) -> None:
    def bad(rule: str, message: str) -> None:
        out.append(Violation(rule, r.id, p.id, f"{r.id} on {p.id}: {message}"))

    if r.skill not in p.skills:
        bad("skill", f"{p.id} lacks skill {r.skill!r}")
    if not r.window_start <= a.start <= r.window_end:
        bad("window", "start outside the request's window")
    start = _minute(a.start)
    end = start + r.duration_min
    if not any(_minute(s.start) <= start and end <= _minute(s.end) for s in p.shifts):
        bad("shift", "service not inside a single shift")
    if r.client in p.excluded_clients:
        bad("excluded_client", f"client {r.client} is excluded by {p.id}")
    if r.required_professional is not None and r.required_professional != p.id:
        bad("required_professional", f"request requires {r.required_professional}")


def _check_professional(
    problem: Problem, p: Professional, items: list[tuple[int, Request]], out: list[Violation]
) -> None:
    items.sort(key=lambda x: x[0])
    for (s1, r1), (s2, r2) in zip(items, items[1:], strict=False):
        e1 = s1 + r1.duration_min
        if s2 < e1:
            out.append(Violation("overlap", r2.id, p.id, f"{r1.id} and {r2.id} overlap on {p.id}"))
        elif s1 // 1440 == s2 // 1440:
            need = _travel(r1.location, r2.location, problem.speed_kmh)
            if s2 - e1 < need - SLACK_MIN:
                out.append(
                    Violation(
                        "travel",
                        r2.id,
                        p.id,
                        f"{p.id} has {s2 - e1} min from {r1.id} to {r2.id}, travel needs {need}",
                    )
                )
    weeks: dict[tuple[int, int], int] = defaultdict(int)
    for s, r in items:
        weeks[_week(datetime.fromordinal(s // 1440))] += r.duration_min
    for week, minutes in sorted(weeks.items()):
        if minutes > p.max_minutes_per_week:
            out.append(
                Violation(
                    "weekly_hours",
                    None,
                    p.id,
                    f"{p.id} works {minutes} min in week {week[0]}-W{week[1]:02d}, "
                    f"cap {p.max_minutes_per_week}",
                )
            )


class _Free:
    """What the plan leaves free, precomputed once for the maximality check.

    Most unassigned requests are ruled out by arrays (skill, excluded client, required
    professional, a shift holding the window, hours left that week); only the few professionals
    left are searched to the minute, with travel, by _insertable.
    """

    def __init__(self, problem: Problem, per_pro, weeks) -> None:
        self.pros = problem.professionals
        self.index = {p.id: i for i, p in enumerate(self.pros)}
        self.skills = {s for p in self.pros for s in p.skills}
        self.has_skill = {
            s: np.array([s in p.skills for p in self.pros], dtype=bool) for s in self.skills
        }
        self.excluding: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(self.pros):
            for c in p.excluded_clients:
                self.excluding[c].append(i)
        rows = [
            (i, _minute(s.start), _minute(s.end))
            for i, p in enumerate(self.pros)
            for s in p.shifts
        ]
        self.sh_pro = np.array([x[0] for x in rows], dtype=np.int64)
        self.sh_start = np.array([x[1] for x in rows], dtype=np.int64)
        self.sh_end = np.array([x[2] for x in rows], dtype=np.int64)
        # each professional's services, as (start, end, location)
        self.items: list[list] = [[] for _ in self.pros]
        for pid, items in per_pro.items():
            self.items[self.index[pid]] = [
                (s, s + r.duration_min, r.location) for s, r in items
            ]
        self.weeks = [weeks.get(p.id, {}) for p in self.pros]
        # minutes left in the week of each shift's start and end (the larger): a shift where r's
        # duration exceeds both can never take it (a shift of a week or more: never ruled out)
        room = []
        for i, a, b in rows:
            cap, used = self.pros[i].max_minutes_per_week, self.weeks[i]
            weeks_of = {_week(datetime.fromordinal(m // 1440)) for m in (a, b)}
            full = min(used.get(w, 0) for w in weeks_of) if b - a < 7 * 1440 else 0
            room.append(cap - full)
        self.sh_room = np.array(room, dtype=np.int64)

    def taker(self, problem: Problem, r: Request) -> Professional | None:
        """Return a professional who could take r as the plan stands, or None."""
        mask = self.has_skill.get(r.skill)
        if mask is None:
            return None
        d = r.duration_min
        ws, we = _minute(r.window_start), _minute(r.window_end)
        lo = np.maximum(self.sh_start, ws)
        hi = np.minimum(self.sh_end - d, we)
        fits = (lo <= hi) & (self.sh_room >= d) & mask[self.sh_pro]
        if not fits.any():
            return None
        banned = set(self.excluding.get(r.client, ()))
        required = r.required_professional
        for k in np.flatnonzero(fits).tolist():
            i = int(self.sh_pro[k])
            if i in banned or (required is not None and self.pros[i].id != required):
                continue
            if _insertable(problem, r, self.pros[i], int(lo[k]), int(hi[k]),
                           self.items[i], self.weeks[i]):
                return self.pros[i]
        return None


def _insertable(problem: Problem, r: Request, p: Professional, lo: int, hi: int, items,
                weeks) -> bool:
    """Tell whether p could start r somewhere in [lo, hi] (one shift's part of r's window) as
    the plan stands (travel plus slack, to favour the plan)."""
    d = r.duration_min
    day = lo // 1440
    while lo <= hi:
        # each calendar day separately: travel only binds between same-day services
        seg_hi = min(hi, day * 1440 + 1439)
        week = _week(datetime.fromordinal(day))
        if weeks.get(week, 0) + d <= p.max_minutes_per_week:
            blocked = []
            for s, e, where in items:
                if s // 1440 == day:
                    back = _travel(r.location, where, problem.speed_kmh) + SLACK_MIN
                    out = _travel(where, r.location, problem.speed_kmh) + SLACK_MIN
                    blocked.append((s - d - back + 1, e + out - 1))
                else:
                    blocked.append((s - d + 1, e - 1))
            t = lo
            for b0, b1 in sorted(blocked):
                if b0 > t:
                    break
                t = max(t, b1 + 1)
            if t <= seg_hi:
                return True
        lo = seg_hi + 1
        day += 1
    return False


def check(problem: Problem, plan: Plan) -> list[Violation]:
    """Return every way in which a plan breaks the hard rules, the score or maximality."""
    out: list[Violation] = []
    reqs = {r.id: r for r in problem.requests}
    pros = {p.id: p for p in problem.professionals}
    seen: dict[str, int] = defaultdict(int)
    per_pro: dict[str, list[tuple[int, Request]]] = defaultdict(list)
    for a in plan.assignments:
        seen[a.request] += 1
        if a.request not in reqs:
            out.append(Violation("unknown_request", a.request, None, f"unknown {a.request}"))
            continue
        if a.professional not in pros:
            out.append(
                Violation(
                    "unknown_professional", a.request, a.professional, f"unknown {a.professional}"
                )
            )
            continue
        _check_one(a, reqs[a.request], pros[a.professional], out)
        per_pro[a.professional].append((_minute(a.start), reqs[a.request]))
    for u in plan.unassigned:
        seen[u.request] += 1
        if u.request not in reqs:
            out.append(Violation("unknown_request", u.request, None, f"unknown {u.request}"))
    for rid in reqs:
        if seen[rid] != 1:
            out.append(
                Violation("exactly_once", rid, None, f"{rid} appears {seen[rid]} times, not once")
            )
    for rid, n in seen.items():
        if rid not in reqs and n > 1:
            out.append(Violation("exactly_once", rid, None, f"{rid} appears {n} times"))
    for pid, items in per_pro.items():
        _check_professional(problem, pros[pid], items, out)

    actual = recompute_score(problem, plan)
    stated = plan.score
    for name in ("covered_priority", "covered", "requests", "moved", "preferences_honoured"):
        if getattr(stated, name) != getattr(actual, name):
            out.append(
                Violation(
                    "score",
                    None,
                    None,
                    f"score.{name} is {getattr(stated, name)}, recomputed {getattr(actual, name)}",
                )
            )
    if abs(stated.travel_km - actual.travel_km) > TRAVEL_TOLERANCE * actual.travel_km + 0.01:
        out.append(
            Violation(
                "score",
                None,
                None,
                f"score.travel_km is {stated.travel_km}, recomputed {actual.travel_km}",
            )
        )

    assigned = {a.request for a in plan.assignments}
    weeks: dict[str, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    for pid, items in per_pro.items():
        for s, r in items:
            weeks[pid][_week(datetime.fromordinal(s // 1440))] += r.duration_min
    free = None
    for u in plan.unassigned:
        r = reqs.get(u.request)
        if r is None or u.request in assigned:
            continue
        free = free or _Free(problem, per_pro, weeks)
        p = free.taker(problem, r)
        if p is not None:
            out.append(
                Violation(
                    "not_maximal",
                    r.id,
                    p.id,
                    f"{r.id} is unassigned but {p.id} could take it as the plan stands",
                )
            )
    return out
