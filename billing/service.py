"""Invoice operations finance and webhooks perform: payments, refunds, pauses, write-offs."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.db import utcnow
from backoffice.i18n import Keyed, Money, Refusal, task_message
from backoffice.models import StaffUser, Task, TaskStatus
from billing import workflow
from billing.models import (
    AttemptStatus,
    Invoice,
    InvoiceEvent,
    InvoiceStatus,
    Payment,
    PaymentAttempt,
    WriteOff,
)
from billing.timeline import entries, log
from billing.workflow import OVERPAYMENT_TASK


def money(cents: int, currency: str = "eur", locale: str | None = None) -> str:
    """Format cents as the reader writes euros (1.234,56 € in Spanish, €1,234.56 in English);
    a job or the CLI writes the team's language."""
    from backoffice.wording import euros

    return euros(cents, locale, currency=currency)


def record_payment(session: Session, *, invoice: Invoice, amount_cents: int, method: str,
                   reference: str | None, received_on: date,
                   entered_by: StaffUser | None = None) -> Payment | None:
    """Record money received; a reference seen before is the same payment: None."""
    if amount_cents <= 0:
        raise ValueError("amount_cents: a payment must be positive")
    if method not in ("card", "bank_transfer", "cash"):
        raise ValueError("method: choose card, bank_transfer or cash")
    if reference and session.scalar(sa.select(Payment.id).where(Payment.reference == reference)):
        return None
    payment = Payment(**apply_payment(
        session, invoice, amount_cents=amount_cents, method=method, reference=reference,
        received_on=received_on, entered_by_id=entered_by.id if entered_by else None))
    session.add(payment)
    if method != "card":
        _note_unanswered_charge(session, invoice)
    session.flush()
    return payment


def apply_payment(session: Session, invoice, *, amount_cents: int, method: str,
                  reference: str | None, received_on: date, entered_by_id: int | None = None,
                  at: datetime | None = None, events: list[dict] | None = None) -> dict:
    """Add money received to an invoice (ORM or a pass's plain row); return the payment row.

    The caller inserts the row: the ORM path as a Payment, a dunning pass with its batch,
    which also passes its list of timeline rows (events).
    """
    row = {"invoice_id": invoice.id, "method": method, "amount_cents": amount_cents,
           "reference": reference, "received_on": received_on,
           "dunning_day": invoice.dunning_day, "entered_by_id": entered_by_id,
           "created_at": utcnow()}
    invoice.paid_cents += amount_cents
    log(session, invoice, "payment", amount_cents=amount_cents, at=at,
        detail=f"{method} {reference or ''}".strip(), events=events)
    settle(session, invoice, at=at, events=events)
    if invoice.overpaid_cents:
        _flag_overpayment(session, invoice, reference=reference, at=at, events=events)
    return row


def _note_unanswered_charge(session: Session, invoice) -> None:
    """Say on the timeline that a card charge's answer is still unknown and will be checked."""
    key = session.scalar(sa.select(PaymentAttempt.idempotency_key).where(
        PaymentAttempt.invoice_id == invoice.id,
        PaymentAttempt.status == AttemptStatus.PENDING))
    if key:
        log(session, invoice, "lost_answer", detail=(
            f"card charge {key} got no answer from Stripe; the next dunning pass looks it up "
            "and records what happened (an overpayment is shown here for finance to refund)"))


def _flag_overpayment(session: Session, invoice, *, reference: str | None,
                      at: datetime | None, events: list[dict] | None) -> None:
    """Show money received twice and give finance a task to give it back."""
    extra = invoice.overpaid_cents
    log(session, invoice, "overpaid", amount_cents=extra, at=at, events=events,
        detail=f"received {money(extra)} more than the total: finance refunds it to the client")
    task = session.scalar(sa.select(Task).where(
        Task.entity == "billing_invoice", Task.entity_id == str(invoice.id),
        Task.kind == OVERPAYMENT_TASK, Task.status == TaskStatus.OPEN))
    title = Keyed("Refund %(amount)s overpaid on %(invoice)s", amount=Money(extra),
                  invoice=invoice.code)
    details = Keyed(
        "Invoice %(invoice)s has received %(amount)s more than its total (last payment: "
        "%(reference)s). Refund it: a refund of the card charge at Stripe is recorded by its "
        "webhook; a bank refund is recorded on the invoice page (Refund or credit). The "
        "overpayment is returned first; no rectifying invoice is issued for it.",
        invoice=invoice.code, amount=Money(extra),
        reference=reference or Keyed("no reference"))
    message = task_message(title=title, details=details)
    if task is None:
        session.add(Task(role="finance", kind=OVERPAYMENT_TASK, title=title.text,
                         details=details.text, message=message, entity="billing_invoice",
                         entity_id=str(invoice.id), due_at=utcnow()))
    else:
        task.title, task.details, task.message = title.text, details.text, message


def close_overpayment_task(session: Session, invoice) -> None:
    """Close finance's refund task once the overpayment is given back."""
    session.execute(
        sa.update(Task)
        .where(Task.entity == "billing_invoice", Task.entity_id == str(invoice.id),
               Task.kind == OVERPAYMENT_TASK, Task.status == TaskStatus.OPEN)
        .values(status=TaskStatus.DONE, outcome="overpayment refunded", done_at=utcnow())
    )


def settle(session: Session, invoice, at: datetime | None = None, *,
           events: list[dict] | None = None) -> None:
    """Close an invoice with nothing left due as paid (the workflow stops its chase)."""
    if invoice.due_cents > 0 or invoice.status == InvoiceStatus.PAID:
        return
    workflow.transition(session, invoice=invoice, to=InvoiceStatus.PAID, at=at, events=events)


def pause(session: Session, *, invoice: Invoice, kind: str, reason: str,
          until: date | None) -> Invoice:
    """Pause dunning for a dispute or a promise to pay; it resumes after until."""
    if kind not in ("dispute", "promise"):
        raise ValueError("kind: choose dispute or promise")
    if not reason or not reason.strip():
        raise ValueError("reason: say why dunning is paused")
    if kind == "promise" and until is None:
        raise ValueError("until: a promise to pay needs the date promised")
    paused = invoice.status == InvoiceStatus.PAUSED
    if not paused and not workflow.is_legal(invoice.status, InvoiceStatus.PAUSED):
        raise Refusal("status: a %(status)s invoice cannot be paused", status=invoice.status)
    invoice.paused_until = until
    invoice.pause_reason = f"{kind}: {reason.strip()}"[:255]
    detail = invoice.pause_reason + (f" (until {until.isoformat()})" if until else "")
    if paused:  # new terms for a pause already running: the status stays
        log(session, invoice, "pause", detail=detail)
    else:
        workflow.transition(session, invoice=invoice, to=InvoiceStatus.PAUSED, reason=detail)
    session.flush()
    return invoice


def resume(session: Session, *, invoice: Invoice, note: str = "resumed") -> Invoice:
    """End a pause: the invoice goes back to dunning."""
    if invoice.status != InvoiceStatus.PAUSED:
        raise ValueError("status: only a paused invoice can be resumed")
    invoice.paused_until = None
    invoice.pause_reason = None
    workflow.transition(session, invoice=invoice, reason=note,
                        to=(InvoiceStatus.IN_DUNNING if invoice.dunning_day is not None
                            else InvoiceStatus.OPEN))
    return invoice


def resume_expired_pauses(session: Session, *, today: date) -> int:
    """Resume every pause whose date has passed."""
    invoices = session.scalars(
        sa.select(Invoice).where(Invoice.status == InvoiceStatus.PAUSED,
                                 Invoice.paused_until.is_not(None),
                                 Invoice.paused_until < today)
    ).all()
    for inv in invoices:
        resume(session, invoice=inv, note=f"promised date {inv.paused_until} passed")
    return len(invoices)


def propose_write_off(session: Session, *, invoice: Invoice, user: StaffUser,
                      reason: str) -> WriteOff:
    """Propose writing off what an invoice still owes; another finance user must approve."""
    if not user.has_role("finance", "admin"):
        raise ValueError("user: only finance may propose a write-off")
    if not workflow.is_legal(invoice.status, InvoiceStatus.WRITTEN_OFF) or not invoice.due_cents:
        raise Refusal("status: a %(status)s invoice has nothing to write off",
                      status=invoice.status)
    if not reason or not reason.strip():
        raise ValueError("reason: say why the debt is written off")
    if session.scalar(sa.select(WriteOff.id).where(WriteOff.invoice_id == invoice.id)):
        raise ValueError("invoice: a write-off is already proposed")
    wo = WriteOff(invoice_id=invoice.id, amount_cents=invoice.due_cents, reason=reason.strip(),
                  proposed_by_id=user.id)
    session.add(wo)
    log(session, invoice, "write_off_proposed", amount_cents=wo.amount_cents,
        detail=f"{user.email}: {wo.reason}")
    session.flush()
    return wo


def approve_write_off(session: Session, *, invoice: Invoice, user: StaffUser) -> WriteOff:
    """Approve a proposed write-off: a second finance user, never the one who proposed it."""
    wo = session.scalar(sa.select(WriteOff).where(WriteOff.invoice_id == invoice.id))
    if wo is None:
        raise ValueError("invoice: no write-off proposed")
    if wo.approved_at is not None:
        raise ValueError("invoice: the write-off is already approved")
    if not user.has_role("finance", "admin"):
        raise ValueError("user: only finance may approve a write-off")
    if user.id == wo.proposed_by_id:
        raise ValueError("user: a write-off needs a second finance user to approve it")
    if invoice.due_cents == 0:
        raise ValueError("status: the invoice was paid meanwhile")
    wo.approved_by_id, wo.approved_at = user.id, utcnow()
    wo.amount_cents = invoice.due_cents
    old = invoice.status
    workflow.transition(session, invoice=invoice, to=InvoiceStatus.WRITTEN_OFF,
                        amount_cents=wo.amount_cents, reason=f"approved by {user.email}")
    audit.record(session, action="write_off", entity="billing_invoice", entity_id=invoice.id,
                 changes={"status": [old.value, "written_off"], "amount_cents": wo.amount_cents})
    session.flush()
    return wo


def timeline(session: Session, invoice: Invoice) -> list[InvoiceEvent]:
    """Return the invoice's events in the order they happened."""
    return entries(session, invoice)
