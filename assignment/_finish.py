"""Turn a schedule into a plan: make it maximal, explain what is left, score it."""

from __future__ import annotations

import time

from assignment._bound import travel_lower_bound
from assignment._chains import cover
from assignment._schedule import Schedule
from assignment.explain import explain_request
from assignment.greedy import insert_anywhere, place
from assignment.problem import Plan, Unassigned, compute_score

EXPLAIN_S = 0.02  # about what explaining one uncovered request takes (reasons and a suggestion)


def finish(
    sched: Schedule,
    *,
    status: str,
    started: float,
    eject: bool = True,
    bound: bool = False,
    deadline: float | None = None,
) -> Plan:
    """Return the plan of a schedule, inserting whatever still fits so that the plan is maximal.

    eject also covers what ejection chains can (a re-plan; a repair keeps its move budget);
    bound states a proven lower bound on the travel of plans covering the same services.
    """
    insert_anywhere(sched)
    if eject:
        # the explanations of what stays uncovered must still fit before the deadline
        left = len(sched.unassigned())
        cover(sched, deadline=None if deadline is None else deadline - EXPLAIN_S * left - 0.2)
    # what is left of the time goes to suggestions; past the deadline only reasons are given
    unassigned = _explain_all(sched, deadline=None if deadline is None else deadline - 0.2)
    assignments = sched.assignments()
    bound_km = travel_lower_bound(sched.data, sched.assigned()) if bound else None
    return Plan(
        assignments=assignments,
        unassigned=tuple(unassigned),
        score=compute_score(sched.data.problem, assignments),
        solver={
            "status": status,
            "wall_s": round(time.monotonic() - started, 3),
            "bound_travel_km": bound_km,
        },
    )


def _explain_all(sched: Schedule, deadline: float | None = None) -> list:
    data = sched.data
    while True:
        out = []
        for r in sched.unassigned():
            late = deadline is not None and time.monotonic() > deadline
            u = _reasons_only(sched, r) if late else explain_request(sched, r)
            if u is None:
                break
            out.append(u)
        else:
            return out
        # one of the nearest can take r after all: take it, and explain the rest afresh
        if not place(sched, r, [p for p in data.skilled_by_distance(r) if data.allowed(r, p)]):
            raise AssertionError(f"{data.reqs[r].id}: explain and insertion disagree")


def _reasons_only(sched: Schedule, r: int) -> Unassigned | None:
    """Explain r as explain_request does, without looking for a suggestion (the costly part)."""
    return explain_request(sched, r, suggest=False)
