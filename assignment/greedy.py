"""Greedy baseline: cheapest insertion in priority order, valid by construction."""

from __future__ import annotations

import numpy as np

from assignment._data import Data, week_of
from assignment._schedule import Schedule

CANDIDATES = 16  # nearest able professionals the engine considers per request


def from_current(data: Data) -> Schedule:
    """Return a schedule holding every assignment of the current plan that still fits."""
    sched = Schedule(data)
    current = sorted((c[1], r, c[0]) for r, c in enumerate(data.current) if c is not None)
    for t, r, p in current:
        if sched.fits_at(r, p, t):
            sched.assign(r, p, t)
    return sched


def rank(data: Data, r: int, p: int, delta: float) -> tuple[int, int, float]:
    """Return how good giving r to p is: current professional kept, then preference, then km."""
    cur = data.current[r]
    return (int(cur is not None and cur[0] == p), int(data.pref[r] == p), -delta)


def place(sched: Schedule, r: int, pros: list[int]) -> bool:
    """Give r to the best of pros that can take it as the schedule stands; tell whether it could."""
    data = sched.data
    cur = data.current[r]
    best = None
    for p in pros:
        near = cur[1] if cur is not None and cur[0] == p else None
        ins = sched.best_insertion(r, p, near=near)
        if ins is not None:
            key = rank(data, r, p, ins[0])
            if best is None or key > best[0]:
                best = (key, p, ins[1])
    if best is None:
        return False
    sched.assign(r, best[1], best[2])
    return True


def fill(sched: Schedule, *, k: int = CANDIDATES) -> None:
    """Insert unassigned requests, highest priority and least flexible first."""
    data = sched.data
    todo = sched.unassigned()
    # requests only one or two professionals can take go first: later they would find them full
    todo.sort(
        key=lambda r: (
            len(data.candidates(r, k)) > 2,
            -data.prio[r],
            len(data.candidates(r, k)),
            data.we[r] - data.ws[r],
            data.ws[r],
        )
    )
    for r in todo:
        # only those with the hours left: where most requests cannot be placed, most have none
        able = np.array(data.candidates(r, k), dtype=np.int64)
        place(sched, r, sched.with_room(r, able).tolist())


def make_room(sched: Schedule, r: int, *, k: int = 8, commit: bool = True):
    """Cover r by moving one other request; return (other, its pro, its start, r's pro) or None."""
    data = sched.data
    weeks = {week_of(data.ws[r]), week_of(data.we[r])}
    days = set(range(data.ws[r] // 1440 - 1, data.we[r] // 1440 + 1))
    for p in data.candidates(r, k):
        full = any(sched.week_min[p].get(w, 0) + data.dur[r] > data.cap[p] for w in weeks)
        blockers = [
            x for t, x in sched.items[p] if (week_of(t) in weeks if full else t // 1440 in days)
        ]
        for x in blockers:
            px, tx = sched.unassign(x)
            ins = sched.best_insertion(r, p)
            if ins is not None:
                sched.assign(r, p, ins[1])
                if place(sched, x, data.candidates(x, k)):
                    moved = (x, sched.pro[x], sched.start[x], p)
                    if not commit:
                        sched.unassign(x)
                        sched.unassign(r)
                        sched.assign(x, px, tx)
                    return moved
                sched.unassign(r)
            sched.assign(x, px, tx)
    return None


def insert_anywhere(sched: Schedule) -> None:
    """Insert every unassigned request that any professional can take as the schedule stands.

    A request found untakeable earlier is tried again only with the professionals who have lost
    a service since (nobody else has more room than then): where most requests cannot be placed,
    making the plan maximal again after each stage is then cheap (issue #19, part 3).
    """
    data = sched.data
    for r in sorted(sched.unassigned(), key=lambda r: -data.prio[r]):
        pros = data.able_cached(r)
        since = sched.blocked.get(r)
        if since is not None:
            pros = pros[sched.freed_at[pros] > since]
        if pros.size and place(sched, r, sched.with_room(r, pros).tolist()):
            sched.blocked.pop(r, None)
        else:
            sched.blocked[r] = sched.clock
