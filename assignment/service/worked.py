"""Minutes already worked in a week the horizon only partly covers, told to the engine.

A weekly cap counts every service minute of the ISO week (spec rule 5), but the problem only holds
the horizon's services. What a professional worked earlier that week, and the bookings already
under way that the planner no longer moves, enter the problem as one block per professional and
week: a request pinned to them, at home, at the week's first minute, in a shift of its own. The
exchange format stays as it is and any validator counts the minutes; the blocks are taken out of
the plan again before anyone sees it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from assignment.problem import Assignment, Plan, Problem, Request, Shift, compute_score
from assignment.problem import Professional as ProPlain
from backoffice.models import RequestStatus, ServiceRequest

WORKED = (
    RequestStatus.ASSIGNED,
    RequestStatus.CONFIRMED,
    RequestStatus.IN_PROGRESS,
    RequestStatus.DONE,
)  # a no-show is left out: nobody can say who spent the time
PREFIX = "W"  # block ids are W<professional>.<monday>; the engine's own are R, P and C


def monday(day: date) -> date:
    """Return the Monday of a day's ISO week."""
    return day - timedelta(days=day.weekday())


def minutes_worked(
    session: Session, *, start: date, end: date, now: datetime
) -> dict[tuple[int, date], int]:
    """Return service minutes per professional and week that the problem does not hold.

    Those are the services of the horizon's first week before it starts, and the services in
    the horizon already started, under way or done (the planner no longer moves them).
    """
    first = datetime.combine(monday(start), time())
    begin, stop = datetime.combine(start, time()), datetime.combine(end, time())
    started = ServiceRequest.start_at
    rows = session.execute(
        sa.select(ServiceRequest.professional_id, started, ServiceRequest.duration_min).where(
            ServiceRequest.professional_id.is_not(None),
            ServiceRequest.status.in_(WORKED),
            started >= first,
            sa.or_(
                started < begin,
                sa.and_(
                    started < stop,
                    sa.or_(
                        started < now,
                        ServiceRequest.status.in_((RequestStatus.IN_PROGRESS, RequestStatus.DONE)),
                    ),
                ),
            ),
        )
    )
    out: dict[tuple[int, date], int] = defaultdict(int)
    for pro_id, at, minutes in rows:
        out[(pro_id, monday(at.date()))] += minutes
    return out


def _cut(shifts: tuple[Shift, ...], lo: datetime, hi: datetime) -> list[Shift]:
    out = []
    for s in shifts:
        if s.end <= lo or hi <= s.start:
            out.append(s)
            continue
        if s.start < lo:
            out.append(Shift(s.start, lo))
        if hi < s.end:
            out.append(Shift(hi, s.end))
    return out


def add_blocks(
    pros: list[ProPlain], worked: dict[tuple[str, date], int], *, priority: int
) -> tuple[list[ProPlain], list[Request], list[Assignment]]:
    """Return the professionals with room for their blocks, the blocks, and their assignments.

    worked maps (engine professional id, Monday) to minutes. A professional who already worked
    their whole cap that week simply has no shifts left in it. priority must exceed everything
    the blocks' minutes could otherwise cover, so that no plan drops one.
    """
    by_id = {p.id: i for i, p in enumerate(pros)}
    out = list(pros)
    blocks, assigned = [], []
    for (pid, week), minutes in sorted(worked.items()):
        i = by_id.get(pid)
        if i is None or minutes <= 0:
            continue
        pro = out[i]
        lo = datetime.combine(week, time())
        if minutes >= pro.max_minutes_per_week or not pro.skills:
            out[i] = replace(pro, shifts=tuple(_cut(pro.shifts, lo, lo + timedelta(days=7))))
            continue
        # the block's minutes lie in the past or under bookings already under way, so this cut
        # takes nothing a planner could still use
        hi = lo + timedelta(minutes=minutes)
        shifts = sorted([*_cut(pro.shifts, lo, hi), Shift(lo, hi)], key=lambda s: s.start)
        out[i] = replace(pro, shifts=tuple(shifts))
        rid = f"{PREFIX}{pid[1:]}.{week:%Y%m%d}"
        blocks.append(
            Request(
                id=rid,
                client=f"{PREFIX}{pid[1:]}",
                location=pro.location,
                skill=min(pro.skills),
                window_start=lo,
                window_end=lo,
                duration_min=minutes,
                priority=priority,
                required_professional=pid,
            )
        )
        assigned.append(Assignment(rid, pid, lo))
    return out, blocks, assigned


def without_blocks(problem: Problem, plan: Plan) -> Plan:
    """Return the plan with the blocks taken out and the score of what is left."""

    def real(rid: str) -> bool:
        return not rid.startswith(PREFIX)

    if all(real(r.id) for r in problem.requests):
        return plan
    assignments = tuple(a for a in plan.assignments if real(a.request))
    bare = replace(
        problem,
        requests=tuple(r for r in problem.requests if real(r.id)),
        current_plan=tuple(a for a in problem.current_plan if real(a.request)),
    )
    return Plan(
        assignments=assignments,
        unassigned=tuple(u for u in plan.unassigned if real(u.request)),
        score=compute_score(bare, assignments),
        solver=plan.solver,
    )
