"""Exact local search on travel: move single services where the spec's score says it is better."""

from __future__ import annotations

import random
import time

from assignment._schedule import Schedule
from assignment.greedy import rank


def relocate(
    sched: Schedule, *, deadline: float, k: int, seed: int = 0, only: list[int] | None = None
) -> int:
    """Move services one at a time to a better professional or slot; return how many moved.

    A move must not lower the score in the spec's order: it keeps the current professional and
    the preferred one where the service has them, and otherwise has to save travel. only limits
    the search to some services (those an LNS step just touched).
    """
    data = sched.data
    rng = random.Random(seed)
    moves = 0
    for _ in range(4):
        order = sched.assigned() if only is None else [r for r in only if sched.pro[r] >= 0]
        rng.shuffle(order)
        improved = 0
        for n, r in enumerate(order):
            if n % 64 == 0 and time.monotonic() > deadline:
                return moves + improved
            p, t = sched.pro[r], sched.start[r]
            here = rank(data, r, p, sched.removal_saving(r))
            sched.unassign(r)
            best = None
            for q in data.candidates(r, k):
                ins = sched.best_insertion(r, q)
                if ins is not None:
                    key = rank(data, r, q, ins[0])
                    if best is None or key > best[0]:
                        best = (key, q, ins[1])
            if best is not None and (
                best[0][:2] > here[:2] or (best[0][:2] == here[:2] and best[0][2] > here[2] + 1e-6)
            ):
                sched.assign(r, best[1], best[2])
                improved += 1
                continue
            sched.assign(r, p, t)
        moves += improved
        if not improved:
            break
    return moves
