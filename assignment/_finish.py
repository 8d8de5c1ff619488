"""Turn a schedule into a plan: make it maximal, explain what is left, score it."""

from __future__ import annotations

import time

from assignment._schedule import Schedule
from assignment.explain import explain_request
from assignment.greedy import complete, insert_anywhere, place
from assignment.problem import Plan, compute_score


def finish(
    sched: Schedule,
    *,
    status: str,
    started: float,
    eject: bool = True,
    bound_travel_km: float | None = None,
    deadline: float | None = None,
) -> Plan:
    """Return the plan of a schedule, inserting whatever still fits so that the plan is maximal."""
    if eject:
        complete(sched, deadline=deadline)
    else:
        insert_anywhere(sched)
    unassigned = _explain_all(sched)
    assignments = sched.assignments()
    return Plan(
        assignments=assignments,
        unassigned=tuple(unassigned),
        score=compute_score(sched.data.problem, assignments),
        solver={
            "status": status,
            "wall_s": round(time.monotonic() - started, 3),
            "bound_travel_km": bound_travel_km,
        },
    )


def _explain_all(sched: Schedule) -> list:
    data = sched.data
    while True:
        out = []
        for r in sched.unassigned():
            u = explain_request(sched, r)
            if u is None:
                break
            out.append(u)
        else:
            return out
        # one of the nearest can take r after all: take it, and explain the rest afresh
        if not place(sched, r, [p for p in data.skilled_by_distance(r) if data.allowed(r, p)]):
            raise AssertionError(f"{data.reqs[r].id}: explain and insertion disagree")
