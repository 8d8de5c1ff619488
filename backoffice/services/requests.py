"""Service request transitions used by the panel, the jobs and the engine's publisher."""

from datetime import datetime

from sqlalchemy.orm import Session

from backoffice.i18n import Refusal
from backoffice.models import RequestStatus, ServiceRequest

OPEN = (RequestStatus.NEW, RequestStatus.ASSIGNED, RequestStatus.CONFIRMED)


def confirm(session: Session, *, request: ServiceRequest) -> ServiceRequest:
    """Confirm an assigned service with its professional."""
    if request.status != RequestStatus.ASSIGNED:
        raise Refusal("status: only an assigned service can be confirmed (it is %(status)s)",
                      status=RequestStatus(request.status))
    request.status = RequestStatus.CONFIRMED
    session.flush()
    return request


def cancel(
    session: Session, *, request: ServiceRequest, reason: str, now: datetime
) -> ServiceRequest:
    """Cancel a service that has not happened yet, with a reason."""
    if request.status not in OPEN:
        raise Refusal("status: a %(status)s service cannot be cancelled",
                      status=RequestStatus(request.status))
    if not reason:
        raise Refusal("cancellation_reason: a reason is required")
    request.status = RequestStatus.CANCELLED
    request.cancellation_reason = reason
    session.flush()
    return request
