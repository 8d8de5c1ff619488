"""Professional operations: status changes that other domains react to."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.models import Professional, ProfessionalStatus, RequestStatus, ServiceRequest


def set_status(
    session: Session, *, professional: Professional, status: ProfessionalStatus
) -> Professional:
    """Change a professional's status."""
    professional.status = status
    session.flush()
    return professional


def shifts_on(professional: Professional, day: date) -> list[tuple[datetime, datetime]]:
    """Return the professional's working shifts on a day, none if the day is time off."""
    if any(t.starts_on <= day <= t.ends_on for t in professional.time_off):
        return []
    return [
        (datetime.combine(day, s.start_time), datetime.combine(day, s.end_time))
        for s in sorted(professional.shifts, key=lambda s: s.start_time)
        if s.weekday == day.weekday()
    ]


def upcoming_services(
    session: Session, *, professional_id: int, since: datetime
) -> list[ServiceRequest]:
    """Return the services a professional holds from since on, in order of start."""
    return list(
        session.scalars(
            sa.select(ServiceRequest)
            .where(
                ServiceRequest.professional_id == professional_id,
                ServiceRequest.start_at >= since,
                ServiceRequest.status.in_(
                    [RequestStatus.ASSIGNED, RequestStatus.CONFIRMED]
                ),
            )
            .order_by(ServiceRequest.start_at)
        )
    )
