"""What vetting looks at: the queue with its SLA, the funnel, and where coverage is short."""

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from backoffice.models import (
    SKILLS,
    Professional,
    ProfessionalStatus,
    RequestStatus,
    ServiceRequest,
)
from vetting.models import Application, Document, DocumentStatus, Stage, StageVisit
from vetting.workflow import OPEN_STAGES

SLA_WORKING_DAYS = 3
FUNNEL = (Stage.APPLIED, Stage.DOCUMENTS, Stage.CHECKS, Stage.INTERVIEW, Stage.DECISION,
          Stage.APPROVED)


def working_days_between(start: datetime, end: datetime) -> int:
    """Count the Monday-to-Friday days after start's day up to end's day (holidays not known)."""
    d, n = start.date(), 0
    while d < end.date():
        d += timedelta(days=1)
        n += d.weekday() < 5
    return n


@dataclass
class QueueRow:
    application: Application
    working_days: int
    breach: bool


def queue(session: Session, *, stage: Stage | None, now: datetime, limit: int = 500
          ) -> list[QueueRow]:
    """Return open applications (of one stage or all), the longest waiting first."""
    stages = [stage] if stage else list(OPEN_STAGES)
    apps = session.scalars(
        sa.select(Application).where(Application.stage.in_(stages))
        .options(selectinload(Application.professional))
        .order_by(Application.stage_entered_at, Application.id).limit(limit))
    rows = []
    for app in apps:
        days = working_days_between(app.stage_entered_at, now)
        rows.append(QueueRow(app, days, days > SLA_WORKING_DAYS and app.stage != Stage.ON_HOLD))
    return rows


def stage_counts(session: Session, *, now: datetime) -> dict[str, dict[str, int]]:
    """Count open applications per stage, and those past the SLA."""
    out = {s.value: {"open": 0, "late": 0} for s in OPEN_STAGES}
    for row in queue(session, stage=None, now=now, limit=100_000):
        out[row.application.stage.value]["open"] += 1
        out[row.application.stage.value]["late"] += row.breach
    return out


def funnel(session: Session, *, today: date, weeks: int = 12) -> dict:
    """Return applications per week, conversion per stage, time to approve, rejection reasons."""
    since = datetime.combine(today - timedelta(weeks=weeks), datetime.min.time())
    apps = list(session.scalars(
        sa.select(Application).where(Application.kind == "initial", Application.created_at >= since)
        .options(selectinload(Application.visits))))
    monday = today - timedelta(days=today.weekday())
    per_week = {monday - timedelta(weeks=i): 0 for i in reversed(range(weeks))}
    reached: Counter = Counter()
    for app in apps:
        week = app.created_at.date() - timedelta(days=app.created_at.weekday())
        if week in per_week:
            per_week[week] += 1
        for stage in {v.stage for v in app.visits}:
            reached[stage] += 1
    conversion = []
    for prev, nxt in zip(FUNNEL, FUNNEL[1:], strict=False):
        conversion.append({"from": prev.value, "to": nxt.value, "reached": reached[nxt],
                           "rate": reached[nxt] / reached[prev] if reached[prev] else None})
    approve_days = [(a.decided_at - a.created_at).total_seconds() / 86400 for a in apps
                    if a.stage == Stage.APPROVED and a.decided_at]
    stage_days = {}
    for stage in FUNNEL[:-1]:
        spans = [v.seconds / 86400 for a in apps for v in a.visits
                 if v.stage == stage and v.seconds is not None]
        stage_days[stage.value] = statistics.median(spans) if spans else None
    reasons = Counter(a.rejection_reason for a in apps if a.stage == Stage.REJECTED)
    return {
        "per_week": [(w, n) for w, n in per_week.items()],
        "conversion": conversion,
        "median_days_to_approve": statistics.median(approve_days) if approve_days else None,
        "median_days_in_stage": stage_days,
        "rejections": reasons.most_common(),
        "total": len(apps),
    }


def coverage_gaps(session: Session, *, today: date, days: int = 14, limit: int = 15) -> list[dict]:
    """Return skill and zone pairs with unassigned demand, against approved and in-pipeline pros.

    Until the assignment engine publishes its uncovered list, "uncovered" means requests still
    in status new in the next days.
    """
    demand = session.execute(
        sa.select(ServiceRequest.skill, ServiceRequest.zone, sa.func.count())
        .where(ServiceRequest.status == RequestStatus.NEW,
               ServiceRequest.service_date.between(today, today + timedelta(days=days)))
        .group_by(ServiceRequest.skill, ServiceRequest.zone)).all()
    pros = session.execute(sa.select(Professional.skills, Professional.zone, Professional.status,
                                      Professional.id)).all()
    pipeline = set(session.scalars(sa.select(Application.professional_id)
                                   .where(Application.stage.in_(OPEN_STAGES))))
    rows = []
    for skill, zone, n in demand:
        match = [p for p in pros if skill in (p.skills or "").split(",") and p.zone == zone]
        rows.append({"skill": skill, "zone": zone or "—", "uncovered": n,
                     "approved": sum(p.status == ProfessionalStatus.APPROVED for p in match),
                     "in_pipeline": sum(p.id in pipeline for p in match)})
    rows.sort(key=lambda r: (-r["uncovered"], r["approved"]))
    return rows[:limit]


def home_figures(session: Session, *, today: date) -> dict:
    """Return the vetting block of the home page."""
    now = datetime.combine(today, datetime.now().time())
    counts = stage_counts(session, now=now)
    expiring = session.scalar(sa.select(sa.func.count(Document.id)).where(
        Document.status == DocumentStatus.ACCEPTED,
        Document.expires_on.between(today, today + timedelta(days=30))))
    suspended = session.scalar(sa.select(sa.func.count(Professional.id)).where(
        Professional.status == ProfessionalStatus.SUSPENDED))
    return {"stages": counts, "late": sum(c["late"] for c in counts.values()),
            "open": sum(c["open"] for c in counts.values()), "expiring": expiring,
            "suspended": suspended, "skills": SKILLS}


def timeline(session: Session, application: Application) -> list[StageVisit]:
    """Return an application's stage visits, oldest first."""
    return list(application.visits)
