"""The states of a service request, the table of legal moves, and the one transition function.

Every door that changes a request's status (the panel's actions, bulk actions, the booking
page, the engine's publisher and its jobs, the CLI) ends in transition(); the named actions
below only say which move they mean.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.i18n import Refusal
from backoffice.models import (
    AuditEvent,
    Client,
    Professional,
    RequestStatus,
    ServiceRequest,
)
from backoffice.optional import optional_module

S = RequestStatus
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    S.NEW: frozenset({S.ASSIGNED, S.CANCELLED}),
    # Assigned again: the booking moved to another professional, who confirms anew.
    S.ASSIGNED: frozenset({S.ASSIGNED, S.NEW, S.CONFIRMED, S.IN_PROGRESS, S.DONE, S.NO_SHOW,
                           S.CANCELLED}),
    S.CONFIRMED: frozenset({S.ASSIGNED, S.NEW, S.IN_PROGRESS, S.DONE, S.NO_SHOW, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.DONE, S.NO_SHOW}),
    S.DONE: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
}
OPEN = (S.NEW, S.ASSIGNED, S.CONFIRMED)
# What an agent's action means: (the action's name, the state it moves to).
ACTIONS = {"confirm": S.CONFIRMED, "cancel": S.CANCELLED, "complete": S.DONE,
           "no_show": S.NO_SHOW, "client_no_show": S.NO_SHOW}
# Who did not turn up. A professional's no-show is an incident against them (vetting counts
# incidents towards a re-review); a client's is not.
NO_SHOW_BY = ("professional", "client")


def is_legal(current: RequestStatus, to: RequestStatus) -> bool:
    """Tell whether the table allows moving from current to to."""
    return RequestStatus(to) in TRANSITIONS[RequestStatus(current)]


def blockers(request: ServiceRequest, to: RequestStatus, *, reason: str | None,
             now: datetime) -> list[Refusal]:
    """Return why a move the table allows cannot happen now (empty: it can)."""
    booked = request.professional_id is not None and request.start_at is not None
    problems = []
    if to in (S.ASSIGNED, S.CONFIRMED, S.IN_PROGRESS, S.DONE, S.NO_SHOW) and not booked:
        problems.append(Refusal("professional: the service has no professional and start yet; "
                                "book it on its booking page"))
    if to == S.NEW and request.professional_id is not None:
        problems.append(Refusal("professional: release the professional to put the service "
                                "back among those to cover"))
    if to in (S.IN_PROGRESS, S.DONE, S.NO_SHOW) and booked and request.start_at > now:
        problems.append(Refusal("start_at: the service starts %(start)s; it cannot be %(to)s "
                                "before then", start=f"{request.start_at:%d/%m %H:%M}", to=to))
    if to == S.CANCELLED and not (reason or "").strip():
        problems.append(Refusal("cancellation_reason: a reason is required"))
    return problems


def transition(session: Session, *, request: ServiceRequest, to: RequestStatus | str,
               now: datetime, reason: str | None = None) -> ServiceRequest:
    """Move a service request to another state, or raise Refusal saying why it cannot."""
    current = RequestStatus(request.status)
    try:
        to = RequestStatus(to)
    except ValueError:
        raise Refusal("status: unknown state %(to)s", to=str(to)) from None
    if not is_legal(current, to):
        raise Refusal("status: a %(current)s service cannot become %(to)s", current=current,
                      to=to)
    problems = blockers(request, to, reason=reason, now=now)
    if problems:
        raise problems[0]
    request.status = to
    if to == S.CANCELLED:
        request.cancellation_reason = reason.strip()
    session.flush()  # the audit trail records the move with the flush
    return request


def allowed_actions(request: ServiceRequest, *, now: datetime) -> list[str]:
    """Return the agent's actions that would succeed on this request now (a reason given)."""
    return [name for name, to in ACTIONS.items()
            if is_legal(request.status, to)
            and not blockers(request, to, reason="x", now=now)]


def confirm(session: Session, *, request: ServiceRequest,
            now: datetime | None = None) -> ServiceRequest:
    """Confirm an assigned service with its professional."""
    if request.status != S.ASSIGNED:  # confirmed again would read as a new agreement
        raise Refusal("status: only an assigned service can be confirmed (it is %(status)s)",
                      status=RequestStatus(request.status))
    return transition(session, request=request, to=S.CONFIRMED, now=now or datetime.now())


def cancel(session: Session, *, request: ServiceRequest, reason: str,
           now: datetime) -> ServiceRequest:
    """Cancel a service that has not happened yet, with a reason."""
    if request.status not in OPEN:
        raise Refusal("status: a %(status)s service cannot be cancelled",
                      status=RequestStatus(request.status))
    return transition(session, request=request, to=S.CANCELLED, now=now, reason=reason)


def complete(session: Session, *, request: ServiceRequest, now: datetime) -> ServiceRequest:
    """Mark a service that took place as done (invoicing bills it)."""
    return transition(session, request=request, to=S.DONE, now=now)


def no_show(session: Session, *, request: ServiceRequest, now: datetime,
            by: str = "professional", note: str | None = None,
            incident_threshold: int = 2) -> ServiceRequest:
    """Record that the professional or the client did not turn up; the professional's is an
    incident against them, recorded once whatever door marked it."""
    if by not in NO_SHOW_BY:
        raise Refusal("by: say who did not turn up, the professional or the client")
    transition(session, request=request, to=S.NO_SHOW, now=now)
    audit.record(session, action="no_show", entity="service_request", entity_id=request.id,
                 changes={"by": by}, note=(note or "").strip() or None)
    if by == "professional" and request.professional_id is not None:
        _no_show_incident(session, request=request, note=note, threshold=incident_threshold,
                          now=now)
    return request


def _no_show_incident(session: Session, *, request: ServiceRequest, note: str | None,
                      threshold: int, now: datetime) -> None:
    # Vetting is optional to the core: without it there is no incident to record.
    vetting = optional_module("vetting.service")
    if vetting is None:
        return
    from vetting.models import Incident

    if session.scalar(sa.select(Incident.id).where(Incident.service_request_id == request.id,
                                                   Incident.kind == "no_show")):
        return  # reported before (the nightly close held the service for it)
    vetting.record_incident(session, professional=session.get(Professional,
                                                               request.professional_id),
                            kind="no_show", occurred_on=request.service_date,
                            note=(note or "").strip() or None, threshold=threshold,
                            service_request_id=request.id, now=now)


def act(session: Session, *, request: ServiceRequest, action: str, now: datetime,
        reason: str | None = None) -> ServiceRequest:
    """Run one of the agent's named actions (ACTIONS) on a request."""
    if action == "confirm":
        return confirm(session, request=request, now=now)
    if action == "cancel":
        return cancel(session, request=request, reason=reason or "", now=now)
    if action == "complete":
        return complete(session, request=request, now=now)
    if action in ("no_show", "client_no_show"):
        return no_show(session, request=request, now=now,
                       by="client" if action == "client_no_show" else "professional")
    raise Refusal("action: unknown action %(action)s", action=action)


def ensure_deletable(session: Session, *, request: ServiceRequest) -> None:
    """Refuse to delete a request with a history: it is cancelled instead, which keeps it."""
    changed = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "service_request", AuditEvent.entity_id == str(request.id),
        AuditEvent.action != "create"))
    if request.status != S.NEW or request.professional_id is not None or changed:
        raise Refusal("status: a service request with a history is cancelled, not deleted")


def cover_rows(session: Session, ids) -> dict[int, sa.Row]:
    """Return, for each service id, what a task about its cover reads: status, day and start,
    the client's and the professional's names and the professional's status."""
    if not ids:
        return {}
    return {r.id: r for r in session.execute(
        sa.select(ServiceRequest.id, ServiceRequest.status, ServiceRequest.service_date,
                  ServiceRequest.start_at, Client.name.label("client"),
                  Professional.name.label("pro"), Professional.status.label("pro_status"))
        .join(Client, Client.id == ServiceRequest.client_id)
        .outerjoin(Professional, Professional.id == ServiceRequest.professional_id)
        .where(ServiceRequest.id.in_(ids)))}
