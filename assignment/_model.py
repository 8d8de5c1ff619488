"""CP-SAT over a neighbourhood: re-place some requests among some professionals, the rest fixed.

One boolean per (request, professional, start option). Options are cut from the exact free ranges
that the fixed services leave, so everything fixed is respected to the minute; among free options,
overlaps are at-most-one cliques and too-short trips are pairwise exclusions (exact, not gridded).
Travel in the objective is each option's exact detour against the fixed neighbours: an estimate
when two free services land next to each other, which the caller corrects by scoring exactly.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections import defaultdict

from ortools.sat.python import cp_model

from assignment._data import week_of
from assignment._schedule import Schedule

COST_UNITS_PER_KM = 10
MAX_COST = 80  # detours beyond 8 km cost the same: coverage and moves matter far more
MAX_STARTS_PER_RANGE = 6


def _starts(lo: int, hi: int, grid: int, keep: int | None) -> list[int]:
    """Return the starts offered within [lo, hi]: both ends, a grid between, and `keep`."""
    out = {lo, hi}
    step = max(grid, math.ceil((hi - lo) / MAX_STARTS_PER_RANGE / grid) * grid)
    first = -(-lo // step) * step
    out.update(range(first, hi + 1, step))
    if keep is not None and lo <= keep <= hi:
        out.add(keep)
    return sorted(out)


def _local_key(sched: Schedule, free: list[int], pros: set[int]) -> tuple:
    d = sched.data
    prio = moved = pref = 0
    for r in free:
        p = sched.pro[r]
        if p >= 0:
            prio += d.prio[r]
            pref += d.pref[r] == p
        cur = d.current[r]
        moved += cur is not None and cur[0] != p
    travel = 0.0
    for p in pros:
        prev_day = prev = None
        for t, r in sched.items[p]:
            day = t // 1440
            if day != prev_day:
                travel += (d.km_pr(p, prev) if prev is not None else 0.0) + d.km_pr(p, r)
            else:
                travel += d.km_rr(prev, r)
            prev_day, prev = day, r
        if prev is not None:
            travel += d.km_pr(p, prev)
    return (prio, -moved, pref, -round(travel, 6))


def improve(
    sched: Schedule,
    free: list[int],
    pros: list[int],
    *,
    time_limit_s: float,
    workers: int = 1,
    grid: int = 15,
    k: int = 0,
    max_moves: int | None = None,
    seed: int = 0,
    work: float | None = None,
    stop=None,
) -> bool:
    """Re-place `free` among `pros` with CP-SAT; keep the result only if the exact score is better.

    max_moves bounds how many free requests that the current plan gives to some professional may
    end up with another one (a repair disturbs few clients). work bounds CP-SAT's deterministic
    time: with one worker the answer is then the same however busy the machine is, as long as
    time_limit_s does not cut in first. stop, if given, is asked a few times a second while
    CP-SAT searches; once it says so the search ends with the best solution found. Returns
    whether the schedule changed.
    """
    d = sched.data
    pro_set = set(pros)
    free = [r for r in free if sched.pro[r] < 0 or sched.pro[r] in pro_set]
    old = {r: (sched.pro[r], sched.start[r]) for r in free}
    before = _local_key(sched, free, pro_set)
    for r in free:
        if sched.pro[r] >= 0:
            sched.unassign(r)

    options: list[tuple[int, int, int, int]] = []  # request, professional, start, cost
    for r in free:
        keep_p, keep_t = old[r]
        for p in d.candidates(r, k):
            if p not in pro_set:
                continue
            for lo, hi, delta in sched.gaps(r, p):
                cost = min(MAX_COST, max(0, round(delta * COST_UNITS_PER_KM)))
                keep = keep_t if keep_p == p else None
                options.extend((r, p, t, cost) for t in _starts(lo, hi, grid, keep))
    if not options:
        _restore(sched, free, old)
        return False

    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(len(options))]
    by_req: dict[int, list[int]] = defaultdict(list)
    by_pro: dict[int, list[int]] = defaultdict(list)
    for i, (r, p, _t, _) in enumerate(options):
        by_req[r].append(i)
        by_pro[p].append(i)
    for idx in by_req.values():
        if len(idx) > 1:
            model.add_at_most_one(x[i] for i in idx)
    for p, idx in by_pro.items():
        _no_clash(model, x, options, idx, sched)
        weeks: dict[int, list[int]] = defaultdict(list)
        for i in idx:
            weeks[week_of(options[i][2])].append(i)
        for w, wi in weeks.items():
            room = d.cap[p] - sched.week_min[p].get(w, 0)
            if sum(d.dur[options[i][0]] for i in wi) > room:
                model.add(sum(d.dur[options[i][0]] * x[i] for i in wi) <= room)

    n = len(free)
    w_pref = MAX_COST * n + 1
    w_keep = w_pref * (n + 1)
    w_prio = w_keep * (n + 1)
    terms = []
    for i, (r, p, t, cost) in enumerate(options):
        cur = d.current[r]
        kept = cur is not None and cur[0] == p
        terms.append((d.prio[r] * w_prio + kept * w_keep + (d.pref[r] == p) * w_pref - cost, x[i]))
        model.add_hint(x[i], old[r] == (p, t))
    model.maximize(sum(c * v for c, v in terms))
    if max_moves is not None:
        # orphans (no longer where the current plan had them) do not count against the budget
        counted = [r for r in free if d.current[r] is not None and old[r][0] == d.current[r][0]]
        kept_vars = [x[i] for r in counted for i in by_req[r] if options[i][1] == d.current[r][0]]
        # at most one option per request is chosen, so the sum counts the requests kept
        if kept_vars and len(counted) > max_moves:
            model.add(sum(kept_vars) >= len(counted) - max_moves)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit_s)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    if work is not None:
        solver.parameters.max_deterministic_time = work
    status = solver.solve(model) if stop is None else _solve_until(solver, model, stop)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        _restore(sched, free, old)
        return False
    chosen = sorted(
        (options[i][2], options[i][0], options[i][1])
        for i in range(len(x))
        if solver.boolean_value(x[i])
    )
    for t, r, p in chosen:
        # re-check every placement exactly: a wrong answer from the solver must not leak out
        if not sched.fits_at(r, p, t):
            _restore(sched, free, old)
            return False
        sched.assign(r, p, t)
    if _local_key(sched, free, pro_set) <= before:
        _restore(sched, free, old)
        return False
    return True


def _restore(sched: Schedule, free: list[int], old: dict[int, tuple[int, int]]) -> None:
    for r in free:
        if sched.pro[r] >= 0:
            sched.unassign(r)
    for r in free:
        p, t = old[r]
        if p >= 0:
            sched.assign(r, p, t)


def _no_clash(model, x, options, idx, sched: Schedule) -> None:
    """Forbid overlapping options (cliques) and options too close for the trip (pairs)."""
    d = sched.data
    idx = sorted(idx, key=lambda i: options[i][2])
    starts = [options[i][2] for i in idx]
    ends = [options[i][2] + d.dur[options[i][0]] for i in idx]
    # every overlap contains the later start, so a clique per distinct start covers all overlaps
    active: list[int] = []
    last_clique: tuple = ()
    for j in range(len(idx)):
        active = [a for a in active if ends[a] > starts[j]] + [j]
        if j + 1 < len(idx) and starts[j + 1] == starts[j]:
            continue
        clique = tuple(active)
        if len(clique) > 1 and not set(clique) <= set(last_clique):
            model.add_at_most_one(x[idx[a]] for a in clique)
        last_clique = clique
    p = options[idx[0]][1]
    reach = max((d.km_pr(p, options[i][0]) for i in idx), default=0.0)
    max_trip = math.ceil(2 * reach * 60 / d.speed) + 1
    for a, i in enumerate(idx):
        ra = options[i][0]
        day = starts[a] // 1440
        b = bisect_left(starts, ends[a])
        while b < len(idx) and starts[b] < ends[a] + max_trip:
            rb = options[idx[b]][0]
            if rb != ra and starts[b] // 1440 == day and starts[b] < ends[a] + d.tt(ra, rb):
                model.add_bool_or([x[i].Not(), x[idx[b]].Not()])
            b += 1


def _solve_until(solver: cp_model.CpSolver, model: cp_model.CpModel, stop):
    """Solve while a thread beside CP-SAT asks stop() and ends the search when it says so."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            if stop():
                solver.stop_search()  # thread-safe: CP-SAT returns its best solution so far
                return

    watcher = threading.Thread(target=watch, name="cp-sat-stop", daemon=True)
    watcher.start()
    try:
        return solver.solve(model)
    finally:
        done.set()
        watcher.join()
