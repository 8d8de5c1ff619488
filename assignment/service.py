"""The only bridge between rows and the engine: build a Problem, store a run, publish a Plan."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, selectinload

from assignment import solver
from assignment.models import PlanRun, RunKind, RunStatus
from assignment.problem import (
    Assignment,
    Location,
    Plan,
    Problem,
    Request,
    Shift,
    format_time,
    parse_plan,
    plan_to_json,
)
from assignment.problem import Professional as ProPlain
from backoffice import audit
from backoffice.db import utcnow
from backoffice.geo import ZONES
from backoffice.models import Professional, ProfessionalStatus, RequestStatus, ServiceRequest
from backoffice.services.professionals import shifts_on

HORIZON_DAYS = 14
_PRO_RE = re.compile(r"\bP(\d+)\b")
_REQ_RE = re.compile(r"\bR(\d+)\b")
PLANNED = (RequestStatus.NEW, RequestStatus.ASSIGNED, RequestStatus.CONFIRMED)
ACTIVE = (RequestStatus.ASSIGNED, RequestStatus.CONFIRMED, RequestStatus.IN_PROGRESS)
VALENCIA = (39.4699, -0.3763)  # where a request without coordinates is assumed to be
GUARD_NAMES = ("service_request_no_double_booking", "double booking:")


def pro_key(pro_id: int) -> str:
    """Return the engine id of a professional."""
    return f"P{pro_id}"


def req_key(request_id: int) -> str:
    """Return the engine id of a service request."""
    return f"R{request_id}"


def row_id(key: str) -> int:
    """Return the database id behind an engine id such as "R12"."""
    return int(key[1:])


@dataclass
class Built:
    """A problem and the rows it came from."""

    problem: Problem
    base: dict[str, list[str] | None]  # R<id> -> [P<id>, start] booked when built, or None
    requests: dict[int, ServiceRequest]
    professionals: dict[int, Professional]
    broken: list[int] = field(default_factory=list)  # bookings the professional can no longer hold


def _minus(pieces: list[tuple[datetime, datetime]], busy: list[tuple[datetime, datetime]]):
    for b0, b1 in busy:
        out = []
        for s0, s1 in pieces:
            if b1 <= s0 or s1 <= b0:
                out.append((s0, s1))
                continue
            if s0 < b0:
                out.append((s0, b0))
            if b1 < s1:
                out.append((b1, s1))
        pieces = out
    return pieces


def available_shifts(pro: Professional, day: date, *, busy=(), absent=frozenset()):
    """Return the stretches of a day a professional can take services in."""
    if pro.status != ProfessionalStatus.APPROVED or day in absent:
        return []
    return _minus(shifts_on(pro, day), list(busy))


def _holds(row: ServiceRequest, pro: Professional, pieces) -> bool:
    if row.skill not in pro.skill_list or row.client_id in {c.id for c in pro.excluded_clients}:
        return False
    return any(s0 <= row.start_at and row.end_at <= s1 for s0, s1 in pieces)


def _location(row: ServiceRequest) -> Location:
    if row.lat is not None and row.lon is not None:
        return Location(row.lat, row.lon)
    return Location(*ZONES.get(row.zone or "", VALENCIA))


def _ceil_minute(t: datetime) -> datetime:
    up = t.replace(second=0, microsecond=0)
    return up if up == t else up + timedelta(minutes=1)


def build_problem(
    session: Session, *, start: date, days: int = HORIZON_DAYS, now: datetime | None = None,
    absent: dict[int, set[date]] | None = None, speed_kmh: float = 25.0,
) -> Built:
    """Build the problem of the services in [start, start + days) that can still be planned."""
    end = start + timedelta(days=days)
    now = now or datetime.combine(start, time())
    absent = absent or {}
    rows = list(session.scalars(
        sa.select(ServiceRequest).where(
            ServiceRequest.service_date >= start, ServiceRequest.service_date < end,
            ServiceRequest.status.in_(PLANNED + (RequestStatus.IN_PROGRESS,)),
        ).order_by(ServiceRequest.service_date, ServiceRequest.window_start, ServiceRequest.id)
    ))
    planned, busy = [], {}
    for r in rows:
        booked = r.professional_id is not None and r.start_at and r.end_at
        frozen = r.status == RequestStatus.IN_PROGRESS or (booked and r.start_at < now)
        if frozen:
            if booked:  # it keeps its professional busy but is no longer the planner's to move
                busy.setdefault(r.professional_id, []).append((r.start_at, r.end_at))
        elif datetime.combine(r.service_date, r.window_end) >= now:
            planned.append(r)
    holders = {r.professional_id for r in planned if r.professional_id is not None}
    pros = list(session.scalars(
        sa.select(Professional)
        .where(sa.or_(Professional.status == ProfessionalStatus.APPROVED,
                      Professional.id.in_(holders)))
        .options(selectinload(Professional.shifts), selectinload(Professional.time_off),
                 selectinload(Professional.excluded_clients))
        .order_by(Professional.id)
    ))
    by_id = {p.id: p for p in pros}
    pieces: dict[int, dict[date, list]] = {}
    plain = []
    for p in pros:
        per_day = {}
        for i in range(days):
            day = start + timedelta(days=i)
            per_day[day] = _minus(
                available_shifts(p, day, busy=busy.get(p.id, ()), absent=absent.get(p.id, set())),
                [(datetime.combine(day, time()), now)] if day == now.date() else [],
            )
        pieces[p.id] = per_day
        plain.append(ProPlain(
            id=pro_key(p.id),
            location=Location(p.lat, p.lon) if p.lat is not None else Location(*VALENCIA),
            skills=frozenset(p.skill_list),
            shifts=tuple(Shift(a, b) for day in sorted(per_day) for a, b in per_day[day]
                         if (b - a).total_seconds() >= 60),
            max_minutes_per_week=p.max_minutes_per_week,
            excluded_clients=frozenset(f"C{c.id}" for c in p.excluded_clients),
        ))
    requests, current, base, broken = [], [], {}, []
    for r in planned:
        window_start = datetime.combine(r.service_date, r.window_start)
        window_end = datetime.combine(r.service_date, r.window_end)
        window_start = max(window_start, _ceil_minute(now))
        required = None
        base[req_key(r.id)] = None
        if booking(r) is not None:
            pro = by_id[r.professional_id]
            base[req_key(r.id)] = [pro_key(pro.id), format_time(r.start_at)]
            current.append(Assignment(req_key(r.id), pro_key(pro.id), r.start_at))
            if _holds(r, pro, pieces[pro.id].get(r.service_date, [])):
                if r.pinned or r.status == RequestStatus.CONFIRMED:
                    # the client was told this professional at this time: keep both
                    required = pro_key(pro.id)
                    window_start = window_end = r.start_at
            else:
                broken.append(r.id)
        pref = r.preferred_professional_id
        requests.append(Request(
            id=req_key(r.id), client=f"C{r.client_id}", location=_location(r), skill=r.skill,
            window_start=window_start, window_end=max(window_end, window_start),
            duration_min=r.duration_min, priority=r.priority,
            preferred_professional=pro_key(pref) if pref in by_id else None,
            required_professional=required,
        ))
    problem = Problem(professionals=tuple(plain), requests=tuple(requests), speed_kmh=speed_kmh,
                      current_plan=tuple(current))
    return Built(problem, base, {r.id: r for r in planned}, by_id, broken)


def run_plan(
    session: Session, *, start: date, days: int = HORIZON_DAYS, now: datetime | None = None,
    time_limit_s: float = 20.0, kind: RunKind = RunKind.MANUAL, repair: bool = False,
    config=None,
) -> PlanRun:
    """Solve the horizon (or repair the current plan) and store the result as a draft run."""
    built = build_problem(session, start=start, days=days, now=now,
                          speed_kmh=float((config or {}).get("TRAVEL_SPEED_KMH", 25.0)))
    if repair:
        plan = solver.repair(built.problem, time_limit_s=time_limit_s)
    else:
        plan = solver.solve(built.problem, time_limit_s=time_limit_s)
    actor = audit.current_actor()
    run = PlanRun(
        created_by=actor.label, created_by_id=actor.id, kind=kind, horizon_start=start,
        horizon_days=days, status=RunStatus.DRAFT, wall_s=float(plan.solver.get("wall_s") or 0),
        time_limit_s=time_limit_s, score=plan_to_json(plan)["score"], plan=plan_to_json(plan),
        base=built.base,
    )
    run.diff_counts = compare(session, plan=plan).counts()
    session.add(run)
    session.flush()
    return run


# --- the difference between a plan and the bookings in the database --------------------------


@dataclass
class Change:
    request: ServiceRequest
    before: tuple[int, datetime] | None
    after: tuple[int, datetime] | None


@dataclass
class Diff:
    new: list[Change] = field(default_factory=list)
    moved: list[Change] = field(default_factory=list)
    retimed: list[Change] = field(default_factory=list)
    unassigned: list[Change] = field(default_factory=list)
    uncovered: list[Change] = field(default_factory=list)
    unchanged: int = 0
    names: dict[int, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "moved": len(self.moved), "retimed": len(self.retimed),
                "unassigned": len(self.unassigned), "uncovered": len(self.uncovered),
                "unchanged": self.unchanged}

    def changes(self) -> list[Change]:
        return self.new + self.moved + self.retimed + self.unassigned


def booking(row: ServiceRequest) -> tuple[int, datetime] | None:
    """Return (professional id, start) of an active booking, or None."""
    if row.status in ACTIVE and row.professional_id is not None and row.start_at is not None:
        return (row.professional_id, row.start_at)
    return None


def compare(session: Session, *, plan: Plan) -> Diff:
    """Tell what publishing plan would change in today's bookings."""
    target = {row_id(a.request): (row_id(a.professional), a.start) for a in plan.assignments
              if a.request.startswith("R")}
    ids = list(target) + [row_id(u.request) for u in plan.unassigned if u.request.startswith("R")]
    rows = {r.id: r for i in range(0, len(ids), 500) for r in session.scalars(
        sa.select(ServiceRequest).where(ServiceRequest.id.in_(ids[i:i + 500])))}
    diff = Diff()
    for rid in ids:
        row = rows.get(rid)
        if row is None:
            continue
        before, after = booking(row), target.get(rid)
        change = Change(row, before, after)
        if before == after:
            if before is None:
                diff.uncovered.append(change)
            else:
                diff.unchanged += 1
        elif before is None:
            diff.new.append(change)
        elif after is None:
            diff.unassigned.append(change)
        elif before[0] != after[0]:
            diff.moved.append(change)
        else:
            diff.retimed.append(change)
    pro_ids = {c[0] for ch in diff.changes() for c in (ch.before, ch.after) if c}
    if pro_ids:
        diff.names = dict(session.execute(sa.select(Professional.id, Professional.name)
                                          .where(Professional.id.in_(pro_ids))).all())
    for lst in (diff.new, diff.moved, diff.retimed, diff.unassigned, diff.uncovered):
        lst.sort(key=lambda c: (c.request.service_date, c.request.window_start, c.request.id))
    return diff


# --- writing bookings --------------------------------------------------------------------------


def _apply(session: Session, targets: dict[int, tuple[ServiceRequest, tuple | None, bool]]) -> None:
    """Write new bookings; rows are first released so that a chain of moves never clashes midway."""
    session.flush()
    tried = [(rid, t[0], t[1], t[1] + timedelta(minutes=row.duration_min))
             for rid, (row, t, _p) in targets.items() if t is not None]
    # rows changing professional are released by professional, rows keeping theirs by time;
    # Core statements, so the ORM flush below still writes (and audits) each old -> new once
    repro = [rid for rid, (row, t, _p) in targets.items()
             if row.professional_id is not None and (t is None or t[0] != row.professional_id)]
    retime = [rid for rid, (row, t, _p) in targets.items()
              if row.professional_id is not None and t is not None and t[0] == row.professional_id
              and t[1] != row.start_at]
    try:
        with session.begin_nested():
            for ids, values in ((repro, {"professional_id": None}),
                                (retime, {"start_at": None, "end_at": None})):
                if ids:
                    session.execute(sa.update(ServiceRequest).where(ServiceRequest.id.in_(ids))
                                    .values(**values)
                                    .execution_options(synchronize_session=False))
            for row, target, pinned in targets.values():
                _set_booking(row, target, pinned)
            session.flush()
    except sa.exc.IntegrityError as exc:
        message = double_booking_message(session, exc, tried=tried)
        raise ValueError(message or f"professional: {exc.orig}") from exc


def _set_booking(row: ServiceRequest, target: tuple | None, pinned: bool) -> None:
    old_pro = row.professional_id
    if target is None:
        row.professional_id, row.start_at, row.end_at = None, None, None
        row.pinned = False
        if row.status in (RequestStatus.ASSIGNED, RequestStatus.CONFIRMED):
            row.status = RequestStatus.NEW
    else:
        pro_id, start_at = target
        if row.status == RequestStatus.NEW or (
                row.status == RequestStatus.CONFIRMED and old_pro != pro_id):
            row.status = RequestStatus.ASSIGNED  # a new professional confirms again
        row.professional_id, row.start_at = pro_id, start_at
        row.end_at = start_at + timedelta(minutes=row.duration_min)
        row.pinned = pinned


def publish(session: Session, *, run: PlanRun, now: datetime | None = None) -> Diff:
    """Write a draft run's plan into the bookings in one transaction, audited."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(PlanRun.id).where(PlanRun.id == run.id).with_for_update())
        session.refresh(run)
    if run.status != RunStatus.DRAFT:
        raise ValueError(f"status: run #{run.id} is {run.status}, only a draft can be published")
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
        raise ValueError(f"plan: {len(stale)} services changed since this plan was computed "
                         f"({shown}); run a new plan")
    # a pin survives a new start time with its professional, not a new professional
    _apply(session, {ch.request.id: (ch.request, ch.after, bool(
        ch.request.pinned and ch.before and ch.after and ch.before[0] == ch.after[0]))
        for ch in diff.changes()})
    run.status = RunStatus.PUBLISHED
    run.decided_at = utcnow()
    run.decided_by = audit.current_actor().label
    run.diff_counts = diff.counts()
    session.flush()
    audit.record(session, action="publish_plan", entity="plan_run", entity_id=run.id,
                 changes=diff.counts(), note=f"score {run.score}")
    return diff


def discard(session: Session, *, run: PlanRun) -> PlanRun:
    """Set a draft run aside without touching any booking."""
    if run.status != RunStatus.DRAFT:
        raise ValueError(f"status: run #{run.id} is {run.status}, only a draft can be discarded")
    run.status = RunStatus.DISCARDED
    run.decided_at, run.decided_by = utcnow(), audit.current_actor().label
    session.flush()
    audit.record(session, action="discard_plan", entity="plan_run", entity_id=run.id)
    return run


@event.listens_for(Session, "before_flush")
def _note_bookings(session: Session, _ctx, _instances) -> None:
    # kept until the flush succeeds: a failed commit expires the rows, and the message needs them
    tried = []
    for o in list(session.new) + list(session.dirty):
        if isinstance(o, ServiceRequest) and o.start_at and o.end_at:
            pro = o.__dict__.get("professional")  # a form sets the relation, not yet the key
            pro_id = pro.id if pro is not None else o.professional_id
            if pro_id is not None:
                tried.append((o.id, pro_id, o.start_at, o.end_at))
    session.info["bookings_tried"] = tried


@event.listens_for(Session, "after_flush_postexec")
def _forget_bookings(session: Session, _ctx) -> None:
    session.info.pop("bookings_tried", None)


def is_double_booking(exc: BaseException) -> bool:
    """Tell whether a database error is the double-booking guard refusing a write."""
    text = str(getattr(exc, "orig", exc))
    return isinstance(exc, sa.exc.IntegrityError) and any(g in text for g in GUARD_NAMES)


def conflict(session: Session, *, professional_id: int, start_at: datetime, end_at: datetime,
             exclude_id: int | None = None) -> str | None:
    """Return "<pro> is already booked 09:00–11:00 for request #123" if the slot clashes."""
    other = session.scalars(
        sa.select(ServiceRequest).where(
            ServiceRequest.professional_id == professional_id,
            ServiceRequest.status.in_(ACTIVE), ServiceRequest.id != (exclude_id or -1),
            ServiceRequest.start_at < end_at, ServiceRequest.end_at > start_at,
        ).order_by(ServiceRequest.start_at).limit(1)
    ).first()
    if other is None:
        return None
    name = session.scalar(sa.select(Professional.name).where(Professional.id == professional_id))
    return (f"{name} is already booked {other.start_at:%H:%M}–{other.end_at:%H:%M} "
            f"on {other.start_at:%d/%m} for request #{other.id}")


def double_booking_message(session: Session, exc: BaseException, *,
                           tried: list[tuple] | None = None) -> str | None:
    """Turn the guard's error into a message naming the clash (rolls a failed session back).

    tried lists (request id, professional id, start, end) of the writes attempted; by default
    the bookings of the session's failed flush.
    """
    if not is_double_booking(exc):
        return None
    if tried is None:
        tried = session.info.get("bookings_tried", [])
    if not session.is_active:
        session.rollback()
    for rid, pro_id, start_at, end_at in tried:
        message = conflict(session, professional_id=pro_id, start_at=start_at, end_at=end_at,
                           exclude_id=rid)
        if message:
            return message
    return "professional: already booked at that time (another agent booked them just now)"


# --- agents' manual bookings: pin, unassign, swap ------------------------------------------------


def _check_fit(session: Session, *, row: ServiceRequest, pro: Professional,
               start_at: datetime) -> None:
    if row.status not in PLANNED:
        raise ValueError(f"status: a {row.status} service cannot be rebooked")
    if pro.status != ProfessionalStatus.APPROVED:
        raise ValueError(f"professional: {pro.name} is {pro.status}, not approved")
    if row.skill not in pro.skill_list:
        raise ValueError(f"professional: {pro.name} does not do {row.skill}")
    if row.client_id in {c.id for c in pro.excluded_clients}:
        raise ValueError(f"professional: {pro.name} does not work for this client")
    if start_at.date() != row.service_date or not (
            row.window_start <= start_at.time() <= row.window_end):
        raise ValueError(f"start_at: the client's window is {row.window_start:%H:%M}–"
                         f"{row.window_end:%H:%M} on {row.service_date:%d/%m}")
    end_at = start_at + timedelta(minutes=row.duration_min)
    shifts = shifts_on(pro, row.service_date)
    if not any(s0 <= start_at and end_at <= s1 for s0, s1 in shifts):
        hours = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in shifts) or "no hours (day off)"
        raise ValueError(f"start_at: {pro.name} works {hours} on {row.service_date:%d/%m}; "
                         f"the service would run {start_at:%H:%M}–{end_at:%H:%M}")
    clash = conflict(session, professional_id=pro.id, start_at=start_at, end_at=end_at,
                     exclude_id=row.id)
    if clash:
        raise ValueError(f"professional: {clash}")


def _audit_booking(session: Session, action: str, row: ServiceRequest, **changes) -> None:
    audit.record(session, action=action, entity="service_request", entity_id=row.id,
                 changes={k: audit._plain(v) for k, v in changes.items()})


def pin(session: Session, *, request: ServiceRequest, professional: Professional,
        start_at: datetime) -> ServiceRequest:
    """Book a professional for a service by hand; later plans keep it."""
    _check_fit(session, row=request, pro=professional, start_at=start_at)
    _apply(session, {request.id: (request, (professional.id, start_at), True)})
    _audit_booking(session, "pin", request, professional=professional.id, start_at=start_at)
    return request


def keep(session: Session, *, request: ServiceRequest) -> ServiceRequest:
    """Pin a service's current booking so later plans keep it."""
    if booking(request) is None or request.status not in PLANNED:
        raise ValueError("professional: only a booked service can be pinned")
    request.pinned = True
    session.flush()
    return request


def unassign(session: Session, *, request: ServiceRequest) -> ServiceRequest:
    """Release a service's professional; it goes back to the services to cover."""
    if request.status not in PLANNED:
        raise ValueError(f"status: a {request.status} service cannot be unassigned")
    _apply(session, {request.id: (request, None, False)})
    _audit_booking(session, "unassign", request)
    return request


def swap(session: Session, *, first: ServiceRequest, second: ServiceRequest) -> None:
    """Exchange the professionals of two booked services, each keeping its start; both pinned."""
    a, b = booking(first), booking(second)
    if a is None or b is None or first.id == second.id:
        raise ValueError("request: choose two different booked services to swap")
    pros = {p.id: p for p in session.scalars(
        sa.select(Professional).where(Professional.id.in_([a[0], b[0]]))
        .options(selectinload(Professional.shifts), selectinload(Professional.time_off),
                 selectinload(Professional.excluded_clients)))}
    targets = {first.id: (first, (b[0], a[1]), True), second.id: (second, (a[0], b[1]), True)}
    for row, (pro_id, start_at), _ in targets.values():
        pro = pros[pro_id]
        if row.skill not in pro.skill_list or row.client_id in {c.id for c in pro.excluded_clients}:
            raise ValueError(f"professional: {pro.name} cannot take request #{row.id}")
        end_at = start_at + timedelta(minutes=row.duration_min)
        if not any(s0 <= start_at and end_at <= s1 for s0, s1 in shifts_on(pro, row.service_date)):
            raise ValueError(f"start_at: {pro.name} does not work {start_at:%H:%M}–{end_at:%H:%M}"
                             f" on {row.service_date:%d/%m} (request #{row.id})")
    _apply(session, targets)
    audit.record(session, action="swap", entity="service_request", entity_id=first.id,
                 changes={"with": second.id})


# --- coverage ---------------------------------------------------------------------------------


COUNTED = PLANNED + (RequestStatus.IN_PROGRESS, RequestStatus.DONE)


@dataclass
class Cell:
    day: date
    zone: str
    skill: str
    requests: int
    covered: int


def coverage_cells(session: Session, *, start: date, days: int = HORIZON_DAYS) -> list[Cell]:
    """Count requested and covered services per day, zone and skill (cancelled ones left out)."""
    covered = sa.case((sa.and_(ServiceRequest.status != RequestStatus.NEW,
                               ServiceRequest.professional_id.is_not(None)), 1), else_=0)
    rows = session.execute(
        sa.select(ServiceRequest.service_date, ServiceRequest.zone, ServiceRequest.skill,
                  sa.func.count(), sa.func.sum(covered))
        .where(ServiceRequest.service_date >= start,
               ServiceRequest.service_date < start + timedelta(days=days),
               ServiceRequest.status.in_(COUNTED))
        .group_by(ServiceRequest.service_date, ServiceRequest.zone, ServiceRequest.skill)
    )
    return [Cell(d, z or "", s, n, int(c or 0)) for d, z, s, n, c in rows]


def record_coverage(session: Session, *, today: date, run_id: int | None = None,
                    days: int = HORIZON_DAYS) -> int:
    """Store today's coverage of the horizon (again if already taken today); return rows."""
    from assignment.models import CoverageSnapshot

    session.execute(sa.delete(CoverageSnapshot).where(CoverageSnapshot.taken_on == today))
    cells = coverage_cells(session, start=today, days=days)
    session.add_all(CoverageSnapshot(taken_on=today, day=c.day, zone=c.zone, skill=c.skill,
                                     requests=c.requests, covered=c.covered, run_id=run_id)
                    for c in cells)
    session.flush()
    return len(cells)


def coverage_history(session: Session, *, since: date) -> list[tuple[date, int, int]]:
    """Return (day taken, services, covered) of each snapshot since a date."""
    from assignment.models import CoverageSnapshot as S

    return [tuple(r) for r in session.execute(
        sa.select(S.taken_on, sa.func.sum(S.requests), sa.func.sum(S.covered))
        .where(S.taken_on >= since).group_by(S.taken_on).order_by(S.taken_on))]


def latest_run(session: Session, *, status: RunStatus | None = None) -> PlanRun | None:
    """Return the newest run that was not discarded (or with the given status)."""
    q = sa.select(PlanRun).order_by(PlanRun.id.desc()).limit(1)
    q = q.where(PlanRun.status == status) if status else q.where(
        PlanRun.status != RunStatus.DISCARDED)
    return session.scalars(q).first()


def at_risk(session: Session, *, start: date, days: int = HORIZON_DAYS,
            limit: int = 200) -> list[dict]:
    """List the uncovered services of the horizon with the latest run's reasons and suggestion."""
    rows = list(session.scalars(
        sa.select(ServiceRequest).where(
            ServiceRequest.service_date >= start,
            ServiceRequest.service_date < start + timedelta(days=days),
            ServiceRequest.status == RequestStatus.NEW)
        .order_by(ServiceRequest.service_date, ServiceRequest.priority.desc(),
                  ServiceRequest.window_start, ServiceRequest.id).limit(limit)))
    run = latest_run(session)
    why = {u["request"]: u for u in (run.plan["unassigned"] if run else [])}
    names = {}
    pro_ids = {row_id(r["professional"]) for u in why.values() for r in u["reasons"]
               if r.get("professional")}
    pro_ids |= {int(m) for u in why.values() for m in _PRO_RE.findall(u.get("suggestion") or "")}
    if pro_ids:
        names = dict(session.execute(sa.select(Professional.id, Professional.name)
                                     .where(Professional.id.in_(pro_ids))).all())
    out = []
    for r in rows:
        u = why.get(req_key(r.id))
        reasons = [
            {"professional": names.get(row_id(x["professional"]), x["professional"])
             if x.get("professional") else None, "rule": x["rule"],
             "detail": humanise(x.get("detail"), names)}
            for x in (u["reasons"] if u else [])
        ]
        out.append({"request": r, "reasons": reasons,
                    "suggestion": humanise(u.get("suggestion") if u else None, names),
                    "planned": u is not None})
    return out


def humanise(text: str | None, names: dict[int, str]) -> str | None:
    """Replace the engine's P12 / R34 ids in a sentence with names and #34."""
    if not text:
        return text
    text = _PRO_RE.sub(lambda m: names.get(int(m.group(1)), m.group(0)), text)
    return _REQ_RE.sub(lambda m: f"#{m.group(1)}", text)


# --- what-if: nothing is written ---------------------------------------------------------------


@dataclass
class WhatIf:
    before_pct: float
    after_pct: float
    requests: int
    extra: int
    extra_covered: int
    diff: Diff
    plan: Plan


def what_if(
    session: Session, *, start: date, days: int = HORIZON_DAYS, now: datetime | None = None,
    absent_professional: int | None = None, absent_from: date | None = None,
    absent_to: date | None = None, spike_zone: str | None = None, spike_pct: int = 0,
    time_limit_s: float = 5.0, seed: int = 1,
) -> WhatIf:
    """Simulate an absence or a demand spike on the current bookings, in memory only."""
    absent = {}
    if absent_professional is not None:
        lo, hi = absent_from or start, absent_to or (absent_from or start)
        absent[absent_professional] = {lo + timedelta(days=i) for i in range((hi - lo).days + 1)}
    built = build_problem(session, start=start, days=days, now=now, absent=absent)
    problem, extra = built.problem, []
    if spike_zone and spike_pct > 0:
        rng = random.Random(seed)
        pool = [r for r in problem.requests
                if built.requests[row_id(r.id)].zone == spike_zone]
        for i in range(math.ceil(len(pool) * spike_pct / 100)):
            r = rng.choice(pool)
            extra.append(replace(r, id=f"X{i + 1}", client=f"X{i + 1}",
                                 required_professional=None,
                                 window_start=r.window_start, window_end=r.window_end))
        problem = replace(problem, requests=problem.requests + tuple(extra))
    plan = solver.repair(problem, time_limit_s=time_limit_s)
    held = sum(1 for v in built.base.values() if v is not None)
    n = len(built.problem.requests)
    extra_ids = {x.id for x in extra}
    return WhatIf(
        before_pct=100.0 * held / n if n else 100.0,
        after_pct=100.0 * plan.score.covered / len(problem.requests) if problem.requests else 100.0,
        requests=n, extra=len(extra),
        extra_covered=sum(1 for a in plan.assignments if a.request in extra_ids),
        diff=compare(session, plan=plan), plan=plan,
    )


# --- bookings a professional can no longer hold -------------------------------------------------


def affected_bookings(session: Session, *, now: datetime, days: int = HORIZON_DAYS,
                      professional_id: int | None = None) -> list[ServiceRequest]:
    """Return the coming bookings whose professional is suspended, off, or out of shift."""
    q = sa.select(ServiceRequest).where(
        ServiceRequest.service_date >= now.date(),
        ServiceRequest.service_date < now.date() + timedelta(days=days),
        ServiceRequest.status.in_((RequestStatus.ASSIGNED, RequestStatus.CONFIRMED)),
        ServiceRequest.professional_id.is_not(None), ServiceRequest.start_at >= now,
    ).order_by(ServiceRequest.start_at, ServiceRequest.id)
    if professional_id is not None:
        q = q.where(ServiceRequest.professional_id == professional_id)
    rows = list(session.scalars(q))
    pros = {p.id: p for p in session.scalars(
        sa.select(Professional).where(Professional.id.in_({r.professional_id for r in rows}))
        .options(selectinload(Professional.shifts), selectinload(Professional.time_off)))}
    out = []
    for r in rows:
        pro = pros[r.professional_id]
        if r.end_at is None or not any(s0 <= r.start_at and r.end_at <= s1 for s0, s1 in
                                       available_shifts(pro, r.service_date)):
            out.append(r)
    return out


def professional_unavailable(session: Session, *, professional_id: int, now: datetime) -> int:
    """Note that a professional stopped working (suspended, off); return the services to move.

    Called from web requests (vetting, the professional form): it only counts and audits; the
    scheduler's replan_affected job moves the services within seconds.
    """
    n = len(affected_bookings(session, now=now, professional_id=professional_id))
    if n:
        audit.record(session, action="replan_requested", entity="professional",
                     entity_id=professional_id, changes={"services": n})
    return n
