"""Professional operations: status changes that other domains react to."""

from collections.abc import Mapping
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit, erasure
from backoffice.i18n import Refusal
from backoffice.models import (
    Professional,
    ProfessionalStatus,
    RequestStatus,
    ServiceRequest,
    TimeOff,
)
from backoffice.optional import optional_module

# Domains that hold a professional's data outside the core tables (vetting's files), asked by
# name so the core does not depend on them; each has erase_professional(session, ..., config).
DOMAIN_ERASERS = ("vetting.erasure",)


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


def erase(session: Session, *, professional: Professional, now: datetime,
          config: Mapping | None = None) -> list[str]:
    """Erase a professional's personal data in every table; return the fields erased.

    A professional who still holds coming services is refused: those go to someone else first."""
    if professional.erased_at is not None:
        raise Refusal("status: this professional's personal data is already erased")
    if upcoming_services(session, professional_id=professional.id, since=now):
        raise Refusal("status: %(name)s still holds coming services; move them to someone "
                      "else first", name=professional.name)
    former = erasure.former_values(
        session, entity="professional", entity_id=professional.id,
        current=[professional.name, professional.email, professional.phone,
                 professional.address, professional.notes])
    fields = [f for f in ("name", "email", "phone", "address", "notes", "lat", "lon")
              if getattr(professional, f) is not None]
    if professional.status != ProfessionalStatus.OFFBOARDED:
        set_status(session, professional=professional, status=ProfessionalStatus.OFFBOARDED)
    former += erasure.cells(session, TimeOff.reason,
                            where=TimeOff.professional_id == professional.id)
    for name in DOMAIN_ERASERS:
        module = optional_module(name)
        if module is not None:
            former += module.erase_professional(session, professional=professional,
                                                config=config)
    session.flush()
    session.execute(sa.update(Professional).where(Professional.id == professional.id).values(
        name=f"Erased professional {professional.id}", email=None, phone=None, address=None,
        notes=None, lat=None, lon=None, erased_at=now, version=Professional.version + 1))
    session.execute(sa.update(TimeOff).where(TimeOff.professional_id == professional.id)
                    .values(reason=None))  # a reason for time off can be about health
    erasure.erase_record_history(session, entity="professional", ids=[professional.id])
    erasure.scrub_everywhere(session, erasure.longest_first(former))
    audit.record(session, action="erase", entity="professional", entity_id=professional.id,
                 changes={"erased": fields})
    session.expire(professional)
    return fields
