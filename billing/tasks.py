"""Billing's tasks that close by themselves: a call about an invoice there is no more to chase."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.i18n import for_team
from backoffice.models import Client, ClientStatus, Task
from backoffice.services import tasks
from billing.models import Invoice, InvoiceStatus

CALL = "dunning_call"


def why_no_call(status, code: str, pause_reason: str | None = None) -> str | None:
    """Return why a call about an invoice in status is not needed any more, for the team;
    None while a call can still act on it."""
    if status == InvoiceStatus.PAID:
        return for_team("invoice %(invoice)s was paid", invoice=code)
    if status == InvoiceStatus.WRITTEN_OFF:
        return for_team("invoice %(invoice)s was written off", invoice=code)
    if status == InvoiceStatus.PAUSED:
        return for_team("invoice %(invoice)s is paused (%(reason)s)", invoice=code,
                        reason=pause_reason or "—")
    return None


def close_calls(session: Session, invoice, *, now: datetime | None = None) -> int:
    """Close the open call tasks about invoice once it is paid, written off or paused."""
    why = why_no_call(invoice.status, invoice.code, getattr(invoice, "pause_reason", None))
    if why is None:
        return 0
    return tasks.close_about(session, entity="billing_invoice", entity_id=invoice.id,
                             outcome=tasks.closed_line(why), kinds=(CALL,), now=now)


@tasks.resolves(CALL)
def calls_resolved(session: Session, open_tasks: list[Task], now: datetime) -> dict[int, str]:
    """Return the call tasks whose invoice is paid, written off, paused or gone, or whose
    client's personal data was erased (nobody left to call), with why."""
    ids = {int(t.entity_id) for t in open_tasks
           if t.entity == "billing_invoice" and (t.entity_id or "").isdigit()}
    invoices = {row.id: row for row in session.execute(
        sa.select(Invoice.id, Invoice.series, Invoice.number, Invoice.status,
                  Invoice.pause_reason, Client.status.label("client_status"))
        .join(Client, Client.id == Invoice.client_id).where(Invoice.id.in_(ids)))} if ids else {}
    found = {}
    for task in open_tasks:
        if task.entity != "billing_invoice" or not (task.entity_id or "").isdigit():
            continue
        row = invoices.get(int(task.entity_id))
        why = (for_team("the invoice no longer exists") if row is None else why_no_call(
            row.status, f"{row.series}-{row.number:06d}", row.pause_reason))
        if why is None and row.client_status == ClientStatus.ERASED:
            why = for_team("the client's personal data was erased")
        if why is not None:
            found[task.id] = tasks.closed_line(why)
    return found
