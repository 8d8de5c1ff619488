"""Goodwill credits: a credit offered to a client, issued at once up to the limit finance sets,
otherwise proposed and issued only when a second finance user approves it (four eyes).

An issued credit is a rectifying invoice (billing.refunds), legally fixed: it is never undone.
A proposed credit is undone by cancelling it.
"""

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.db import utcnow
from backoffice.i18n import Refusal, for_team
from backoffice.models import StaffUser, Task, TaskStatus
from backoffice.services import tasks as task_service
from billing import refunds, service
from billing.models import BillingSetting, CreditStatus, GoodwillCredit, Invoice, InvoiceStatus

LIMIT_KEY = "goodwill_limit_cents"
DEFAULT_LIMIT_CENTS = 2000
TASK_KIND = "goodwill_approval"


def limit_cents(session: Session) -> int:
    """Return the largest credit one person may issue alone, in cents."""
    value = session.scalar(sa.select(BillingSetting.value).where(BillingSetting.key == LIMIT_KEY))
    return int(value) if value is not None and value.isdigit() else DEFAULT_LIMIT_CENTS


def set_limit(session: Session, *, cents: int, user: StaffUser) -> None:
    """Set the goodwill limit; only finance (or an admin) sets it."""
    if not user.has_role("finance", "admin"):
        raise Refusal("user: only finance sets the goodwill limit")
    if cents < 0:
        raise Refusal("limit: the limit cannot be negative")
    row = session.get(BillingSetting, LIMIT_KEY)
    old = int(row.value) if row else None
    if row is None:
        row = BillingSetting(key=LIMIT_KEY, value=str(cents))
        session.add(row)
    row.value = str(cents)
    session.flush()
    audit.record(session, action="goodwill_limit", entity="billing_setting", entity_id=LIMIT_KEY,
                 changes={"value": [old, cents]})


def creditable_cents(invoice: Invoice) -> int:
    """Return how much of an invoice can still be credited (its uncredited total)."""
    return max(invoice.total_cents - invoice.credited_cents, 0)


def offer(session: Session, *, invoice: Invoice, amount_cents: int, reason: str,
          user: StaffUser, today: date, case_id: int | None = None,
          service_request_id: int | None = None) -> GoodwillCredit:
    """Offer a goodwill credit: issued now up to the limit, otherwise proposed to finance."""
    if not user.has_role("ops_agent", "finance", "admin"):
        raise Refusal("user: your role cannot offer a credit")
    if amount_cents is None or amount_cents <= 0:
        raise Refusal("amount: a credit must be more than zero")
    if invoice.status == InvoiceStatus.WRITTEN_OFF:
        raise Refusal("invoice: %(code)s is written off; there is nothing left to credit",
                      code=invoice.code)
    if amount_cents > creditable_cents(invoice):
        raise Refusal("amount: more than what %(code)s can still credit (%(max)s)",
                      code=invoice.code, max=service.money(creditable_cents(invoice)))
    if not (reason or "").strip():
        raise Refusal("reason: say why the client gets a credit")
    credit = GoodwillCredit(invoice_id=invoice.id, amount_cents=amount_cents,
                            reason=reason.strip()[:255], proposed_by_id=user.id,
                            case_id=case_id, service_request_id=service_request_id)
    session.add(credit)
    session.flush()
    if amount_cents <= limit_cents(session):
        _issue(session, credit, invoice, user=user, today=today)
    else:
        session.add(Task(role="finance", kind=TASK_KIND, entity="billing_invoice",
                         entity_id=str(invoice.id), dedup_key=f"goodwill:{credit.id}",
                         title=for_team("Approve a goodwill credit of %(amount)s on %(code)s",
                                        amount=service.money(amount_cents), code=invoice.code),
                         details=f"{user.email}: {credit.reason}"))
        service.log(session, invoice, "goodwill_proposed", amount_cents=amount_cents,
                    detail=f"{user.email}: {credit.reason}")
    audit.record(session, action="goodwill_offered", entity="billing_goodwill_credit",
                 entity_id=credit.id, changes={"amount_cents": amount_cents,
                                               "status": credit.status.value,
                                               "invoice": invoice.code})
    session.flush()
    return credit


def approve(session: Session, *, credit: GoodwillCredit, user: StaffUser,
            today: date) -> GoodwillCredit:
    """Issue a proposed credit: a finance user other than the one who offered it."""
    if credit.status != CreditStatus.PROPOSED:
        raise Refusal("status: the credit is %(status)s, not waiting for approval",
                      status=credit.status)
    if not user.has_role("finance", "admin"):
        raise Refusal("user: only finance approves a credit above the limit")
    if user.id == credit.proposed_by_id:
        raise Refusal("user: a credit above the limit needs a second person to approve it")
    invoice = session.get(Invoice, credit.invoice_id)
    if credit.amount_cents > creditable_cents(invoice):
        raise Refusal("amount: %(code)s can no longer be credited that much (%(max)s left)",
                      code=invoice.code, max=service.money(creditable_cents(invoice)))
    _issue(session, credit, invoice, user=user, today=today)
    _close_task(session, credit, outcome=f"approved by {user.email}")
    return credit


def cancel(session: Session, *, credit: GoodwillCredit, user: StaffUser) -> GoodwillCredit:
    """Withdraw a credit that waits for approval; an issued credit is legally fixed."""
    if credit.status != CreditStatus.PROPOSED:
        raise Refusal("status: only a credit waiting for approval can be withdrawn; an issued "
                      "credit is a rectifying invoice and stays")
    credit.status, credit.decided_by_id, credit.decided_at = (
        CreditStatus.CANCELLED, user.id, utcnow())
    _close_task(session, credit, outcome=f"withdrawn by {user.email}")
    audit.record(session, action="goodwill_cancelled", entity="billing_goodwill_credit",
                 entity_id=credit.id, changes={"status": ["proposed", "cancelled"]})
    session.flush()
    return credit


def _issue(session: Session, credit: GoodwillCredit, invoice: Invoice, *, user: StaffUser,
           today: date) -> None:
    rect = refunds.record_refund(session, invoice=invoice, amount_cents=credit.amount_cents,
                                 reference=f"goodwill:{credit.id}", received_on=today,
                                 entered_by=user, reason=f"goodwill: {credit.reason}")
    credit.status, credit.decided_by_id, credit.decided_at = (
        CreditStatus.ISSUED, user.id, utcnow())
    credit.rectifying_invoice_id = rect.id if rect else None
    session.flush()


def _close_task(session: Session, credit: GoodwillCredit, *, outcome: str) -> None:
    task = session.scalar(sa.select(Task).where(Task.dedup_key == f"goodwill:{credit.id}"))
    if task is not None and task.status == TaskStatus.OPEN:
        task_service.transition(session, task=task, to=TaskStatus.DONE, outcome=outcome,
                                user=None)


def for_case(session: Session, *, case_id: int) -> list[GoodwillCredit]:
    """Return the credits a case offered, newest first."""
    return list(session.scalars(sa.select(GoodwillCredit).where(GoodwillCredit.case_id == case_id)
                                .order_by(GoodwillCredit.id.desc())))
