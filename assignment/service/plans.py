"""Plan runs: solve the horizon into a draft, then publish it in one audited transaction."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from assignment.models import PlanRun, RunKind, RunStatus
from assignment.problem import (
    Plan,
    format_time,
    parse_plan,
    plan_to_json,
)
from assignment.runs import transition
from assignment.service.bookings import apply_bookings
from assignment.service.diff import (
    Diff,
    compare,
)
from assignment.service.rows import (
    HORIZON_DAYS,
    PLANNED,
    Built,
    build_problem,
    pro_key,
    req_key,
)
from assignment.service.worked import without_blocks
from backoffice import audit, notes
from backoffice.db import utcnow
from backoffice.i18n import Refusal
from notifications import service as notices


def solve_horizon(
    session: Session, *, start: date, days: int = HORIZON_DAYS, now: datetime | None = None,
    time_limit_s: float = 20.0, repair: bool = False, config=None, progress=None,
    should_stop=None,
) -> tuple[Plan, dict]:
    """Build the horizon's problem, solve (or repair) it; return the plan and its base.

    progress and should_stop are handed to the engine (assignment.solver.solve)."""
    built = build_problem(session, start=start, days=days, now=now,
                          speed_kmh=float((config or {}).get("TRAVEL_SPEED_KMH", 25.0)))
    return solve_built(built, time_limit_s=time_limit_s, repair=repair, progress=progress,
                       should_stop=should_stop), built.base


def solve_built(built: Built, *, time_limit_s: float, repair: bool = False, progress=None,
                should_stop=None) -> Plan:
    """Solve (or repair) a built problem; no database here, so a worker can hold none open."""
    from assignment import solver  # OR-Tools: loaded by what solves, not by the coverage board

    if repair:
        plan = solver.repair(built.problem, time_limit_s=time_limit_s)
    else:
        plan = solver.solve(built.problem, time_limit_s=time_limit_s, progress=progress,
                            should_stop=should_stop)
    return without_blocks(built.problem, plan)


def store_plan(session: Session, *, run: PlanRun, plan: Plan, base: dict) -> PlanRun:
    """Keep a solved plan on its run, with the bookings it started from and what it changes."""
    run.wall_s = float(plan.solver.get("wall_s") or 0)
    run.plan = plan_to_json(plan)
    run.score = run.plan["score"]
    run.base = base
    run.diff_counts = compare(session, plan=plan).counts()
    session.flush()
    return run


def run_plan(
    session: Session, *, start: date, days: int = HORIZON_DAYS, now: datetime | None = None,
    time_limit_s: float = 20.0, kind: RunKind = RunKind.MANUAL, repair: bool = False,
    config=None,
) -> PlanRun:
    """Solve the horizon (or repair the current plan) here and now; store it as a draft run.

    The panel and the jobs queue their runs instead (assignment.runs); the CLI and the demo's
    seed solve in their own process."""
    plan, base = solve_horizon(session, start=start, days=days, now=now,
                               time_limit_s=time_limit_s, repair=repair, config=config)
    actor = audit.current_actor()
    run = PlanRun(
        created_by=actor.label, created_by_id=actor.id, kind=kind, horizon_start=start,
        horizon_days=days, status=RunStatus.DRAFT, time_limit_s=time_limit_s, repair=repair,
    )
    session.add(run)
    return store_plan(session, run=run, plan=plan, base=base)


def publish(session: Session, *, run: PlanRun, now: datetime | None = None) -> Diff:
    """Write a draft run's plan into the bookings in one transaction, audited."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(PlanRun.id).where(PlanRun.id == run.id).with_for_update())
        session.refresh(run)
    if run.status != RunStatus.DRAFT:
        raise Refusal("status: run #%(id)d is %(status)s, only a draft can be published",
                      id=run.id, status=RunStatus(run.status))
    plan = parse_plan(run.plan)
    diff = compare(session, plan=plan)
    stale = []
    for ch in diff.changes() + diff.uncovered:
        was = run.base.get(req_key(ch.request.id))
        is_ = [pro_key(ch.before[0]), format_time(ch.before[1])] if ch.before else None
        if ch.request.status not in PLANNED or is_ != was:
            stale.append(ch.request.id)
    if stale:
        shown = ", ".join(f"#{i}" for i in stale[:5])
        raise Refusal("plan: %(n)d services changed since this plan was computed "
                      "(%(shown)s); run a new plan", n=len(stale), shown=shown)
    # a pin survives a new start time with its professional, not a new professional
    apply_bookings(session, {ch.request.id: (ch.request, ch.after, bool(
        ch.request.pinned and ch.before and ch.after and ch.before[0] == ch.after[0]))
        for ch in diff.changes()})
    run.decided_at = utcnow()
    run.decided_by = audit.current_actor().label
    run.diff_counts = diff.counts()
    transition(session, run=run, to=RunStatus.PUBLISHED, action="publish_plan",
               changes=diff.counts(), note=_score_note(run.score))
    notices.sync(session=session, now=now or datetime.now(),
                 request_ids=[ch.request.id for ch in diff.changes()])
    return diff


def _score_note(score: dict | None) -> str | None:
    """Return the published plan's score as its audit row keeps it, worded for each reader."""
    if not score:
        return None
    return notes.keyed("%(covered)s of %(requests)s services covered, %(moved)s moved, "
                       "%(km)s km of travel", covered=score.get("covered"),
                       requests=score.get("requests"), moved=score.get("moved"),
                       km=score.get("travel_km"))


def discard(session: Session, *, run: PlanRun) -> PlanRun:
    """Set a draft run aside without touching any booking."""
    if run.status != RunStatus.DRAFT:
        raise Refusal("status: run #%(id)d is %(status)s, only a draft can be discarded",
                      id=run.id, status=RunStatus(run.status))
    run.decided_at, run.decided_by = utcnow(), audit.current_actor().label
    transition(session, run=run, to=RunStatus.DISCARDED, action="discard_plan")
    return run


def latest_run(session: Session, *, status: RunStatus | None = None) -> PlanRun | None:
    """Return the newest run with a plan that was not discarded (or with the given status)."""
    q = sa.select(PlanRun).order_by(PlanRun.id.desc()).limit(1)
    q = q.where(PlanRun.status == status) if status else q.where(
        PlanRun.status.in_((RunStatus.DRAFT, RunStatus.PUBLISHED)))
    return session.scalars(q).first()
