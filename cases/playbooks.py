"""Playbooks: what a case does to the records it is about, through those domains' own services.

Payment dispute: a payment-dispute case pauses its invoice's dunning (an explicit action on the
case page) until the case is solved; solving it resumes the pause the case made, and only that
one. Each step is audited on the case and undone by the other action. Billing is imported
inside the functions: the case desk runs without it, and workflow stays free of billing.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.i18n import Refusal
from backoffice.models import AuditEvent, StaffUser
from cases.models import Case, CaseLink, CaseState

DISPUTE = "payment_dispute"


def dispute_pause_reason(case: Case) -> str:
    """Return the reason a case's pause carries, which tells its pause from any other."""
    return f"dispute case {case.number}"


def linked_invoices(session: Session, case: Case, *, lock: bool = True) -> list:
    """Return the invoices a case is linked to, locked (for a writer) as billing locks them."""
    from billing.models import Invoice

    ids = links(session, case).get("invoice", [])
    if not ids:
        return []
    lock = lock and session.get_bind().dialect.name == "postgresql"
    query = sa.select(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.id)
    return list(session.scalars(query.with_for_update() if lock else query))


def paused_by(case: Case, invoice) -> bool:
    """Tell whether the invoice's dunning is paused by this case."""
    from billing.models import InvoiceStatus

    return (invoice.status == InvoiceStatus.PAUSED
            and invoice.pause_reason == f"dispute: {dispute_pause_reason(case)}")


def _invoice(session: Session, case: Case, invoice_id: int):
    if case.category is None or case.category.code != DISPUTE:
        raise Refusal("category: only a payment dispute case pauses an invoice's dunning")
    found = next((i for i in linked_invoices(session, case) if i.id == invoice_id), None)
    if found is None:
        raise Refusal("invoice: link the invoice to the case first")
    return found


def dispute_opened(session: Session, *, case: Case, invoice_id: int, user: StaffUser | None,
                   now: datetime) -> None:
    """Pause a disputed invoice's dunning until the case is solved, or raise Refusal why not."""
    from billing import service as billing
    from billing.models import InvoiceStatus

    invoice = _invoice(session, case, invoice_id)
    if paused_by(case, invoice):
        return
    if invoice.status == InvoiceStatus.PAUSED:  # a promise or Stripe's own dispute: keep it
        raise Refusal("status: the invoice is paused already (%(reason)s)",
                      reason=invoice.pause_reason)
    billing.pause(session, invoice=invoice, kind="dispute", reason=dispute_pause_reason(case),
                  until=None)
    audit.record(session, action="playbook_pause_dunning", entity="case", entity_id=case.id,
                 changes={"invoice": [None, invoice.code]}, actor=_actor(user))


def resume_dunning(session: Session, *, case: Case, invoice_id: int, user: StaffUser | None,
                   now: datetime, note: str | None = None) -> None:
    """Resume the dunning this case paused, or raise Refusal saying why it cannot."""
    from billing import service as billing

    invoice = _invoice(session, case, invoice_id)
    if not paused_by(case, invoice):
        raise Refusal("status: the invoice's dunning is not paused by this case")
    billing.resume(session, invoice=invoice, note=note or f"case {case.number}: resumed")
    audit.record(session, action="playbook_resume_dunning", entity="case", entity_id=case.id,
                 changes={"invoice": [invoice.code, None]}, actor=_actor(user))


def after_transition(session: Session, case: Case, to: CaseState, now: datetime) -> None:
    """Run the playbook steps a case's move starts: a solved dispute resumes its invoices."""
    if to != CaseState.SOLVED or case.category is None or case.category.code != DISPUTE:
        return
    for invoice in linked_invoices(session, case):
        if paused_by(case, invoice):
            resume_dunning(session, case=case, invoice_id=invoice.id, user=None, now=now,
                           note=f"case {case.number} solved")


def _actor(user: StaffUser | None) -> audit.Actor | None:
    return audit.Actor(user.id, user.email) if user else None


# --- complaint about a service and no-show --------------------------------------------------
# A complaint records an incident against the professional of a linked service (vetting counts
# incidents towards a re-review); a no-show marks the linked service through the requests' own
# door, which records the incident itself. Both may offer a goodwill credit (billing.credits:
# four eyes above finance's limit) and a no-show offers to rebook at the earliest fitting slot.
# Each step is audited on the case and undone by an explicit action: the incident withdrawn,
# the rebooked service cancelled, a proposed credit withdrawn. An issued credit is a rectifying
# invoice and stays: Spanish invoicing never takes one back.
COMPLAINT = "service_complaint"
NO_SHOW = "no_show"
SERVICE_PLAYBOOKS = (COMPLAINT, NO_SHOW)


def _code(case: Case) -> str | None:
    return case.category.code if case.category is not None else None


def links(session: Session, case: Case) -> dict[str, list[int]]:
    """Return the ids of the records a case is linked to, by entity, in one query."""
    found: dict[str, list[int]] = {}
    for entity, entity_id in session.execute(sa.select(CaseLink.entity, CaseLink.entity_id)
                                             .where(CaseLink.case_id == case.id)):
        if entity_id.isdigit():
            found.setdefault(entity, []).append(int(entity_id))
    return {entity: sorted(ids) for entity, ids in found.items()}


def linked_requests(session: Session, case: Case, *, linked: dict | None = None) -> list:
    """Return the service requests a case is linked to, by id (linked: its links, if read)."""
    from backoffice.models import ServiceRequest

    ids = (linked if linked is not None else links(session, case)).get("service_request")
    if not ids:
        return []
    return list(session.scalars(sa.select(ServiceRequest).where(ServiceRequest.id.in_(ids))
                                .order_by(ServiceRequest.id)))


def _request(session: Session, case: Case, request_id: int, codes: tuple[str, ...]):
    if _code(case) not in codes:
        raise Refusal("category: this step belongs to a complaint or a no-show case")
    found = next((r for r in linked_requests(session, case) if r.id == request_id), None)
    if found is None:
        raise Refusal("service_request: link the service to the case first")
    return found


def _incident_note(case: Case) -> str:
    return f"case {case.number}"


def case_incidents(session: Session, case: Case) -> list:
    """Return the incidents this case recorded (its number opens their note)."""
    from vetting.models import Incident

    note = _incident_note(case)
    return list(session.scalars(sa.select(Incident).where(
        sa.or_(Incident.note == note, Incident.note.like(f"{note}:%"))).order_by(Incident.id)))


def record_complaint(session: Session, *, case: Case, request_id: int, user: StaffUser | None,
                     now: datetime, threshold: int = 2):
    """Record the complaint as an incident against the linked service's professional."""
    from backoffice.models import Professional
    from vetting import service as vetting

    row = _request(session, case, request_id, (COMPLAINT,))
    if row.professional_id is None:
        raise Refusal("service_request: the service has no professional to record it against")
    if any(i.service_request_id == row.id for i in case_incidents(session, case)):
        raise Refusal("service_request: this case recorded the complaint already")
    vetting.record_incident(session, professional=session.get(Professional, row.professional_id),
                            kind="complaint", occurred_on=row.service_date,
                            note=f"{_incident_note(case)}: {case.subject}"[:2000],
                            threshold=threshold, service_request_id=row.id, now=now)
    audit.record(session, action="playbook_incident", entity="case", entity_id=case.id,
                 changes={"service_request": [None, row.id]}, actor=_actor(user))


def withdraw_incident(session: Session, *, case: Case, incident_id: int,
                      user: StaffUser | None) -> None:
    """Take back an incident this case recorded (a re-review it opened stays for vetting)."""
    found = next((i for i in case_incidents(session, case) if i.id == incident_id), None)
    if found is None:
        raise Refusal("incident: this case did not record that incident")
    audit.record(session, action="playbook_incident_withdrawn", entity="case",
                 entity_id=case.id, changes={"incident": [found.id, None],
                                             "kind": found.kind}, actor=_actor(user))
    session.delete(found)
    session.flush()


def mark_no_show(session: Session, *, case: Case, request_id: int, by: str,
                 user: StaffUser | None, now: datetime, threshold: int = 2) -> None:
    """Mark the linked service a no-show through the requests' door (it records the incident)."""
    from backoffice.services import requests

    row = _request(session, case, request_id, (NO_SHOW, COMPLAINT))
    requests.no_show(session, request=row, now=now, by=by, note=_incident_note(case),
                     incident_threshold=threshold)
    audit.record(session, action="playbook_no_show", entity="case", entity_id=case.id,
                 changes={"service_request": row.id, "by": by}, actor=_actor(user))


def rebook_slot(session: Session, *, case: Case, request_id: int, now: datetime):
    """Return the earliest slot the engine's rules allow for a linked service that did not
    happen, without the professional who did not come."""
    from assignment.service.rebook import earliest_slot

    row = _request(session, case, request_id, (NO_SHOW, COMPLAINT))
    return earliest_slot(session, request=row, now=now,
                         skip_professional_id=row.professional_id)


def rebook(session: Session, *, case: Case, request_id: int, user: StaffUser | None,
           now: datetime):
    """Book a linked no-show again at the earliest slot and link the new service to the case."""
    from assignment.service import rebook as rebooking
    from cases import service as case_service

    row = _request(session, case, request_id, (NO_SHOW, COMPLAINT))
    slot = rebook_slot(session, case=case, request_id=request_id, now=now)
    if slot is None:
        raise Refusal("service_request: no professional can take it in the next %(days)d days; "
                      "book it on the booking page", days=rebooking.SEARCH_DAYS)
    again = rebooking.rebook(session, request=row, slot=slot, now=now)
    case_service.link(session, case=case, entity="service_request", entity_id=again.id)
    audit.record(session, action="playbook_rebook", entity="case", entity_id=case.id,
                 changes={"service_request": [row.id, again.id]}, actor=_actor(user))
    return again


def undo_rebook(session: Session, *, case: Case, request_id: int, user: StaffUser | None,
                now: datetime) -> None:
    """Cancel a service this case rebooked."""
    from backoffice.services import requests

    row = _request(session, case, request_id, (NO_SHOW, COMPLAINT))
    if not _rebooked_by(session, case, row.id):
        raise Refusal("service_request: this case did not book that service")
    requests.cancel(session, request=row, reason="rebooking undone", now=now)
    audit.record(session, action="playbook_rebook_undone", entity="case", entity_id=case.id,
                 changes={"service_request": [row.id, None]}, actor=_actor(user))


def _rebooked_by(session: Session, case: Case, request_id: int) -> bool:
    rows = session.scalars(sa.select(AuditEvent.changes).where(
        AuditEvent.entity == "case", AuditEvent.entity_id == str(case.id),
        AuditEvent.action == "playbook_rebook"))
    return any((c or {}).get("service_request", [None, None])[1] == request_id for c in rows)


def credit_invoices(session: Session, case: Case, *, linked: dict | None = None) -> list:
    """Return the invoices a credit on this case may lower: linked ones and those billing a
    linked service (linked: the case's links, if read)."""
    from billing.models import Invoice, InvoiceLine

    linked = linked if linked is not None else links(session, case)
    ids = set(linked.get("invoice", ()))
    services = linked.get("service_request")
    if services:
        ids |= set(session.scalars(sa.select(InvoiceLine.invoice_id).where(
            InvoiceLine.service_request_id.in_(services))))
    if not ids:
        return []
    return list(session.scalars(sa.select(Invoice).where(Invoice.id.in_(ids))
                                .order_by(Invoice.id)))


def offer_credit(session: Session, *, case: Case, invoice_id: int, amount_cents: int | None,
                 reason: str, user: StaffUser, today):
    """Offer the client a goodwill credit on an invoice of this case (four eyes above the
    limit finance sets)."""
    from billing import credits

    if _code(case) not in SERVICE_PLAYBOOKS:
        raise Refusal("category: a goodwill credit answers a complaint or a no-show")
    invoice = next((i for i in credit_invoices(session, case) if i.id == invoice_id), None)
    if invoice is None:
        raise Refusal("invoice: link the invoice, or the service it bills, to the case first")
    credit = credits.offer(session, invoice=invoice, amount_cents=amount_cents, reason=reason,
                           user=user, today=today, case_id=case.id)
    audit.record(session, action="playbook_credit", entity="case", entity_id=case.id,
                 changes={"credit": credit.id, "status": credit.status.value,
                          "amount_cents": credit.amount_cents}, actor=_actor(user))
    return credit


def withdraw_credit(session: Session, *, case: Case, credit_id: int, user: StaffUser) -> None:
    """Withdraw a credit this case proposed that waits for approval."""
    from billing import credits

    found = next((c for c in credits.for_case(session, case_id=case.id) if c.id == credit_id),
                 None)
    if found is None:
        raise Refusal("credit: this case did not offer that credit")
    credits.cancel(session, credit=found, user=user)
    audit.record(session, action="playbook_credit_withdrawn", entity="case", entity_id=case.id,
                 changes={"credit": found.id}, actor=_actor(user))
