"""Rows into a Problem: who can work when, which bookings bind, what is planned."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from assignment.problem import (
    Assignment,
    Location,
    Problem,
    Request,
    Shift,
    format_time,
)
from assignment.problem import Professional as ProPlain
from assignment.service.worked import add_blocks, minutes_worked
from backoffice.geo import ZONES
from backoffice.models import Professional, ProfessionalStatus, RequestStatus, ServiceRequest
from backoffice.services.professionals import shifts_on

HORIZON_DAYS = 14
PLANNED = (RequestStatus.NEW, RequestStatus.ASSIGNED, RequestStatus.CONFIRMED)
ACTIVE = (RequestStatus.ASSIGNED, RequestStatus.CONFIRMED, RequestStatus.IN_PROGRESS)
VALENCIA = (39.4699, -0.3763)  # where a request without coordinates is assumed to be


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
    """Build the problem of the services in [start, start + days) that can still be planned.

    Minutes worked that week outside the problem count against weekly caps as blocks (see
    `worked`); `without_blocks` takes them out of the plan the engine returns.
    """
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
    # what the weekly caps already hold: earlier that week, and bookings the planner leaves be
    worked = {(pro_key(pid), week): m for (pid, week), m in
              minutes_worked(session, start=start, end=end, now=now).items()}
    plain, blocks, held = add_blocks(plain, worked,
                                     priority=1 + sum(r.priority for r in requests))
    problem = Problem(professionals=tuple(plain), requests=tuple(requests + blocks),
                      speed_kmh=speed_kmh, current_plan=tuple(current + held))
    return Built(problem, base, {r.id: r for r in planned}, by_id, broken)


def booking(row: ServiceRequest) -> tuple[int, datetime] | None:
    """Return (professional id, start) of an active booking, or None."""
    if row.status in ACTIVE and row.professional_id is not None and row.start_at is not None:
        return (row.professional_id, row.start_at)
    return None
