"""Writing bookings: the double-booking guard, agents' pin/unassign/swap, lost bookings."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from assignment.service.rows import (
    ACTIVE,
    HORIZON_DAYS,
    PLANNED,
    available_shifts,
    booking,
)
from backoffice import audit
from backoffice.i18n import Code, Refusal
from backoffice.models import Professional, ProfessionalStatus, RequestStatus, ServiceRequest
from backoffice.services import requests
from backoffice.services.professionals import shifts_on

GUARD_NAMES = ("service_request_no_double_booking", "double booking:")


def apply_bookings(
    session: Session, targets: dict[int, tuple[ServiceRequest, tuple | None, bool]]
) -> None:
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
                _set_booking(session, row, target, pinned)
            session.flush()
    except sa.exc.IntegrityError as exc:
        refusal = double_booking_message(session, exc, tried=tried)
        raise (refusal or ValueError(f"professional: {exc.orig}")) from exc


def _set_booking(session: Session, row: ServiceRequest, target: tuple | None,
                 pinned: bool) -> None:
    old_pro = row.professional_id
    if target is None:
        row.professional_id, row.start_at, row.end_at = None, None, None
        row.pinned = False
        if row.status in (RequestStatus.ASSIGNED, RequestStatus.CONFIRMED):
            requests.transition(session, request=row, to=RequestStatus.NEW, now=datetime.now())
        return
    pro_id, start_at = target
    row.professional_id, row.start_at = pro_id, start_at
    row.end_at = start_at + timedelta(minutes=row.duration_min)
    row.pinned = pinned
    if row.status == RequestStatus.NEW or (
            row.status == RequestStatus.CONFIRMED and old_pro != pro_id):
        # a new professional confirms again
        requests.transition(session, request=row, to=RequestStatus.ASSIGNED, now=datetime.now())


def is_double_booking(exc: BaseException) -> bool:
    """Tell whether a database error is the double-booking guard refusing a write."""
    text = str(getattr(exc, "orig", exc))
    return isinstance(exc, sa.exc.IntegrityError) and any(g in text for g in GUARD_NAMES)


def conflict(session: Session, *, professional_id: int, start_at: datetime, end_at: datetime,
             exclude_id: int | None = None) -> str | None:
    """Return "<pro> is already booked 09:00–11:00 for request #123" if the slot clashes."""
    refusal = conflict_refusal(session, professional_id=professional_id, start_at=start_at,
                               end_at=end_at, exclude_id=exclude_id)
    return None if refusal is None else str(refusal).removeprefix("professional: ")


def conflict_refusal(session: Session, *, professional_id: int, start_at: datetime,
                     end_at: datetime, exclude_id: int | None = None) -> Refusal | None:
    """Return the refusal naming the booking a slot clashes with, worded per reader."""
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
    return Refusal("professional: %(name)s is already booked %(start)s–%(end)s on %(day)s for "
                   "request #%(id)d", name=name, start=f"{other.start_at:%H:%M}",
                   end=f"{other.end_at:%H:%M}", day=f"{other.start_at:%d/%m}", id=other.id)


def double_booking_message(session: Session, exc: BaseException, *,
                           tried: list[tuple] = ()) -> Refusal | None:
    """Turn the guard's error into a message naming the clash (rolls a failed session back).

    tried lists (request id, professional id, start, end) of the writes attempted.
    """
    if not is_double_booking(exc):
        return None
    if not session.is_active:
        session.rollback()
    for rid, pro_id, start_at, end_at in tried:
        refusal = conflict_refusal(session, professional_id=pro_id, start_at=start_at,
                                   end_at=end_at, exclude_id=rid)
        if refusal is not None:
            return refusal
    return Refusal("professional: already booked at that time (another agent booked them just "
                   "now)")


# --- agents' manual bookings: pin, unassign, swap ------------------------------------------------


def _check_fit(session: Session, *, row: ServiceRequest, pro: Professional,
               start_at: datetime) -> None:
    if row.status not in PLANNED:
        raise Refusal("status: a %(status)s service cannot be rebooked",
                      status=RequestStatus(row.status))
    if pro.status != ProfessionalStatus.APPROVED:
        raise Refusal("professional: %(name)s is %(status)s, not approved", name=pro.name,
                      status=ProfessionalStatus(pro.status))
    if row.skill not in pro.skill_list:
        raise Refusal("professional: %(name)s does not do %(skill)s", name=pro.name,
                      skill=Code(row.skill))
    if row.client_id in {c.id for c in pro.excluded_clients}:
        raise Refusal("professional: %(name)s does not work for this client", name=pro.name)
    if start_at.date() != row.service_date or not (
            row.window_start <= start_at.time() <= row.window_end):
        raise Refusal("start_at: the client's window is %(start)s–%(end)s on %(day)s",
                      start=f"{row.window_start:%H:%M}", end=f"{row.window_end:%H:%M}",
                      day=f"{row.service_date:%d/%m}")
    end_at = start_at + timedelta(minutes=row.duration_min)
    shifts = shifts_on(pro, row.service_date)
    if not shifts:
        raise Refusal("start_at: %(name)s has the day off on %(day)s", name=pro.name,
                      day=f"{row.service_date:%d/%m}")
    if not any(s0 <= start_at and end_at <= s1 for s0, s1 in shifts):
        hours = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in shifts)
        raise Refusal("start_at: %(name)s works %(hours)s on %(day)s; the service would run "
                      "%(start)s–%(end)s", name=pro.name, hours=hours,
                      day=f"{row.service_date:%d/%m}", start=f"{start_at:%H:%M}",
                      end=f"{end_at:%H:%M}")
    clash = conflict_refusal(session, professional_id=pro.id, start_at=start_at,
                             end_at=end_at, exclude_id=row.id)
    if clash is not None:
        raise clash


def _audit_booking(session: Session, action: str, row: ServiceRequest, **changes) -> None:
    audit.record(session, action=action, entity="service_request", entity_id=row.id,
                 changes={k: audit.plain(v) for k, v in changes.items()})


def pin(session: Session, *, request: ServiceRequest, professional: Professional,
        start_at: datetime) -> ServiceRequest:
    """Book a professional for a service by hand; later plans keep it."""
    _check_fit(session, row=request, pro=professional, start_at=start_at)
    apply_bookings(session, {request.id: (request, (professional.id, start_at), True)})
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
        raise Refusal("status: a %(status)s service cannot be unassigned",
                      status=RequestStatus(request.status))
    apply_bookings(session, {request.id: (request, None, False)})
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
            raise Refusal("professional: %(name)s cannot take request #%(id)d", name=pro.name,
                          id=row.id)
        end_at = start_at + timedelta(minutes=row.duration_min)
        if not any(s0 <= start_at and end_at <= s1 for s0, s1 in shifts_on(pro, row.service_date)):
            raise Refusal("start_at: %(name)s does not work %(start)s–%(end)s on %(day)s "
                          "(request #%(id)d)", name=pro.name, start=f"{start_at:%H:%M}",
                          end=f"{end_at:%H:%M}", day=f"{row.service_date:%d/%m}", id=row.id)
    apply_bookings(session, targets)
    audit.record(session, action="swap", entity="service_request", entity_id=first.id,
                 changes={"with": second.id})



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
