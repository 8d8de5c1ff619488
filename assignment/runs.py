"""Plan runs as jobs: queued by the panel and the jobs, solved by a worker, watched, stopped.

A run's status moves only through transition(): queued -> running -> draft -> published or
discarded; queued or running -> failed; queued -> discarded (stopped before a worker took it).
A worker (assignment.queue) starts a run, builds its problem, solves it with no transaction
open, then completes it; meanwhile its heartbeat writes heartbeat_at and the engine's progress
and reads the stop flag. sweep() fails a run whose worker stopped answering, so that no run
stays "running" for ever; the agent can retry it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from assignment.models import PlanRun, RunKind, RunStatus
from backoffice import audit, notes
from backoffice.db import is_postgres, utcnow
from backoffice.i18n import Refusal

TRANSITIONS = {
    RunStatus.QUEUED: {RunStatus.RUNNING, RunStatus.FAILED, RunStatus.DISCARDED},
    RunStatus.RUNNING: {RunStatus.DRAFT, RunStatus.FAILED},
    RunStatus.DRAFT: {RunStatus.PUBLISHED, RunStatus.DISCARDED},
    RunStatus.FAILED: set(),
    RunStatus.PUBLISHED: set(),
    RunStatus.DISCARDED: set(),
}
ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
STALE_S = 30.0  # a running run whose heartbeat is older than this lost its worker
QUEUE_WAIT_S = 1800.0  # a queued run no worker took within this fails
# the reasons a run failed, as stored in error; an engine error is "engine: <what it said>"
WORKER_LOST = "worker_lost"
NO_WORKER = "no_worker"
# one request at a time decides whether to join a running run or queue a new one (PostgreSQL;
# SQLite's BEGIN IMMEDIATE serialises them already)
QUEUE_LOCK_KEY = 0x504C414E


def transition(
    session: Session,
    *,
    run: PlanRun,
    to: RunStatus,
    action: str,
    changes: dict | None = None,
    note: str | None = None,
) -> PlanRun:
    """Move run to status `to` if the table allows it; flush and leave the audit row."""
    if to not in TRANSITIONS[RunStatus(run.status)]:
        raise Refusal(
            "status: run #%(id)d is %(status)s, it cannot become %(to)s",
            id=run.id,
            status=RunStatus(run.status),
            to=to,
        )
    run.status = to
    session.flush()
    audit.record(
        session,
        action=action,
        entity="plan_run",
        entity_id=run.id,
        changes=changes if changes is not None else {"status": to.value},
        note=note,
    )
    return run


def request_run(
    session: Session,
    *,
    start: date,
    days: int,
    time_limit_s: float,
    kind: RunKind = RunKind.MANUAL,
    repair: bool = False,
    publish_when_done: bool = False,
    affected: list[int] | None = None,
    retry_of: PlanRun | None = None,
    config=None,
) -> tuple[PlanRun, bool]:
    """Queue a run of these days, or join the queued or running one that asks the same.

    Returns the run and whether it was joined. A new run is handed to the queue at once
    (QUEUE_URL); its worker waits for this transaction to commit."""
    if is_postgres(session):
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": QUEUE_LOCK_KEY})
    same = session.scalars(
        sa.select(PlanRun)
        .where(
            PlanRun.status.in_(ACTIVE),
            PlanRun.horizon_start == start,
            PlanRun.horizon_days == days,
            PlanRun.kind == kind,
            PlanRun.repair == repair,
            PlanRun.stop_requested_at.is_(None),
        )
        .order_by(PlanRun.id)
        .limit(1)
    ).first()
    if same is not None:
        audit.record(session, action="join_plan_run", entity="plan_run", entity_id=same.id)
        return same, True
    actor = audit.current_actor()
    run = PlanRun(
        created_by=actor.label,
        created_by_id=actor.id,
        kind=kind,
        horizon_start=start,
        horizon_days=days,
        status=RunStatus.QUEUED,
        time_limit_s=time_limit_s,
        repair=repair,
        publish_when_done=publish_when_done,
        affected=affected,
        retry_of_id=retry_of.id if retry_of is not None else None,
        progress={"stage": "queued"},
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        action="queue_plan_run",
        entity="plan_run",
        entity_id=run.id,
        changes={"days": days, "time_limit_s": time_limit_s, "kind": kind.value},
        note=notes.keyed("retry of run #%(id)d", id=retry_of.id) if retry_of is not None else None,
    )
    dispatch(run, config)
    return run, False


def dispatch(run: PlanRun, config) -> None:
    """Hand a queued run to the plan queue (without one, whoever calls execute runs it)."""
    from assignment import queue

    url = queue.queue_url(config)
    if url is None:
        return
    try:
        queue.enqueue(url, run.id)
    except Exception as exc:  # the broker is down or the queue file cannot be written
        raise Refusal(
            "queue: the plan queue cannot be reached (%(error)s); try again in a minute",
            error=exc.__class__.__name__,
        ) from exc


def start(session: Session, *, run: PlanRun, worker: str, now: datetime | None = None) -> bool:
    """Let a worker take a queued run; False if it is no longer queued (stopped, taken)."""
    if is_postgres(session):  # two deliveries of one message: one worker takes it
        session.execute(sa.select(PlanRun.id).where(PlanRun.id == run.id).with_for_update())
        session.refresh(run)
    if run.status != RunStatus.QUEUED:
        return False
    now = now or utcnow()
    run.started_at = run.heartbeat_at = now
    run.worker = worker[:120]
    run.progress = {"stage": "building"}
    transition(session, run=run, to=RunStatus.RUNNING, action="start_plan_run",
               note=notes.keyed("taken by the worker %(worker)s", worker=worker[:200]))
    return True


def heartbeat(
    session: Session, *, run_id: int, progress: dict | None, now: datetime | None = None
) -> bool:
    """Note that the run's worker is alive and how far it got; True if it should stop now."""
    values = {"heartbeat_at": now or utcnow()}
    if progress is not None:
        values["progress"] = progress
    session.execute(
        sa.update(PlanRun)
        .where(PlanRun.id == run_id, PlanRun.status == RunStatus.RUNNING)
        .values(**values)
    )
    status, stop = session.execute(
        sa.select(PlanRun.status, PlanRun.stop_requested_at).where(PlanRun.id == run_id)
    ).one()
    return stop is not None or status != RunStatus.RUNNING


def complete(
    session: Session,
    *,
    run: PlanRun,
    plan,
    base: dict,
    now: datetime | None = None,
    progress: dict | None = None,
):
    """Keep a worker's plan on its run as a draft; publish it if the run asks to.

    Returns the published diff, or None. A run the sweep failed meanwhile keeps its failure."""
    from assignment.service import plans

    if run.status != RunStatus.RUNNING:
        return None
    plans.store_plan(session, run=run, plan=plan, base=base)
    run.finished_at = run.heartbeat_at = now or utcnow()
    run.progress = progress or run.progress
    transition(
        session, run=run, to=RunStatus.DRAFT, action="solve_plan_run", changes=dict(run.score or {})
    )
    if not run.publish_when_done:
        return None
    try:
        with session.begin_nested():
            diff = plans.publish(session, run=run)
    except Refusal as exc:  # services changed while it was solving: it stays a draft
        run.note = _add_note(run.note, notes.refusal("not published: %(reason)s", exc))
        session.flush()
        return None
    from assignment import jobs  # what each kind of run does once published

    jobs.after_publish(session, run=run, diff=diff)
    return diff


def fail(session: Session, *, run: PlanRun, reason: str, now: datetime | None = None) -> None:
    """Mark a queued or running run failed, with the reason the agent reads."""
    run.error = reason[:2000]
    run.finished_at = now or utcnow()
    transition(session, run=run, to=RunStatus.FAILED, action="fail_plan_run",
               note=_failure_note(reason))


def request_stop(session: Session, *, run: PlanRun, now: datetime | None = None) -> PlanRun:
    """Ask a running run to stop and keep its best plan so far; a queued one is dropped."""
    actor = audit.current_actor().label
    if run.status not in ACTIVE:
        raise Refusal(
            "status: run #%(id)d is %(status)s, only a queued or running run can be stopped",
            id=run.id,
            status=RunStatus(run.status),
        )
    if run.stop_requested_at is not None:
        return run
    run.stop_requested_at, run.stop_requested_by = now or utcnow(), actor
    if run.status == RunStatus.QUEUED:
        run.decided_at, run.decided_by = run.stop_requested_at, actor
        return transition(
            session,
            run=run,
            to=RunStatus.DISCARDED,
            action="stop_plan_run",
            note=notes.keyed("stopped before a worker took it"),
        )
    session.flush()
    audit.record(session, action="stop_plan_run", entity="plan_run", entity_id=run.id)
    return run


def retry(session: Session, *, run: PlanRun, config=None) -> tuple[PlanRun, bool]:
    """Queue a failed run again with the same days, kind and limit (or join one running)."""
    if run.status != RunStatus.FAILED:
        raise Refusal(
            "status: run #%(id)d is %(status)s, only a failed run can be retried",
            id=run.id,
            status=RunStatus(run.status),
        )
    return request_run(
        session,
        start=run.horizon_start,
        days=run.horizon_days,
        time_limit_s=run.time_limit_s,
        kind=RunKind(run.kind),
        repair=run.repair,
        publish_when_done=run.publish_when_done,
        affected=run.affected,
        retry_of=run,
        config=config,
    )


def sweep(
    session: Session,
    *,
    now: datetime | None = None,
    stale_s: float = STALE_S,
    wait_s: float = QUEUE_WAIT_S,
) -> list[int]:
    """Fail running runs whose worker stopped answering and queued runs no worker took."""
    now = now or utcnow()
    lost = session.scalars(
        sa.select(PlanRun).where(
            PlanRun.status == RunStatus.RUNNING,
            PlanRun.heartbeat_at < now - timedelta(seconds=stale_s),
        )
    ).all()
    waited = session.scalars(
        sa.select(PlanRun).where(
            PlanRun.status == RunStatus.QUEUED, PlanRun.created_at < now - timedelta(seconds=wait_s)
        )
    ).all()
    for run in lost:
        fail(session, run=run, reason=WORKER_LOST, now=now)
    for run in waited:
        fail(session, run=run, reason=NO_WORKER, now=now)
    return [run.id for run in (*lost, *waited)]


def execute(
    session: Session,
    *,
    run: PlanRun,
    config=None,
    now: datetime | None = None,
    worker: str = "inline",
) -> PlanRun:
    """Start, solve and complete a queued run in this session (what a worker does in three)."""
    from assignment.service import plans

    if not start(session, run=run, worker=worker):
        return run
    plan, base = plans.solve_horizon(
        session,
        start=run.horizon_start,
        days=run.horizon_days,
        now=now,
        time_limit_s=run.time_limit_s,
        repair=run.repair,
        config=config,
    )
    complete(session, run=run, plan=plan, base=base)
    return run


def queue_position(session: Session, *, run: PlanRun) -> int:
    """Return how many queued runs a queued run waits behind."""
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(PlanRun)
            .where(PlanRun.status == RunStatus.QUEUED, PlanRun.id < run.id)
        )
        or 0
    )


def _add_note(note: str | None, text: str) -> str:
    return f"{note}\n{text}" if note else text


def _failure_note(reason: str) -> str:
    """Return why a run failed as its audit row keeps it: worded per reader (backoffice.notes);
    an engine's own words stay in run.error, for the worker's log."""
    if reason == WORKER_LOST:
        return notes.keyed("the worker stopped answering")
    if reason == NO_WORKER:
        return notes.keyed("no worker took it in time")
    kind = reason.removeprefix("engine: ").split(":", 1)[0][:100] or "?"
    return notes.keyed("the engine stopped with an error (%(kind)s)", kind=kind)
