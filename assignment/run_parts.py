"""The parts of a plan run whose problem splits (assignment.parts), as rows any worker can take.

A part moves queued -> running -> done or failed, only through transition(): a conditional
UPDATE, so that of two workers offered the same part exactly one takes it, on PostgreSQL and
SQLite alike. The run's own worker (the coordinator, assignment.queue) writes the parts, takes
parts itself until none is left queued, waits for the ones other workers hold, then joins.
Parts are the run's working state, not decisions anyone reviews: no audit rows (the run has
them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, defer

from assignment.models import PartStatus, PlanRun, PlanRunPart, RunStatus
from assignment.problem import Problem, problem_to_json
from backoffice.db import utcnow

TRANSITIONS = {
    PartStatus.QUEUED: {PartStatus.RUNNING, PartStatus.FAILED},
    PartStatus.RUNNING: {PartStatus.DONE, PartStatus.FAILED},
    PartStatus.DONE: set(),
    PartStatus.FAILED: set(),
}
# the order of the engine's stages (assignment.solver): a run of parts shows its slowest part's
STAGE_ORDER = ("queued", "building", "greedy", "chains", "whole_model", "leftovers", "travel",
               "finish")


def transition(
    session: Session, *, part_id: int, frm: PartStatus, to: PartStatus, **values
) -> bool:
    """Move a part from status frm to `to` with values, if it still is frm; tell whether it did."""
    if to not in TRANSITIONS[frm]:
        raise ValueError(f"a {frm} part cannot become {to}")
    done = session.execute(
        sa.update(PlanRunPart)
        .where(PlanRunPart.id == part_id, PlanRunPart.status == frm)
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return done.rowcount == 1


def create(session: Session, *, run: PlanRun, parts: tuple[Problem, ...]) -> list[int]:
    """Write a run's parts, queued; return their ids in order."""
    rows = [
        PlanRunPart(
            run_id=run.id,
            part=i,
            status=PartStatus.QUEUED,
            requests=len(p.requests),
            professionals=len(p.professionals),
            problem=problem_to_json(p),
            progress={"stage": "queued", "covered": 0, "requests": len(p.requests)},
        )
        for i, p in enumerate(parts)
    ]
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def claim(
    session: Session, *, run_id: int, worker: str, part: int | None = None,
    now: datetime | None = None,
) -> PlanRunPart | None:
    """Take a queued part of a running run (that one, or the first queued); None if none."""
    status = session.scalar(sa.select(PlanRun.status).where(PlanRun.id == run_id))
    if status != RunStatus.RUNNING:
        return None
    q = (sa.select(PlanRunPart.id)
         .where(PlanRunPart.run_id == run_id, PlanRunPart.status == PartStatus.QUEUED)
         .order_by(PlanRunPart.part))
    if part is not None:
        q = q.where(PlanRunPart.part == part)
    now = now or utcnow()
    for part_id in session.scalars(q).all():
        if transition(session, part_id=part_id, frm=PartStatus.QUEUED, to=PartStatus.RUNNING,
                      worker=worker[:120], started_at=now, heartbeat_at=now,
                      progress={"stage": "building"}):
            return session.get(PlanRunPart, part_id, populate_existing=True)
    return None


def beat(session: Session, *, part_id: int, progress: dict | None,
         now: datetime | None = None) -> bool:
    """Note that a part's worker is alive and how far it got; True if it should stop now (its
    run was asked to stop, or is no longer running)."""
    values = {"heartbeat_at": now or utcnow()}
    if progress is not None:
        values["progress"] = progress
    session.execute(
        sa.update(PlanRunPart)
        .where(PlanRunPart.id == part_id, PlanRunPart.status == PartStatus.RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    status, stop = session.execute(
        sa.select(PlanRun.status, PlanRun.stop_requested_at)
        .join(PlanRunPart, PlanRunPart.run_id == PlanRun.id)
        .where(PlanRunPart.id == part_id)
    ).one()
    return stop is not None or status != RunStatus.RUNNING


def finish(session: Session, *, part_id: int, plan: dict | None = None,
           error: str | None = None, progress: dict | None = None,
           now: datetime | None = None) -> bool:
    """Keep a running part's plan (done) or its error (failed); tell whether it was running."""
    now = now or utcnow()
    values = {"finished_at": now, "heartbeat_at": now}
    if progress is not None:
        values["progress"] = progress
    if error is not None:
        return transition(session, part_id=part_id, frm=PartStatus.RUNNING, to=PartStatus.FAILED,
                          error=error[:4000], **values)
    score = plan["score"]
    values["progress"] = {"stage": "done", "covered": score["covered"],
                          "requests": score["requests"], "travel_km": score["travel_km"]}
    return transition(session, part_id=part_id, frm=PartStatus.RUNNING, to=PartStatus.DONE,
                      plan=plan, **values)


def parts_of(session: Session, *, run_id: int, documents: bool = False) -> list[PlanRunPart]:
    """Return a run's parts in order, as stored now; their problem and plan (megabytes at
    country scale, read every second by the run's heartbeat) only with documents."""
    q = sa.select(PlanRunPart).where(PlanRunPart.run_id == run_id).order_by(PlanRunPart.part)
    if not documents:
        q = q.options(defer(PlanRunPart.problem), defer(PlanRunPart.plan))
    return list(session.scalars(q.execution_options(populate_existing=True)))


def lost(parts: list[PlanRunPart], *, now: datetime, stale_s: float) -> PlanRunPart | None:
    """Return a running part whose worker stopped answering, if any."""
    for p in parts:
        if p.status == PartStatus.RUNNING and p.heartbeat_at is not None and (
            p.heartbeat_at < now - timedelta(seconds=stale_s)
        ):
            return p
    return None


def summary(parts: list[dict], *, elapsed_s: float) -> dict:
    """Return a run's progress from its parts' (as its page reads it): coverage and travel
    summed, the stage of the part furthest behind, how many parts are done."""
    stages = [p.get("stage") or "queued" for p in parts if p.get("stage") != "done"]
    known = [s for s in stages if s in STAGE_ORDER]
    stage = min(known, key=STAGE_ORDER.index) if known else (stages[0] if stages else "finish")
    return {
        "stage": stage,
        "covered": sum(int(p.get("covered") or 0) for p in parts),
        "requests": sum(int(p.get("requests") or 0) for p in parts),
        "travel_km": round(sum(float(p.get("travel_km") or 0.0) for p in parts), 1),
        "elapsed_s": round(elapsed_s, 2),
        "parts": len(parts),
        "parts_done": sum(1 for p in parts if p.get("stage") == "done"),
    }


def part_progress(part: PlanRunPart) -> dict:
    """Return one part's progress for summary() (a part done holds its plan's figures)."""
    p = dict(part.progress or {})
    p.setdefault("requests", part.requests)
    return p
