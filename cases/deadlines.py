"""The SLA clocks against the database: which policy applies, the stored due times, the sweep.

apply() stores each case's due times after every transition and article; sweep() then only
compares those stored times with moments it computes once per policy, in one SELECT over the
open cases, and acts on the few rows that crossed 75% or 100% of a target since its last run.
"""

import contextlib
import contextvars
from datetime import date, datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from backoffice import audit, mail
from backoffice.db import is_postgres
from backoffice.models import AuditEvent, StaffUser
from cases import sla
from cases.models import (
    BusinessHours,
    Case,
    CasePriority,
    CaseState,
    ClosedDay,
    SlaPolicy,
    format_number,
)

DEFAULT_TZ = "Europe/Madrid"
RUNNING = (CaseState.NEW, CaseState.OPEN)  # the states whose clocks run
ACTIVE = (*RUNNING, CaseState.PENDING, CaseState.ON_HOLD)
DUE_COLUMNS = {
    "first_response": "first_response_due_at",
    "next_response": "next_response_due_at",
    "resolution": "resolution_due_at",
}
_calendars: dict[tuple, sla.Calendar] = {}
# Calendars compare by identity (and are kept by their content: load_calendar).
_due_memo: dict[tuple, sla.DueTimes] = {}


class _Policy(NamedTuple):
    id: int
    priority: str
    category_id: int | None
    first_response_minutes: int
    next_response_minutes: int
    resolution_minutes: int


# The calendar and the active policies, read once for a block of work that changes neither
# (a fetch of many mails, the demo's seed): see fixed_settings.
_fixed: contextvars.ContextVar[tuple[sla.Calendar, list[_Policy]] | None] = \
    contextvars.ContextVar("sla_settings", default=None)


@contextlib.contextmanager
def fixed_settings(session: Session, *, tz: str = DEFAULT_TZ):
    """Read the business calendar and the policies once for the block instead of per case."""
    policies = [_Policy(*row) for row in session.execute(sa.select(
        SlaPolicy.id, SlaPolicy.priority, SlaPolicy.category_id,
        SlaPolicy.first_response_minutes, SlaPolicy.next_response_minutes,
        SlaPolicy.resolution_minutes).where(SlaPolicy.active).order_by(SlaPolicy.id))]
    token = _fixed.set((load_calendar(session, tz=tz), policies))
    try:
        yield
    finally:
        _fixed.reset(token)


def load_calendar(session: Session, *, tz: str = DEFAULT_TZ, years=()) -> sla.Calendar:
    """Return the desk's calendar from its business hours and closed days, built once per content.

    years: years whose holidays to load now; others load on first use."""
    if (fixed := _fixed.get()) is not None and fixed[0].tz == tz and not years:
        return fixed[0]
    hours = session.execute(
        sa.select(BusinessHours.weekday, BusinessHours.opens, BusinessHours.closes)
    ).all()
    closed = frozenset(session.scalars(sa.select(ClosedDay.day)))
    # The rows are a few dozen, cheaper to read than to version; the key is their content, so
    # an edit in the panel takes effect on the next call while the per-day spans stay cached.
    key = (tz, tuple(sorted(tuple(h) for h in hours)), closed)
    calendar = _calendars.get(key)
    if calendar is None:
        weekly: dict[int, list] = {}
        for weekday, opens, closes in hours:
            weekly.setdefault(weekday, []).append((opens, closes))
        calendar = sla.Calendar({d: tuple(s) for d, s in weekly.items()}, closed, tz)
        if len(_calendars) > 8:
            _calendars.clear()
        _calendars[key] = calendar
    for year in years:
        calendar.is_closed(date(year, 1, 1))  # the holidays package fills in the whole year
    return calendar


def policy_for(session: Session, case: Case) -> SlaPolicy | None:
    """Return the active policy for the case: its category's for its priority, else the general."""
    priority = case.priority or CasePriority.NORMAL
    if (fixed := _fixed.get()) is not None:
        matching = [p for p in fixed[1] if p.priority == priority
                    and p.category_id in (case.category_id, None)]
        return min(matching, key=lambda p: (p.category_id is None, p.id), default=None)
    category = SlaPolicy.category_id == case.category_id if case.category_id else sa.false()
    return session.scalar(
        sa.select(SlaPolicy)
        .where(SlaPolicy.active, SlaPolicy.priority == priority,
               sa.or_(category, SlaPolicy.category_id.is_(None)))
        .order_by(SlaPolicy.category_id.is_(None), SlaPolicy.id)
        .limit(1)
    )


def targets_of(policy: SlaPolicy) -> sla.Targets:
    """Return a policy's targets as the pure clocks take them."""
    return sla.Targets(policy.first_response_minutes, policy.next_response_minutes,
                       policy.resolution_minutes)


def due_times(session: Session, *, case: Case, now: datetime, tz: str = DEFAULT_TZ
              ) -> sla.DueTimes | None:
    """Return the case's due times at now (as if resumed now when paused); None: no policy."""
    return _clocks(session, case, policy_for(session, case), now=now, tz=tz)


def apply(session: Session, *, case: Case, now: datetime, tz: str = DEFAULT_TZ) -> None:
    """Store the case's policy, due times and next due time as they stand at now.

    A paused case (pending, on hold) stores None everywhere: its clocks stand still, and the
    sweep, which reads only these columns, passes it by."""
    policy = policy_for(session, case)
    _set(case, "sla_policy_id", policy.id if policy else None)
    dues = _clocks(session, case, policy, now=now, tz=tz)
    running = dues if dues is not None and not dues.paused else None
    for target, column in DUE_COLUMNS.items():
        _set(case, column, getattr(running, target) if running else None)
    _set(case, "next_due_at", running.next_due if running else None)
    if case.awaiting_since is None:
        # The requester was answered: the next wait is a new next-response clock, which may
        # warn and breach again (its mails carry the wait's start in their dedup keys).
        _set(case, "sla_warned", _without(case.sla_warned, "next_response"))
        _set(case, "sla_breached", _without(case.sla_breached, "next_response"))


def reapply(session: Session, *, now: datetime, tz: str = DEFAULT_TZ) -> int:
    """Store again the due times of every active case; return how many were looked at.

    Run after the business hours, the closed days or a policy change: the sweep trusts the
    stored due times, which were computed with the calendar and targets of their day."""
    ids = session.scalars(sa.select(Case.id).where(Case.state.in_(ACTIVE)).order_by(Case.id)).all()
    for i in range(0, len(ids), 500):
        batch = session.scalars(sa.select(Case).where(Case.id.in_(ids[i:i + 500]))
                                .options(selectinload(Case.visits))).all()
        for case in batch:
            apply(session, case=case, now=now, tz=tz)
        session.flush()
    return len(ids)


def _clocks(session: Session, case: Case, policy: SlaPolicy | None, *, now: datetime,
            tz: str) -> sla.DueTimes | None:
    calendar = load_calendar(session, tz=tz)
    if policy is None or not calendar.weekly:
        return None  # no policy, or no business hours at all: no clock can run
    # Before the first flush a new case has no created_at or state yet: they take their
    # defaults at the insert, which is now.
    targets, created_at, state = targets_of(policy), case.created_at or now, case.state
    visits = tuple((v.state, v.entered_at, v.left_at) for v in case.visits)
    # A fetch opens many cases at the same moment with the same history: the walk of the
    # calendar is done once for them. The key holds every input of sla.due_times.
    key = (calendar, targets, created_at, visits, case.first_response_at,
           case.awaiting_since, state or CaseState.NEW, now)
    if (hit := _due_memo.get(key)) is not None:
        return hit
    dues = sla.due_times(
        calendar=calendar, targets=targets, created_at=created_at, visits=case.visits,
        first_response_at=case.first_response_at, awaiting_since=case.awaiting_since,
        state=state or CaseState.NEW, now=now,
    )
    if len(_due_memo) >= 512:
        _due_memo.clear()
    _due_memo[key] = dues
    return dues


def _set(case: Case, attr: str, value) -> None:
    # Assigning an equal value would still mark the attribute; skip it to keep flushes quiet.
    if getattr(case, attr) != value:
        setattr(case, attr, value)


def _split(flags: str | None) -> list[str]:
    return [f for f in (flags or "").split(",") if f]


def _without(flags: str | None, target: str) -> str:
    return ",".join(f for f in _split(flags) if f != target)


def _has(column, target: str):
    return (sa.literal(",", sa.String) + column + ",").like(f"%,{target},%")


def sweep(session: Session, *, now: datetime, tz: str = DEFAULT_TZ) -> dict:
    """Warn assignees at 75% of a target and mark breaches at 100%, once each; return counts."""
    calendar = load_calendar(session, tz=tz)
    policies = session.execute(sa.select(
        SlaPolicy.id, SlaPolicy.first_response_minutes, SlaPolicy.next_response_minutes,
        SlaPolicy.resolution_minutes)).all()
    if not policies:
        return {"warned": 0, "breached": 0}
    # A running clock is at 75% when its due time is at or before the warn horizon of its
    # target's length: one walk of the calendar per distinct length, not one per case.
    by_length: dict[int, datetime] = {}
    horizon = {
        p.id: {t: by_length.setdefault(m, sla.warn_horizon(calendar, now, m))
               for t, m in zip(sla.TARGETS, p[1:], strict=True)}
        for p in policies
    }
    latest = max([now, *by_length.values()])
    table = Case.__table__.c
    crossed = []
    for target, column in DUE_COLUMNS.items():
        due = table[column]
        warn_line = sa.case({pid: sa.literal(h[target], sa.DateTime) for pid, h in horizon.items()},
                            value=table.sla_policy_id)
        crossed.append(sa.and_(due <= now, ~_has(table.sla_breached, target)))
        crossed.append(sa.and_(due <= warn_line, ~_has(table.sla_warned, target)))
    query = (
        sa.select(table.id, table.subject, table.assignee_id, table.sla_policy_id,
                  table.awaiting_since, table.sla_warned, table.sla_breached,
                  *(table[c] for c in DUE_COLUMNS.values()))
        # next_due_at is the earliest due: this bound lets the (state, next_due_at) index
        # skip every case whose clocks are all far from 75%.
        .where(table.state.in_([s.value for s in RUNNING]), table.next_due_at <= latest,
               sa.or_(*crossed))
        .order_by(table.id)
    )
    if is_postgres(session):
        # A second scheduler skips the cases this one is handling instead of doubling mails.
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return {"warned": 0, "breached": 0}

    never = dict.fromkeys(sla.TARGETS, datetime.min)  # a due time without a policy: no 75%
    warnings, breaches = [], []
    updates: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        warned, breached = _split(r.sla_warned), _split(r.sla_breached)
        for target, column in DUE_COLUMNS.items():
            due = getattr(r, column)
            if due is None:
                continue
            if due <= now and target not in breached:
                breached.append(target)
                if target not in warned:
                    warned.append(target)  # past 100% at once: the breach says it all
                breaches.append((r, target, due))
            elif due <= horizon.get(r.sla_policy_id, never)[target] \
                    and target not in warned:
                warned.append(target)
                warnings.append((r, target, due))
        updates.setdefault((",".join(warned), ",".join(breached)), []).append(r.id)
    # Few distinct flag pairs: one UPDATE per pair instead of one per case.
    for (warned, breached), ids in updates.items():
        for i in range(0, len(ids), 1000):
            session.connection().execute(
                sa.update(Case.__table__).where(table.id.in_(ids[i:i + 1000]))
                .values(sla_warned=warned, sla_breached=breached))
    _forget_flags(session, [r.id for r in rows])
    _send_warnings(session, warnings, calendar)
    _record_breaches(session, breaches, calendar)
    session.flush()
    return {"warned": len(warnings), "breached": len(breaches)}


def _forget_flags(session: Session, case_ids: list[int]) -> None:
    # The flags were written without the ORM (no version bump to trip an agent's save, no
    # field-by-field audit row); cases this session holds reread them on next access.
    for case_id in case_ids:
        case = session.identity_map.get(sa.inspect(Case).identity_key_from_primary_key((case_id,)))
        if case is not None:
            session.expire(case, ["sla_warned", "sla_breached"])


def _cycle(r, target: str) -> str:
    # Each wait of the requester is a clock of its own: its mails must not be deduplicated
    # against the previous wait's.
    if target == "next_response" and r.awaiting_since is not None:
        return f"{target}:{r.awaiting_since:%Y%m%dT%H%M%S}"
    return target


def _mail(r, target: str, due: datetime, calendar: sla.Calendar, *, to: StaffUser,
          template: str, dedup_key: str) -> dict:
    local = sla.to_local(calendar, due)
    return {"to": to.email, "template": template, "lang": to.locale or "es",
            "context": {"number": format_number(r.id), "subject": r.subject, "target": target,
                        "due": f"{local:%d/%m/%Y %H:%M}", "name": to.name},
            "entity": "case", "entity_id": str(r.id), "dedup_key": dedup_key}


def _send_warnings(session: Session, warnings: list, calendar: sla.Calendar) -> None:
    ids = {r.assignee_id for r, _, _ in warnings if r.assignee_id is not None}
    staff = {u.id: u for u in session.scalars(
        sa.select(StaffUser).where(StaffUser.id.in_(ids), StaffUser.active))} if ids else {}
    # An unassigned case has no one to warn: the queue "due soon" shows it amber.
    mail.enqueue_many(session, [
        _mail(r, target, due, calendar, to=staff[r.assignee_id], template="cases/sla_warning",
              dedup_key=f"case:{r.id}:sla_warn:{_cycle(r, target)}")
        for r, target, due in warnings if r.assignee_id in staff
    ])


def _record_breaches(session: Session, breaches: list, calendar: sla.Calendar) -> None:
    if not breaches:
        return
    admins = list(session.scalars(
        sa.select(StaffUser)
        .where(StaffUser.active, _has(StaffUser.roles, "admin"))
        .order_by(StaffUser.id)))
    # audit.row is the audit trail's form for writers that insert many rows at once.
    session.connection().execute(sa.insert(AuditEvent.__table__), [
        audit.row("sla_breach", "case", r.id,
                  {"sla_breached": [None, target], "due_at": [None, due.isoformat()]})
        for r, target, due in breaches
    ])
    mail.enqueue_many(session, [
        _mail(r, target, due, calendar, to=admin, template="cases/sla_breach",
              dedup_key=f"case:{r.id}:sla_breach:{_cycle(r, target)}:{admin.id}")
        for r, target, due in breaches for admin in admins
    ])
