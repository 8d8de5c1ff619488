"""A plain day-by-day CP-SAT model: the yardstick bench/assignment.py sets the engine against.

Bench-only, deliberately independent of the engine (it reads the exchange format's data classes
and nothing else). Each day is one model over the requests whose window opens that day and the
professionals with a shift that day: a route (circuit from home and back) per professional, start
times with travel to the minute, single shifts, each request at most once. Coverage first
(priority), then preferences, then travel. Weekly hours are carried from day to day: a day may
use what is left of each professional's week once the earlier days are planned. (Keeping back a
share for the days to come, in proportion to their shift minutes, was tried: it covered fewer
requests and travelled further.) The time limit is shared out between the days in proportion to
their requests. Requests left out are listed as unassigned without reasons: the plan is not
meant to be maximal, only a yardstick for coverage and travel.
"""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from datetime import datetime, timedelta

from ortools.sat.python import cp_model

from assignment.problem import (
    Assignment,
    Plan,
    Problem,
    Unassigned,
    compute_score,
    haversine_km,
)

METRES = 1000


def _minute(t: datetime) -> int:
    return t.toordinal() * 1440 + t.hour * 60 + t.minute


def _at(m: int) -> datetime:
    return datetime.fromordinal(m // 1440) + timedelta(minutes=m % 1440)


def _week(m: int) -> tuple[int, int]:
    iso = datetime.fromordinal(m // 1440).isocalendar()
    return iso[0], iso[1]


def solve_daily(problem: Problem, *, time_limit_s: float, workers: int | None = None) -> Plan:
    """Return the plan of one CP-SAT model per day, all within time_limit_s together."""
    started = time.monotonic()
    workers = workers or os.cpu_count() or 1
    pros, reqs = problem.professionals, problem.requests
    speed = problem.speed_kmh
    shifts = [[(_minute(s.start), _minute(s.end)) for s in p.shifts] for p in pros]
    ws = [_minute(r.window_start) for r in reqs]
    we = [_minute(r.window_end) for r in reqs]
    by_day: dict[int, list[int]] = defaultdict(list)
    for i in range(len(reqs)):
        by_day[ws[i] // 1440].append(i)
    used: dict[tuple[int, tuple[int, int]], int] = defaultdict(int)
    days = sorted(by_day)
    out: list[Assignment] = []
    for n, day in enumerate(days):
        share = (time_limit_s - (time.monotonic() - started)) * len(by_day[day]) / max(
            1, sum(len(by_day[x]) for x in days[n:])
        )
        week = _week(day * 1440)
        room = {p: pro.max_minutes_per_week - used[p, week] for p, pro in enumerate(pros)}
        got = _day(problem, day, by_day[day], shifts, ws, we, room, speed, share, workers)
        for i, p, t in got:
            used[p, week] += reqs[i].duration_min
            out.append(Assignment(reqs[i].id, pros[p].id, _at(t)))
    order = {r.id: k for k, r in enumerate(reqs)}
    assignments = tuple(sorted(out, key=lambda a: order[a.request]))
    given = {a.request for a in assignments}
    return Plan(
        assignments=assignments,
        unassigned=tuple(Unassigned(r.id, (), None) for r in reqs if r.id not in given),
        score=compute_score(problem, assignments),
        solver={"status": "daily_cpsat", "wall_s": round(time.monotonic() - started, 3),
                "bound_travel_km": None},
    )


def _day(problem, day, todays, shifts, ws, we, room, speed, time_limit_s, workers):
    pros, reqs = problem.professionals, problem.requests
    lo_day, hi_day = day * 1440, day * 1440 + 1439

    def km(a, b):
        return haversine_km(a, b)

    def trip(a, b):
        return math.ceil(km(a, b) * 60 / speed)

    model = cp_model.CpModel()
    start = {i: model.new_int_var(ws[i], we[i], f"s{i}") for i in todays}
    visits: dict[int, list] = defaultdict(list)
    terms = []
    n = len(todays)
    w_pref = 10**4 * METRES
    w_prio = w_pref * (n + 1)
    for p, pro in enumerate(pros):
        mine = []
        for i in todays:
            r = reqs[i]
            if r.skill not in pro.skills or r.client in pro.excluded_clients:
                continue
            if r.required_professional not in (None, pro.id) or r.duration_min > room[p]:
                continue
            ranges = [
                (max(ws[i], s0, lo_day), min(we[i], s1 - r.duration_min, hi_day))
                for s0, s1 in shifts[p]
            ]
            ranges = [(a, b) for a, b in ranges if a <= b]
            if ranges:
                mine.append((i, ranges))
        if not mine:
            continue
        idx = {i: k + 1 for k, (i, _) in enumerate(mine)}
        arcs = [(0, 0, model.new_bool_var(""))]
        lits = []
        for i, ranges in mine:
            r = reqs[i]
            v = model.new_bool_var("")
            visits[i].append((p, v))
            lits.append((i, v))
            arcs.append((idx[i], idx[i], v.Not()))
            picks = [v] if len(ranges) == 1 else [model.new_bool_var("") for _ in ranges]
            if len(ranges) > 1:
                model.add(sum(picks) == v)
            for b, (a, z) in zip(picks, ranges, strict=True):
                model.add(start[i] >= a).only_enforce_if(b)
                model.add(start[i] <= z).only_enforce_if(b)
            home = round(km(pro.location, r.location) * METRES)
            for a, b in ((0, idx[i]), (idx[i], 0)):
                lit = model.new_bool_var("")
                arcs.append((a, b, lit))
                terms.append((home, lit))
            terms.append((-(r.priority * w_prio + (r.preferred_professional == pro.id) * w_pref),
                          v))
        for a, ra in mine:
            for b, rb in mine:
                if a == b:
                    continue
                t = trip(reqs[a].location, reqs[b].location)
                if min(x for x, _ in ra) + reqs[a].duration_min + t > max(z for _, z in rb):
                    continue
                lit = model.new_bool_var("")
                arcs.append((idx[a], idx[b], lit))
                terms.append((round(km(reqs[a].location, reqs[b].location) * METRES), lit))
                model.add(start[b] >= start[a] + reqs[a].duration_min + t).only_enforce_if(lit)
        model.add_circuit(arcs)
        model.add(sum(reqs[i].duration_min * v for i, v in lits) <= room[p])
    for i in todays:
        if visits[i]:
            model.add_at_most_one(v for _, v in visits[i])
    model.minimize(sum(c * v for c, v in terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, time_limit_s)
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return []
    return [
        (i, p, solver.value(start[i]))
        for i in todays
        for p, v in visits[i]
        if solver.boolean_value(v)
    ]
