"""Invoices for completed services: one per client and period, numbered without gaps per series."""

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.i18n import catalogue
from backoffice.models import Client, RequestStatus, ServiceRequest
from billing import policy
from billing.models import Invoice, InvoiceCounter, InvoiceLine

VAT_BP = 2100  # IVA general, 21 %
PAYMENT_TERMS_DAYS = 7


def series_for(issued_on: date) -> str:
    """Return the invoice series of an issue date: one correlative series per year."""
    return f"F{issued_on.year}"


def next_number(session: Session, *, series: str) -> int:
    """Take the next number of series under a row lock, so numbers never repeat or skip."""
    counter = session.scalar(sa.select(InvoiceCounter).where(InvoiceCounter.series == series)
                             .with_for_update())
    if counter is None:
        counter = InvoiceCounter(series=series, last_number=0)
        session.add(counter)
    counter.last_number += 1
    session.flush()
    return counter.last_number


def uninvoiced_services(session: Session, *, client_id: int, start: date,
                        end: date) -> list[ServiceRequest]:
    """Return the client's completed, priced services in the period not yet on an invoice."""
    return list(session.scalars(
        sa.select(ServiceRequest)
        .outerjoin(InvoiceLine, InvoiceLine.service_request_id == ServiceRequest.id)
        .where(ServiceRequest.client_id == client_id,
               ServiceRequest.status == RequestStatus.DONE,
               ServiceRequest.price_cents.is_not(None),
               ServiceRequest.service_date.between(start, end),
               InvoiceLine.id.is_(None))
        .order_by(ServiceRequest.service_date, ServiceRequest.id)
    ))


def issue(session: Session, *, client: Client, start: date, end: date, issued_on: date,
          terms_days: int = PAYMENT_TERMS_DAYS) -> Invoice | None:
    """Invoice a client's completed services of a period; None if there is nothing to invoice."""
    if end < start:
        raise ValueError("end: the period ends before it starts")
    services = uninvoiced_services(session, client_id=client.id, start=start, end=end)
    if not services:
        return None
    subtotal = sum(s.price_cents for s in services)
    vat, total = policy.split_vat(subtotal, VAT_BP)
    series = series_for(issued_on)
    inv = Invoice(series=series, number=next_number(session, series=series), client_id=client.id,
                  bill_to_name=client.name, bill_to_address=client.address,
                  period_start=start, period_end=end, issued_on=issued_on,
                  due_on=issued_on + timedelta(days=terms_days), subtotal_cents=subtotal,
                  vat_rate_bp=VAT_BP, vat_cents=vat, total_cents=total)
    inv.lines = [InvoiceLine(service_request_id=s.id, amount_cents=s.price_cents,
                             description=f"{service_name(s.skill, client.language)} "
                                         f"{s.service_date.isoformat()} ({s.duration_min} min)")
                 for s in services]
    session.add(inv)
    session.flush()
    return inv


def service_name(skill: str, language: str | None) -> str:
    """Return the name of a service in the client's language, as the invoice states it: the
    catalogue has Spanish and English, and an invoice in any other language is in Spanish
    (the stored code outside an application or a command, where there is no catalogue)."""
    return catalogue("en" if language == "en" else "es").gettext(skill)


def issue_all(session: Session, *, start: date, end: date, issued_on: date) -> list[Invoice]:
    """Invoice every client with completed services in the period."""
    client_ids = session.scalars(
        sa.select(ServiceRequest.client_id.distinct())
        .where(ServiceRequest.status == RequestStatus.DONE,
               ServiceRequest.service_date.between(start, end))
        .order_by(ServiceRequest.client_id)
    ).all()
    out = []
    for cid in client_ids:
        inv = issue(session, client=session.get(Client, cid), start=start, end=end,
                    issued_on=issued_on)
        if inv is not None:
            out.append(inv)
    return out
