"""Large neighbourhood search: re-solve a few professionals' work with CP-SAT, again and again.

Each step is bounded by CP-SAT's deterministic time and runs on one worker, so a step gives the
same answer on a busy machine as on a quiet one; the number of steps is a budget too, and the
clock only cuts the search short when the machine is too slow to finish it.
"""

from __future__ import annotations

import os
import random
import sys
import time

import numpy as np

from assignment._chains import clear_the_way, cover
from assignment._data import Data, week_of
from assignment._model import improve
from assignment._schedule import Schedule
from assignment._search import relocate

NEIGHBOURHOOD_PROS = 16  # professionals near a random one whose work a travel step reshuffles
FREED_SHARE = 0.3  # of their services; the rest stay put, so detours are priced exactly
ROUNDS = 20  # travel steps = ROUNDS * professionals / NEIGHBOURHOOD_PROS (each in ~20 of them)
STEP_WORK = 0.5  # CP-SAT deterministic time per step (about a second of one core at most)
STEP_WALL_S = 3.0
CLEAR_TRIES = 4  # able professionals whose day is cleared for a request chains could not cover
COVER_SIZES = (8, 16, 32)  # professionals around a request chains could not cover, per try
DEBUG = bool(os.environ.get("ASSIGNMENT_DEBUG"))  # one stderr line per step, for tuning


def near_pros(data: Data, p: int, size: int) -> list[int]:
    """Return the size professionals living nearest to p's home, p first."""
    la, lo = data.p_lat[p], data.p_lon[p]
    h = (
        np.sin((data.p_lat - la) / 2) ** 2
        + np.cos(la) * np.cos(data.p_lat) * np.sin((data.p_lon - lo) / 2) ** 2
    )
    return np.argsort(h, kind="stable")[:size].tolist()


def _step(
    sched: Schedule,
    free: list[int],
    pros: list[int],
    *,
    deadline: float,
    k: int,
    seed: int,
) -> bool:
    wall = min(STEP_WALL_S, deadline - time.monotonic())
    if wall < 0.05 or not free:
        return False
    t = time.monotonic()
    ok = improve(
        sched,
        free,
        pros,
        time_limit_s=wall,
        workers=1,
        k=k,
        seed=seed,
        work=STEP_WORK,
    )
    if DEBUG:
        print(
            f"lns free={len(free)} pros={len(pros)} ok={ok} {time.monotonic() - t:.2f}s "
            f"uncovered={len(sched.unassigned())}",
            file=sys.stderr,
        )
    return ok


def _sinks(sched: Schedule, services: list[int], k: int) -> list[int]:
    """Return professionals who could take one of these services as they stand, two each."""
    out: list[int] = []
    for x in services:
        found = 0
        for q in sched.data.candidates(x, k):
            if found == 2:
                break
            if q != sched.pro[x] and sched.best_insertion(x, q) is not None:
                found += 1
                if q not in out:
                    out.append(q)
    return out


def cover_leftovers(sched: Schedule, *, deadline: float, k: int, tick=None) -> None:
    """Cover each request that chains could not, by clearing a day or re-solving whole weeks.

    Chains move one service at a time; some requests need two moved at once, or a pinned service
    re-timed. Clearing an able professional's day finds most of those; CP-SAT finds the others
    among the request's able professionals with those who have room for one of their services,
    then with their nearest neighbours. tick, if given, is called after each request and stops
    the search when it returns True.
    """
    data = sched.data
    for r in sorted(sched.unassigned(), key=lambda r: (-data.prio[r], r)):
        if time.monotonic() > deadline:
            return
        if sched.pro[r] >= 0 or not data.candidates(r, k):
            continue
        weeks = {week_of(data.ws[r]), week_of(data.we[r])}
        able = list(data.candidates(r, k)[:6])
        if any(clear_the_way(sched, r, q, k=k) for q in able[:CLEAR_TRIES]):
            continue
        for n, size in enumerate(COVER_SIZES):
            if time.monotonic() > deadline:
                return
            if n == 0:
                mine = [x for p in able for t, x in sched.items[p] if week_of(t) in weeks]
                pros = able + [q for q in _sinks(sched, mine, 2 * k) if q not in able]
                free = [r] + mine
            else:
                pros = list(able)
                for p in np.argsort(data.pro_distances(r), kind="stable")[: 2 * size].tolist():
                    if len(pros) >= size:
                        break
                    if p not in pros:
                        pros.append(p)
                free = [r] + [x for p in pros for t, x in sched.items[p] if week_of(t) in weeks]
            _step(sched, free, pros, deadline=deadline, k=2 * k, seed=n)
            if sched.pro[r] >= 0:
                break
        # what this step moved may have opened a chain for another request
        cover(sched, k=k, deadline=deadline)
        if tick is not None and tick():
            return


def improve_travel(
    sched: Schedule, *, deadline: float, k: int, seed: int = 0, steps: int | None = None,
    tick=None,
) -> int:
    """Cut travel (and take preferences) step by step; return the steps taken.

    A step frees a random share of the services of professionals living near a random one and
    re-places them with CP-SAT, then moves single services where that helps; a step is kept only
    if the spec's score is better, so coverage never drops. tick, if given, is called after
    each step and stops the search when it returns True.
    """
    data = sched.data
    rng = random.Random(seed)
    if steps is None:
        steps = -(-ROUNDS * data.n_pros // NEIGHBOURHOOD_PROS)
    for n in range(steps):
        if time.monotonic() > deadline - 0.05:
            return n
        pros = near_pros(data, rng.randrange(data.n_pros), NEIGHBOURHOOD_PROS)
        free = [r for p in pros for _, r in sched.items[p] if rng.random() < FREED_SHARE]
        pro_set = set(pros)
        free += [u for u in sched.unassigned() if pro_set.intersection(data.candidates(u, k))]
        _step(sched, free, pros, deadline=deadline, k=k, seed=n)
        relocate(sched, deadline=deadline, k=k, only=[r for p in pros for _, r in sched.items[p]])
        if tick is not None and tick():
            return n + 1
    return steps
