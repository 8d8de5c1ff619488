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
from backoffice.models import StaffUser
from cases.models import Case, CaseLink, CaseState

DISPUTE = "payment_dispute"


def dispute_pause_reason(case: Case) -> str:
    """Return the reason a case's pause carries, which tells its pause from any other."""
    return f"dispute case {case.number}"


def linked_invoices(session: Session, case: Case, *, lock: bool = True) -> list:
    """Return the invoices a case is linked to, locked (for a writer) as billing locks them."""
    from billing.models import Invoice

    ids = [int(i) for i in session.scalars(sa.select(CaseLink.entity_id).where(
        CaseLink.case_id == case.id, CaseLink.entity == "invoice")) if i.isdigit()]
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
