"""Refunds and credits: money paid twice goes back first; a credit is a rectifying invoice.

Spanish invoicing never edits an issued invoice: a refund or credit that lowers what the client
owes is a factura rectificativa, numbered without gaps in its own series per year (R2026-000001),
citing the original, with negative base, VAT and total. Giving back an overpayment (a charge
whose answer was lost, then a bank transfer) does not change what the invoice asks, so it is a
refund without a rectifying invoice.
"""

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.models import StaffUser
from billing import invoicing, service
from billing.models import Invoice, Payment, RectifyingInvoice


def series_for(issued_on: date) -> str:
    """Return the rectifying series of an issue date: one correlative R series per year."""
    return f"R{issued_on.year}"


def record_refund(session: Session, *, invoice: Invoice, amount_cents: int,
                  reference: str | None, received_on: date, entered_by: StaffUser | None = None,
                  reason: str | None = None) -> RectifyingInvoice | None:
    """Refund or credit an invoice; return the rectifying invoice issued for the credit, if any.

    The amount first gives back what was overpaid; the rest lowers what the invoice asks (a
    rectifying invoice) and goes back to the client as far as they had paid it. A reference
    recorded before is the same refund: nothing happens.
    """
    if amount_cents <= 0:
        raise ValueError("amount_cents: a refund must be positive")
    returned = min(amount_cents, invoice.overpaid_cents)
    credit = amount_cents - returned
    if credit > invoice.total_cents - invoice.credited_cents:
        raise ValueError("amount_cents: more than the invoice's uncredited total")
    if reference and session.scalar(sa.select(Payment.id).where(Payment.reference == reference)):
        return None
    money_back = returned + min(credit, invoice.paid_cents - returned)
    session.add(Payment(invoice_id=invoice.id, method="refund" if money_back else "credit",
                        amount_cents=-amount_cents, reference=reference, received_on=received_on,
                        dunning_day=invoice.dunning_day,
                        entered_by_id=entered_by.id if entered_by else None))
    invoice.paid_cents -= money_back
    invoice.credited_cents += credit
    service.log(session, invoice, "refund" if money_back else "credit", amount_cents=amount_cents,
                detail=reference)
    if returned:
        service.log(session, invoice, "overpayment_refunded", amount_cents=returned,
                    detail="money received twice, given back")
        if not invoice.overpaid_cents:
            service.close_overpayment_task(session, invoice)
    rect = None
    if credit:
        rect = rectify(session, invoice=invoice, credit_cents=credit, issued_on=received_on,
                       reason=(reason or "").strip() or _default_reason(reference, money_back),
                       reference=reference, created_by=entered_by)
        service.log(session, invoice, "rectified", amount_cents=-credit,
                    detail=f"{rect.code}: {rect.reason}")
    service.settle(session, invoice)
    session.flush()
    return rect


def _default_reason(reference: str | None, money_back: int) -> str:
    if reference and reference.startswith("refund:"):
        return f"refund at Stripe of charge {reference.split(':')[1]}"
    return "refund to the client" if money_back else "credit granted to the client"


def rectify(session: Session, *, invoice: Invoice, credit_cents: int, issued_on: date,
            reason: str, reference: str | None = None,
            created_by: StaffUser | None = None) -> RectifyingInvoice:
    """Issue a rectifying invoice lowering invoice by credit_cents (VAT included)."""
    prior_base, prior_total = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(RectifyingInvoice.subtotal_cents), 0),
                  sa.func.coalesce(sa.func.sum(RectifyingInvoice.total_cents), 0))
        .where(RectifyingInvoice.invoice_id == invoice.id)).one()
    # The base is split cumulatively, so the rectifications of a fully credited invoice add
    # up to its exact base and VAT whatever the rounding of each one.
    credited = -prior_total + credit_cents
    base_so_far = _half_up(invoice.subtotal_cents * credited, invoice.total_cents)
    base = base_so_far + prior_base
    series = series_for(issued_on)
    rect = RectifyingInvoice(
        series=series, number=invoicing.next_number(session, series=series),
        invoice_id=invoice.id, issued_on=issued_on, reason=reason[:255],
        subtotal_cents=-base, vat_rate_bp=invoice.vat_rate_bp, vat_cents=-(credit_cents - base),
        total_cents=-credit_cents, reference=reference,
        created_by_id=created_by.id if created_by else None)
    session.add(rect)
    session.flush()
    return rect


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)
