"""Refunds issue rectifying invoices (R series, gap-free, negative with VAT) shown on both pages."""

import json
import time
from datetime import date

import pytest
import sqlalchemy as sa

from billing import dunning, refunds
from billing.gateway import sign_payload
from billing.models import InvoiceStatus, Payment, RectifyingInvoice
from tests.billing.conftest import PAYS, at
from tests.conftest import csrf_from

DUE = date(2026, 7, 6)


def _rects(session, inv) -> list[RectifyingInvoice]:
    return list(session.scalars(sa.select(RectifyingInvoice).where(
        RectifyingInvoice.invoice_id == inv.id).order_by(RectifyingInvoice.id)))


def _paid_by_card(session, billing, gateway, prices=(4000,)):
    inv = billing.invoice(due_on=DUE, card=PAYS, prices=prices)
    dunning.run_pass(session=session, now=at(DUE), gateway=gateway)
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAID
    return inv


def _refund_event(evt_id: str, inv, charge: str, refunded: int) -> dict:
    return {"id": evt_id, "type": "charge.refunded", "created": int(time.time()),
            "data": {"object": {"id": charge, "object": "charge", "payment_intent": None,
                                "amount_refunded": refunded,
                                "metadata": {"invoice_id": str(inv.id)}}}}


def _post(client, app, event: dict):
    body = json.dumps(event).encode()
    return client.post("/stripe/webhook", data=body, content_type="application/json", headers={
        "Stripe-Signature": sign_payload(body, app.config["STRIPE_WEBHOOK_SECRET"])})


def test_a_stripe_refund_issues_a_rectifying_invoice_once(client, app, session, billing,
                                                         gateway):
    inv = _paid_by_card(session, billing, gateway)
    session.commit()
    event = _refund_event("evt_rf_full", inv, "ch_full", inv.total_cents)
    result = _post(client, app, event).get_json()["result"]
    assert result.startswith("refund recorded; rectifying invoice R2026-")
    _post(client, app, _refund_event("evt_rf_full_again", inv, "ch_full", inv.total_cents))
    session.refresh(inv)
    [rect] = _rects(session, inv)
    assert rect.code == f"R{date.today().year}-{rect.number:06d}"
    assert (rect.subtotal_cents, rect.vat_cents, rect.total_cents) == (
        -inv.subtotal_cents, -inv.vat_cents, -inv.total_cents)
    assert rect.vat_rate_bp == inv.vat_rate_bp and "ch_full" in rect.reason
    assert (inv.paid_cents, inv.credited_cents, inv.due_cents) == (0, inv.total_cents, 0)
    assert inv.status == InvoiceStatus.PAID  # closed: nothing owed, nothing kept
    refund = session.scalar(sa.select(Payment).where(Payment.invoice_id == inv.id,
                                                     Payment.method == "refund"))
    assert refund.amount_cents == -inv.total_cents


def test_partial_refunds_are_numbered_without_gaps_and_add_up_to_the_invoice(
        session, billing, gateway):
    inv = _paid_by_card(session, billing, gateway, prices=(3333, 4217))  # base 75,50 €
    first = refunds.record_refund(session, invoice=inv, amount_cents=1001, reference="R-A",
                                  received_on=DUE, reason="one visit was short")
    second = refunds.record_refund(session, invoice=inv, amount_cents=2002, reference="R-B",
                                   received_on=DUE, reason="second complaint")
    last = refunds.record_refund(session, invoice=inv, amount_cents=inv.total_cents - 3003,
                                 reference="R-C", received_on=DUE, reason="full refund")
    assert [r.series for r in (first, second, last)] == ["R2026"] * 3
    assert [second.number - first.number, last.number - second.number] == [1, 1]
    for r, total in ((first, 1001), (second, 2002)):
        assert r.total_cents == -total and r.subtotal_cents + r.vat_cents == -total
        assert r.subtotal_cents < 0 and r.vat_cents < 0
    rects = _rects(session, inv)
    assert sum(r.subtotal_cents for r in rects) == -inv.subtotal_cents
    assert sum(r.vat_cents for r in rects) == -inv.vat_cents
    assert inv.credited_cents == inv.total_cents and inv.paid_cents == 0
    with pytest.raises(ValueError, match="more than the invoice's uncredited total"):
        refunds.record_refund(session, invoice=inv, amount_cents=1, reference=None,
                              received_on=DUE)


def test_a_credit_on_an_unpaid_invoice_lowers_what_is_owed(session, billing):
    inv = billing.invoice(due_on=DUE, prices=(10000,))
    rect = refunds.record_refund(session, invoice=inv, amount_cents=2420, reference=None,
                                 received_on=DUE, reason="discount for a late visit")
    assert (rect.subtotal_cents, rect.vat_cents, rect.total_cents) == (-2000, -420, -2420)
    assert inv.due_cents == inv.total_cents - 2420 and inv.paid_cents == 0
    credit = session.scalar(sa.select(Payment).where(Payment.invoice_id == inv.id))
    assert credit.method == "credit"  # no money went out


def test_both_pages_show_the_rectification(client, logged_in, session, billing, gateway):
    inv = _paid_by_card(session, billing, gateway)
    session.commit()
    logged_in("finance")
    page = client.get(f"/admin/billing_invoice/details/?id={inv.id}").get_data(as_text=True)
    resp = client.post(f"/admin/billing_invoice/act/{inv.id}", data={
        "csrf_token": csrf_from(page), "op": "refund", "amount": "10,00",
        "reason": "window cleaning not done", "reference": "REF-PANEL-1"})
    assert resp.status_code == 302
    [rect] = _rects(session, inv)
    page = client.get(f"/admin/billing_invoice/details/?id={inv.id}").get_data(as_text=True)
    assert 'id="rectifications"' in page and rect.code in page
    assert "window cleaning not done" in page and "-€10.00" in page
    assert f"/admin/billing_rectifying_invoice/details/?id={rect.id}" in page
    rpage = client.get(f"/admin/billing_rectifying_invoice/details/?id={rect.id}").get_data(
        as_text=True)
    assert rect.code in rpage and inv.code in rpage and 'id="rectified-invoice"' in rpage
    assert 'data-figure="base">-€8.26' in rpage and 'data-figure="vat">-€1.74' in rpage
    listing = client.get("/admin/billing_rectifying_invoice/").get_data(as_text=True)
    assert rect.code in listing
