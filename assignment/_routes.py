"""Exact routes: re-solve whole days of a few neighbouring professionals with CP-SAT circuits.

The neighbourhood steps of _lns price each service by its detour against fixed neighbours, which
is only an estimate when two freed services end up next to each other; on small instances, where
every professional's day is a handful of services, that leaves routes a dispatcher would redraw.
Here a step frees every service of a few professionals living near a random service, over the
whole horizon (hours then move between days as well as people) or, for twice as many of them,
on that service's day, and re-solves those days as routes: one circuit per professional and day
(home, services, home), start times with travel to the minute, single shifts, the weekly hours
the fixed services leave. The travel in the objective is then the plan's own travel for those
days, exact up to rounding to a metre.

A step never loses a covered service, a kept professional or a preference (they weigh more than
any travel), and is kept only if the exact score is better, so the search can run until the time
limit, or until the plan's travel is within a proven gap of the lower bound.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections import defaultdict

import numpy as np
from ortools.sat.python import cp_model

from assignment._data import Data, week_of
from assignment._model import _local_key, _restore
from assignment._schedule import Schedule

# professionals per step (twice as many for a one-day step): grows while steps end proven
# optimal, else shrinks. Measured on 40 x 320 planted weeks: steps of 4 to 8 professionals cut
# the most travel per second of CPU (larger ones prove too slowly, smaller ones see too little)
PROS = (4, 6, 8)
STEP_WORK = 0.4  # CP-SAT deterministic time per step
STEP_WALL_S = 1.5
EXTRA_PER_PRO = 2  # uncovered requests offered to a step, per professional in it
PREF_EVERY = 4  # every so many steps, one is built around a preference not honoured...
PREF_EVERY_MAX = 64  # ... or up to this many, while those steps change nothing
IDLE_STEPS = 200  # steps in a row that could not improve anything: the routes are settled
METRES = 1000
DEBUG = bool(os.environ.get("ASSIGNMENT_DEBUG"))  # one stderr line per step, for tuning


def _ranges(data: Data, r: int, q: int, day: int) -> list[tuple[int, int]]:
    """Return the start ranges, one per shift of q, where q could hold r on day."""
    lo_day, hi_day = day * 1440, day * 1440 + 1439
    out = []
    for s0, s1 in data.shifts[q]:
        lo = max(data.ws[r], s0, lo_day)
        hi = min(data.we[r], s1 - data.dur[r], hi_day)
        if lo <= hi:
            out.append((lo, hi))
    return out


def route_step(
    sched: Schedule, pros: list[int], days: list[int], *, time_limit_s: float, seed: int = 0,
    work: float = STEP_WORK,
) -> tuple[bool, bool]:
    """Re-solve pros' services starting on days as exact routes; return (changed, proven).

    proven tells that CP-SAT proved its answer optimal for this neighbourhood.
    """
    d = sched.data
    day_set = set(days)
    free = [r for q in pros for t, r in sched.items[q] if t // 1440 in day_set]
    pro_set = set(pros)
    # requests no one has, which one of these could take one of those days: they count most
    # (a few of them, highest priority first: where demand outruns the professionals there are
    # thousands)
    extra = []
    for r in sched.unassigned():
        if any(d.ws[r] <= day * 1440 + 1439 and d.we[r] >= day * 1440 for day in days):
            if pro_set.intersection(d.candidates(r, 16)):
                extra.append(r)
    extra.sort(key=lambda r: (-d.prio[r], r))
    free += extra[: EXTRA_PER_PRO * len(pros)]
    if not free:
        return False, True
    old = {r: (sched.pro[r], sched.start[r]) for r in free}
    before = _local_key(sched, free, pro_set)

    model = cp_model.CpModel()
    start = {r: model.new_int_var(d.ws[r], d.we[r], f"s{r}") for r in free}
    visits: dict[int, list] = defaultdict(list)
    terms = []  # (coefficient, literal) of the objective, minimised
    hints = []
    n = len(free)
    w_pref = 10**4 * METRES  # a preference outweighs any travel of a few days (10,000 km)
    w_keep = w_pref * (n + 1)
    w_prio = w_keep * (n + 1)
    for q in pros:
        # minutes q has left each week once the freed services are out
        room: dict[int, int] = {}
        for day in days:
            w = week_of(day * 1440)
            room[w] = d.cap[q] - sched.week_min[q].get(w, 0) + sum(
                d.dur[r] for r in free if old[r][0] == q and week_of(old[r][1]) == w
            )
        week_use: dict[int, list] = defaultdict(list)
        for day in days:
            w = week_of(day * 1440)
            mine = []
            for r in free:
                if d.dur[r] > room[w] or not d.allowed(r, q):
                    continue
                ranges = _ranges(d, r, q, day)
                if ranges:
                    mine.append((r, ranges))
            if mine:
                _circuit(model, d, q, day, mine, start, old, visits, terms, hints, week_use[w],
                         w_pref, w_keep)
        for w, used in week_use.items():
            if sum(d.dur[r] for r, _ in used) > room[w]:
                model.add(sum(d.dur[r] * v for r, v in used) <= room[w])
    for r in free:
        lits = [v for _, v in visits[r]]
        if old[r][0] >= 0:
            # a covered service stays covered (by one of these professionals)
            if not lits:
                return False, True
            model.add_exactly_one(lits)
            model.add_hint(start[r], old[r][1])
        elif lits:
            model.add_at_most_one(lits)
            for v in lits:
                terms.append((-d.prio[r] * w_prio, v))
    for lit, val in hints:
        model.add_hint(lit, bool(val))
    model.minimize(sum(c * lit for c, lit in terms))

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit_s)
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = work
    # presolve costs more than it saves on models this size, solved from a full hint: without
    # it twice as many steps run per second (measured: 4 seeds of 5 then under planted travel)
    solver.parameters.cp_model_presolve = False
    status = solver.solve(model)
    if DEBUG:
        print(f"routes pros={len(pros)} days={len(days)} free={len(free)} "
              f"{solver.status_name(status)} {solver.wall_time:.2f}s", file=sys.stderr)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False, False
    proven = status == cp_model.OPTIMAL
    chosen = []
    for r in free:
        for q, v in visits[r]:
            if solver.boolean_value(v):
                chosen.append((solver.value(start[r]), r, q))
    if all(old[r] == (q, t) for t, r, q in chosen) and len(chosen) == sum(
        old[r][0] >= 0 for r in free
    ):
        return False, proven
    for r in free:
        if sched.pro[r] >= 0:
            sched.unassign(r)
    for t, r, q in sorted(chosen):
        # re-check every placement exactly: a wrong answer must not leak into the plan
        if not sched.fits_at(r, q, t):
            _restore(sched, free, old)
            return False, proven
        sched.assign(r, q, t)
    if _local_key(sched, free, pro_set) <= before:
        _restore(sched, free, old)
        return False, proven
    return True, proven


def _circuit(model, d: Data, q: int, day: int, mine, start, old, visits, terms, hints, used,
             w_pref: int, w_keep: int) -> None:
    """Add q's route on day through the requests of mine (each with its start ranges)."""
    idx = {r: i + 1 for i, (r, _) in enumerate(mine)}
    seq = sorted((r for r, _ in mine if old[r][0] == q and old[r][1] // 1440 == day),
                 key=lambda r: old[r][1])
    was = set(zip([0, *seq], [*seq, 0], strict=True)) if seq else set()
    empty = model.new_bool_var("")
    arcs = [(0, 0, empty)]
    hints.append((empty, not seq))
    for r, ranges in mine:
        v = model.new_bool_var("")
        here = old[r][0] == q and old[r][1] // 1440 == day
        visits[r].append((q, v))
        used.append((r, v))
        hints.append((v, here))
        arcs.append((idx[r], idx[r], v.Not()))
        if len(ranges) == 1:
            picks = [v]
        else:
            picks = [model.new_bool_var("") for _ in ranges]
            model.add(sum(picks) == v)
        for b, (lo, hi) in zip(picks, ranges, strict=True):
            model.add(start[r] >= lo).only_enforce_if(b)
            model.add(start[r] <= hi).only_enforce_if(b)
            if b is not v:
                hints.append((b, here and lo <= old[r][1] <= hi))
        home = round(d.km_pr(q, r) * METRES)
        for a, b in ((0, idx[r]), (idx[r], 0)):
            lit = model.new_bool_var("")
            arcs.append((a, b, lit))
            terms.append((home, lit))
            hints.append((lit, ((0, r) if a == 0 else (r, 0)) in was))
        pref = d.pref[r] == q
        cur = d.current[r]
        kept = cur is not None and cur[0] == q
        if pref or kept:
            terms.append((-(pref * w_pref + kept * w_keep), v))
    earliest = {r: min(lo for lo, _ in rg) + d.dur[r] for r, rg in mine}
    latest = {r: max(hi for _, hi in rg) for r, rg in mine}
    for a, _ in mine:
        for b, _ in mine:
            if a == b:
                continue
            trip = d.tt(a, b)
            if earliest[a] + trip > latest[b]:
                continue
            lit = model.new_bool_var("")
            arcs.append((idx[a], idx[b], lit))
            terms.append((round(d.km_rr(a, b) * METRES), lit))
            model.add(start[b] >= start[a] + d.dur[a] + trip).only_enforce_if(lit)
            hints.append((lit, (a, b) in was))
    model.add_circuit(arcs)


def _near(data: Data, r: int, p: int, size: int, rng: random.Random, also: int = -1) -> list[int]:
    """Return p (and also, if given) and others drawn from those living nearest to r, size in
    all (a few more are drawn from than needed, so that neighbourhoods around the same place
    differ from step to step)."""
    first = [p] if also in (-1, p) else [p, also]
    dist = data.pro_distances(r)
    pool = [q for q in np.argsort(dist, kind="stable")[: size + size // 2 + 1].tolist()
            if q not in first]
    return [*first, *sorted(rng.sample(pool, max(0, min(size - len(first), len(pool)))))]


def improve_routes(
    sched: Schedule,
    *,
    deadline: float,
    seed: int = 0,
    steps: int | None = None,
    bound_km: float | None = None,
    gap: float = 0.001,
    tick=None,
) -> int:
    """Redraw a few professionals' days as exact routes, step after step; return the steps.

    Stops at the deadline, after steps steps if given, once the travel is within gap of
    bound_km (a proven lower bound), when the steps can no longer improve the plan (one step
    held everyone's whole week and was proven optimal, or IDLE_STEPS steps in a row were proven
    optimal or already known to be), or when tick() says so.
    """
    data = sched.data
    rng = random.Random(seed)
    all_days = sorted({s0 // 1440 for shifts in data.shifts for s0, _ in shifts})
    size = 0  # index into PROS: grows while steps end proven optimal, else shrinks
    n = 0
    solved: dict[tuple, tuple] = {}
    idle = 0
    pref_every = PREF_EVERY
    pref_next = PREF_EVERY - 1
    while (steps is None or n < steps) and idle < IDLE_STEPS:
        left = deadline - time.monotonic()
        if left < 0.1:
            break
        if bound_km is not None and sched.travel_km() <= bound_km * (1 + gap):
            break
        busy = sched.assigned()
        if not busy:
            break
        r0 = busy[rng.randrange(len(busy))]
        p0 = sched.pro[r0]
        # a preference not honoured weighs more than any travel: now and then a step is built
        # around one, its preferred professional in it (less and less often while such steps
        # change nothing: most of those left cannot be honoured)
        for_pref = n >= pref_next
        if for_pref:
            wanting = [r for r in busy if 0 <= data.pref[r] != sched.pro[r]
                       and data.pref[r] in data.candidates(r, 16)]
            if wanting:
                r0 = wanting[rng.randrange(len(wanting))]
                p0 = data.pref[r0]
            else:
                for_pref = False
        # a few neighbours over the whole week (hours move between days and people), or twice
        # as many over one day
        if n % 2 == 0 and len(all_days) > 1:
            pros, days = _near(data, r0, p0, PROS[size], rng, sched.pro[r0]), all_days
        else:
            pros = _near(data, r0, p0, 2 * PROS[size], rng, sched.pro[r0])
            days = [sched.start[r0] // 1440]
        n += 1
        # a neighbourhood solved to optimality stays so while its professionals keep their work
        key = (tuple(pros), tuple(days))
        state = tuple(tuple(sched.items[q]) for q in pros)
        if solved.get(key) == state:
            idle += 1
            continue
        changed, proven = route_step(
            sched, pros, days, time_limit_s=min(STEP_WALL_S, left - 0.05), seed=n
        )
        idle = idle + 1 if proven and not changed else 0
        if for_pref:
            pref_every = PREF_EVERY if changed else min(PREF_EVERY_MAX, 2 * pref_every)
            pref_next = n + pref_every
        if proven:
            if len(pros) == data.n_pros and len(days) == len(all_days):
                break  # the whole problem, solved to optimality for the services it covers
            solved[key] = tuple(tuple(sched.items[q]) for q in pros)
        size = min(len(PROS) - 1, size + 1) if proven else max(0, size - 1)
        if tick is not None and tick():
            break
    return n
