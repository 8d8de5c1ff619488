"""The assignment engine: greedy start, CP-SAT over neighbourhoods, local search, checked plan.

Small problems go to CP-SAT whole. Large ones are improved neighbourhood by neighbourhood (a few
professionals with their whole week, so weekly hours are shared across days inside the model)
around the requests still uncovered, then around random professionals to cut travel.
"""

from __future__ import annotations

import os
import random
import sys
import time

import numpy as np

from assignment._data import Data
from assignment._finish import finish
from assignment._model import improve
from assignment._schedule import Schedule
from assignment._search import relocate
from assignment.greedy import CANDIDATES, complete, fill, from_current, greedy, place
from assignment.problem import Plan, Problem
from assignment.validate import check

WHOLE_MODEL_REQUESTS = 400  # up to this many requests, one CP-SAT model holds the whole problem
REPAIR_CANDIDATES = 8
REPAIR_MAX_ORPHANS = 60  # beyond this a repair is a re-plan: solve() does it better
DEBUG = bool(os.environ.get("ASSIGNMENT_DEBUG"))  # one stderr line per LNS step, for tuning


class EngineError(RuntimeError):
    """Neither the engine's plan nor the greedy fallback passed the validator (a bug)."""


def _reserve_s(data: Data, time_limit_s: float) -> float:
    # time kept back for the final insertion pass, the explanations and the validator
    return min(0.3 * time_limit_s, 0.5 + data.n_reqs / 2500)


def _checked(problem: Problem, plan: Plan, fallback) -> Plan:
    """Return plan if the validator accepts it, else the fallback plan (which must pass)."""
    if not check(problem, plan):
        return plan
    other = fallback()
    violations = check(problem, other)
    if violations:
        raise EngineError(f"fallback plan is invalid too: {violations[0]}")
    return other


def _near_pros(data: Data, p: int, size: int) -> list[int]:
    la, lo = data.p_lat[p], data.p_lon[p]
    h = (
        np.sin((data.p_lat - la) / 2) ** 2
        + np.cos(la) * np.cos(data.p_lat) * np.sin((data.p_lon - lo) / 2) ** 2
    )
    return np.argsort(h, kind="stable")[:size].tolist()


def _lns(sched: Schedule, *, deadline: float, workers: int, seed: int, k: int) -> None:
    data = sched.data
    rng = random.Random(seed)
    tries: dict[int, int] = {}
    it = 0
    while time.monotonic() < deadline - 0.2:
        it += 1
        open_ = [r for r in sched.unassigned() if tries.get(r, 0) < 10 and data.candidates(r, k)]
        budget = 0.8
        if open_ and it % 5:
            top = max(data.prio[r] for r in open_)
            # round robin among the most valuable, so each gets its wider neighbourhoods in turn
            fewest = min(tries.get(r, 0) for r in open_ if data.prio[r] == top)
            r = rng.choice([r for r in open_ if data.prio[r] == top and tries.get(r, 0) == fewest])
            tries[r] = tries.get(r, 0) + 1
            # each failed try widens the neighbourhood: the hours may have to pass along a chain
            size = min(40, 6 + 6 * tries[r])
            budget = min(3.0, 0.4 + 0.4 * tries[r])
            # the able professionals plus their neighbours, who can take over their other work
            pros = list(data.candidates(r, k)[:6])
            for p in np.argsort(data.pro_distances(r), kind="stable")[: 2 * size].tolist():
                if len(pros) >= size:
                    break
                if p not in pros:
                    pros.append(p)
        else:
            pros = _near_pros(data, rng.randrange(data.n_pros), rng.choice((6, 10)))
        pro_set = set(pros)
        free = [r for p in pros for _, r in sched.items[p]]
        free += [u for u in open_ if pro_set.intersection(data.candidates(u, k))][:40]
        budget = min(budget, deadline - time.monotonic())
        if budget > 0.1:
            t = time.monotonic()
            ok = improve(sched, free, pros, time_limit_s=budget, workers=workers, k=k, seed=it)
            if DEBUG:
                print(
                    f"lns {it} free={len(free)} pros={len(pros)} ok={ok} "
                    f"{time.monotonic() - t:.2f}s uncovered={len(open_)}",
                    file=sys.stderr,
                )


def solve(
    problem: Problem,
    *,
    time_limit_s: float = 30.0,
    workers: int = 2,
    seed: int = 0,
    candidates: int = CANDIDATES,
) -> Plan:
    """Return a valid plan for the problem within about time_limit_s seconds."""
    started = time.monotonic()
    deadline = started + time_limit_s
    data = Data(problem)
    work_end = deadline - _reserve_s(data, time_limit_s)
    sched = from_current(data)
    fill(sched, k=candidates)
    if data.n_reqs <= WHOLE_MODEL_REQUESTS:
        budget = 0.7 * (work_end - time.monotonic())
        improve(
            sched,
            list(range(data.n_reqs)),
            list(range(data.n_pros)),
            time_limit_s=budget,
            workers=workers,
            k=candidates,
            seed=seed,
        )
    else:
        # one-move ejections first: cheap, and they leave CP-SAT the harder cases
        complete(sched, deadline=time.monotonic() + 0.1 * (work_end - time.monotonic()))
        lns_end = work_end - min(8.0, 0.1 * (work_end - time.monotonic()))
        _lns(sched, deadline=lns_end, workers=workers, seed=seed, k=candidates)
    relocate(sched, deadline=work_end, k=candidates, seed=seed)
    plan = finish(sched, status="feasible", started=started, deadline=deadline)
    return _checked(problem, plan, lambda: _fallback(problem, started))


def _fallback(problem: Problem, started: float) -> Plan:
    plan = greedy(problem)
    return Plan(
        plan.assignments,
        plan.unassigned,
        plan.score,
        {
            **plan.solver,
            "status": "greedy_fallback",
            "wall_s": round(time.monotonic() - started, 3),
        },
    )


def repair(
    problem: Problem,
    *,
    time_limit_s: float = 1.0,
    max_moves: int = 5,
    workers: int = 2,
) -> Plan:
    """Return the current plan repaired: services kept where they still fit, the rest placed.

    The rest are the current plan's services that no longer fit and requests new to it. Only
    their nearby professionals on their days are re-solved, and at most max_moves services that
    still fit where they were are given to someone else.
    """
    started = time.monotonic()
    data = Data(problem)
    sched = from_current(data)
    # orphans: services the current plan had that no longer fit, and requests new to it
    orphans = sched.unassigned()
    orphans.sort(key=lambda r: -data.prio[r])
    for r in orphans:
        # anyone who can take it as the plan stands: this moves nobody else
        place(sched, r, [p for p in data.skilled_by_distance(r) if data.allowed(r, p)])
    left = [r for r in orphans if sched.pro[r] < 0 and data.candidates(r, REPAIR_CANDIDATES)]
    if left:
        left = left[:REPAIR_MAX_ORPHANS]
        able = {p for r in left for p in data.candidates(r, REPAIR_CANDIDATES)}
        days = {day for r in left for day in range(data.ws[r] // 1440, data.we[r] // 1440 + 1)}
        free = left + [r for p in able for t, r in sched.items[p] if t // 1440 in days]
        # and whoever could take over the work of the orphans' able professionals
        pros = sorted(able.union(*(data.candidates(r, 4) for r in free)))
        budget = 0.5 * time_limit_s - (time.monotonic() - started)
        if budget > 0.05:
            improve(
                sched,
                free,
                pros,
                time_limit_s=budget,
                workers=workers,
                k=REPAIR_CANDIDATES,
                max_moves=max_moves,
            )
    plan = finish(sched, status="repaired", started=started, eject=False)
    return _checked(problem, plan, lambda: _fallback(problem, started))
