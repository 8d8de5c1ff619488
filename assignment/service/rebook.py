"""Rebooking a service that did not happen: the earliest slot that fits, booked as a new service.

The slot keeps the rules a hand booking keeps (bookings.pin: skill, status, excluded clients,
the client's window, the professional's shift and time off, no clash); among professionals
free at the same earliest start, the nearest to the client is taken. The professional who did
not turn up is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from assignment.service.bookings import pin
from assignment.service.rows import ACTIVE
from backoffice import audit
from backoffice.geo import haversine_km
from backoffice.i18n import Refusal
from backoffice.models import (
    Professional,
    ProfessionalStatus,
    RequestStatus,
    ServiceRequest,
)
from backoffice.services.professionals import shifts_on

STEP = timedelta(minutes=15)
SEARCH_DAYS = 14


@dataclass(frozen=True)
class Slot:
    professional_id: int
    professional_name: str
    start_at: datetime
    km: float | None


def earliest_slot(session: Session, *, request: ServiceRequest, now: datetime,
                  days: int = SEARCH_DAYS, skip_professional_id: int | None = None
                  ) -> Slot | None:
    """Return the earliest slot from tomorrow on where the service fits, or None in days."""
    pros = session.scalars(
        sa.select(Professional).where(Professional.status == ProfessionalStatus.APPROVED,
                                      Professional.skills.like(f"%{request.skill}%"))
        .options(selectinload(Professional.shifts), selectinload(Professional.time_off),
                 selectinload(Professional.excluded_clients))).all()
    pros = [p for p in pros if request.skill in p.skill_list and p.id != skip_professional_id
            and request.client_id not in {c.id for c in p.excluded_clients}]
    if not pros:
        return None
    first = max(now.date() + timedelta(days=1), request.service_date + timedelta(days=1))
    length = timedelta(minutes=request.duration_min)
    for offset in range(days):
        day = first + timedelta(days=offset)
        busy = _busy(session, [p.id for p in pros], day)
        best: Slot | None = None
        for pro in pros:
            start = _first_free(pro, day, request, length, busy.get(pro.id, []))
            if start is None:
                continue
            km = (haversine_km(pro.lat, pro.lon, request.lat, request.lon)
                  if None not in (pro.lat, pro.lon, request.lat, request.lon) else None)
            candidate = Slot(pro.id, pro.name, start, km)
            if best is None or (start, km if km is not None else 1e9) < (
                    best.start_at, best.km if best.km is not None else 1e9):
                best = candidate
        if best is not None:
            return best
    return None


def _busy(session: Session, pro_ids: list[int], day: date) -> dict[int, list[tuple]]:
    start = datetime.combine(day, datetime.min.time())
    rows = session.execute(
        sa.select(ServiceRequest.professional_id, ServiceRequest.start_at, ServiceRequest.end_at)
        .where(ServiceRequest.professional_id.in_(pro_ids),
               ServiceRequest.status.in_(ACTIVE),
               ServiceRequest.start_at >= start,
               ServiceRequest.start_at < start + timedelta(days=1)))
    busy: dict[int, list[tuple]] = {}
    for pro_id, s, e in rows:
        busy.setdefault(pro_id, []).append((s, e))
    return busy


def _first_free(pro: Professional, day: date, request: ServiceRequest, length: timedelta,
                busy: list[tuple]) -> datetime | None:
    window_from = datetime.combine(day, request.window_start)
    window_to = datetime.combine(day, request.window_end)
    for shift_start, shift_end in shifts_on(pro, day):
        start = max(shift_start, window_from)
        start += (datetime.min - start) % STEP  # on the quarter hour
        while start <= window_to and start + length <= shift_end:
            end = start + length
            if not any(s < end and e > start for s, e in busy):
                return start
            start += STEP
    return None


def rebook(session: Session, *, request: ServiceRequest, slot: Slot,
           now: datetime) -> ServiceRequest:
    """Book the service again as a new service at the slot; the one that did not happen stays."""
    if request.status not in (RequestStatus.NO_SHOW, RequestStatus.CANCELLED):
        raise Refusal("status: only a service that did not happen is rebooked (it is %(status)s)",
                      status=RequestStatus(request.status))
    if slot.start_at <= now:
        raise Refusal("start_at: the slot has passed; look for a new one")
    pro = session.get(Professional, slot.professional_id)
    again = ServiceRequest(
        client_id=request.client_id, skill=request.skill, address=request.address,
        lat=request.lat, lon=request.lon, zone=request.zone, service_date=slot.start_at.date(),
        window_start=request.window_start, window_end=request.window_end,
        duration_min=request.duration_min, priority=request.priority,
        price_cents=request.price_cents, preferred_professional_id=slot.professional_id)
    session.add(again)
    session.flush()
    pin(session, request=again, professional=pro, start_at=slot.start_at)
    audit.record(session, action="rebooked", entity="service_request", entity_id=request.id,
                 changes={"as": again.id, "professional": pro.id,
                          "start_at": audit.plain(slot.start_at)})
    return again
