"""The statuses of an invoice, the table of legal moves, and the one transition function.

An invoice moves as an ORM object (finance's actions, webhooks) or as a dunning pass's plain
row (billing.batch), which its batch writes back with thousands of others in one UPDATE. Both
go through transition(), so check() is the one place that says which moves are legal.
"""

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.db import utcnow
from backoffice.i18n import Refusal
from backoffice.models import Client, ClientStatus, Task, TaskStatus
from backoffice.services import clients as client_service
from billing import tasks as billing_tasks
from billing import timeline
from billing.models import CHASEABLE, Invoice, InvoiceStatus

if TYPE_CHECKING:
    from billing.batch import InvoiceRow

S = InvoiceStatus
TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    # Money or credit covering what is due closes any invoice not closed yet; a proposed
    # write-off can be approved whatever the invoice was doing while it still owes.
    S.OPEN: frozenset({S.IN_DUNNING, S.PAUSED, S.PAID, S.WRITTEN_OFF}),
    S.IN_DUNNING: frozenset({S.PAUSED, S.UNCOLLECTIBLE, S.PAID, S.WRITTEN_OFF}),
    # A pause resumes where it stopped: open if no dunning step was taken yet, else in dunning.
    S.PAUSED: frozenset({S.OPEN, S.IN_DUNNING, S.PAID, S.WRITTEN_OFF}),
    S.UNCOLLECTIBLE: frozenset({S.PAID, S.WRITTEN_OFF}),
    S.PAID: frozenset(),
    # A charge whose answer was lost, or a transfer, may still pay a written-off debt in full.
    S.WRITTEN_OFF: frozenset({S.PAID}),
}
# The one task a payment does not cancel: finance still has to give money received twice back.
OVERPAYMENT_TASK = "billing_refund_overpayment"


def is_legal(current: InvoiceStatus | str, to: InvoiceStatus | str) -> bool:
    """Tell whether the table allows moving from current to to."""
    return InvoiceStatus(to) in TRANSITIONS[InvoiceStatus(current)]


def check(current: InvoiceStatus | str, to: InvoiceStatus | str) -> None:
    """Refuse a move the table does not allow."""
    if not is_legal(current, to):
        raise Refusal("status: an invoice cannot go from %(current)s to %(to)s",
                      current=InvoiceStatus(current), to=InvoiceStatus(to))


def transition(session: Session, *, invoice: "Invoice | InvoiceRow", to: InvoiceStatus | str,
               reason: str | None = None, at: datetime | None = None, day: int | None = None,
               amount_cents: int | None = None, events: list[dict] | None = None) -> None:
    """Move an invoice (ORM or a pass's row) to another status and log it, or raise Refusal.

    reason is added to the timeline entry; at is the pass's local moment (see timeline.log);
    events is a pass's list of timeline rows, which its batch writes with the invoice.
    """
    current = InvoiceStatus(invoice.status)
    try:
        to = InvoiceStatus(to)
    except ValueError:
        raise Refusal("status: %(to)s is not a status of an invoice", to=str(to)) from None
    check(current, to)

    if current == S.OPEN and to == S.IN_DUNNING:
        invoice.entered_dunning_cents = invoice.due_cents  # what the recovery report measures
    if to in (S.PAID, S.WRITTEN_OFF):
        invoice.closed_at = utcnow()
    if to == S.PAID:
        invoice.paused_until = None
    invoice.status = to
    if isinstance(invoice, Invoice):
        session.flush()  # a pass's row is written by its batch instead
    kind, detail = _entry(current, to, reason)
    timeline.log(session, invoice, kind, day=day, amount_cents=amount_cents, detail=detail,
                 at=at, events=events)
    _after(session, invoice, to, at=at, events=events)


def _entry(current: InvoiceStatus, to: InvoiceStatus, reason: str | None) -> tuple[str, str]:
    """Return the timeline kind and detail of a move."""
    move = f"{current.value} → {to.value}"
    # Pauses, resumptions and write-offs have kinds of their own that the panel shows.
    kind = ("pause" if to == S.PAUSED else "resume" if current == S.PAUSED and to in CHASEABLE
            else "written_off" if to == S.WRITTEN_OFF else "status")
    if kind != "status":
        return kind, reason or move
    return kind, f"{move}; {reason}" if reason else move


def _after(session: Session, invoice: "Invoice | InvoiceRow", to: InvoiceStatus, *,
           at: datetime | None, events: list[dict] | None) -> None:
    """Close the calls about an invoice paid, written off or paused; stop the chase of a paid
    invoice and lift the booking hold it caused."""
    if to in (S.PAID, S.WRITTEN_OFF, S.PAUSED):
        billing_tasks.close_calls(session, invoice)
    if to != S.PAID or invoice.entered_dunning_cents is None:
        return  # never chased: no call task was made and no hold was put
    session.execute(
        sa.update(Task)
        .where(Task.entity == "billing_invoice", Task.entity_id == str(invoice.id),
               Task.status == TaskStatus.OPEN, Task.kind != OVERPAYMENT_TASK)
        .values(status=TaskStatus.CANCELLED, outcome="invoice paid", done_at=utcnow())
    )
    client = session.get(Client, invoice.client_id)
    if client is None or client.status != ClientStatus.BLOCKED:
        return
    held = session.scalar(sa.select(sa.func.count()).where(
        Invoice.client_id == client.id, Invoice.id != invoice.id,
        Invoice.status == InvoiceStatus.UNCOLLECTIBLE))
    if not held:
        client_service.set_status(session, client=client, status=ClientStatus.ACTIVE)
        timeline.log(session, invoice, "hold_lifted", detail="client can book again", at=at,
                     events=events)
