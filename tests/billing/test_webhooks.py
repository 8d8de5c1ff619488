"""POST /stripe/webhook: signature, raw storage, each event once, any order."""

import json
import time
from datetime import date

import sqlalchemy as sa

from billing import dunning, service
from billing.gateway import sign_payload
from billing.models import InvoiceStatus, Payment, PaymentAttempt, WebhookEvent
from tests.billing.conftest import FAILS, at

DUE = date(2026, 6, 1)


def _post(client, app, event: dict, *, secret: str | None = None):
    body = json.dumps(event).encode()
    sig = sign_payload(body, secret or app.config["STRIPE_WEBHOOK_SECRET"])
    return client.post("/stripe/webhook", data=body, headers={"Stripe-Signature": sig},
                       content_type="application/json")


def _intent_event(evt_id, inv, kind, pi="pi_test_1", amount=None):
    return {"id": evt_id, "object": "event", "type": f"payment_intent.{kind}",
            "created": int(time.time()),
            "data": {"object": {"id": pi, "object": "payment_intent",
                                "amount": amount or inv.due_cents, "status": kind,
                                "metadata": {"invoice_id": str(inv.id)},
                                "last_payment_error": {"code": "card_declined"}}}}


def test_bad_signature_is_400_and_changes_nothing(client, app, session, billing):
    inv = billing.invoice(due_on=DUE)
    resp = _post(client, app, _intent_event("evt_bad", inv, "succeeded"), secret="whsec_wrong")
    assert resp.status_code == 400
    assert session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0
    assert inv.status == InvoiceStatus.OPEN and inv.paid_cents == 0


def test_success_then_duplicate_then_late_failure(client, app, session, billing):
    inv = billing.invoice(due_on=DUE)
    ok = _intent_event("evt_ok", inv, "succeeded")
    assert _post(client, app, ok).get_json()["status"] == "processed"
    assert _post(client, app, ok).get_json()["status"] == "duplicate"
    late = _intent_event("evt_late", inv, "payment_failed")
    assert _post(client, app, late).status_code == 200
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAID and inv.paid_cents == inv.total_cents
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)
                          .where(Payment.invoice_id == inv.id)) == 1
    stored = session.scalar(sa.select(WebhookEvent).where(WebhookEvent.stripe_id == "evt_ok"))
    assert json.loads(stored.payload)["id"] == "evt_ok" and stored.processed_at is not None


def test_webhook_and_pass_record_the_same_charge_once(client, app, session, billing, gateway):
    inv = billing.invoice(due_on=DUE)
    dunning.run_pass(session=session, now=at(DUE), gateway=gateway)
    session.commit()
    pi = session.scalar(sa.select(Payment.reference).where(Payment.invoice_id == inv.id))
    _post(client, app, _intent_event("evt_dup_pass", inv, "succeeded", pi=pi))
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)
                          .where(Payment.invoice_id == inv.id)) == 1


def test_refund_closes_an_invoice_in_dunning(client, app, session, billing, gateway):
    inv = billing.invoice(due_on=DUE, card=FAILS)
    dunning.run_pass(session=session, now=at(DUE), gateway=gateway)
    session.commit()
    assert inv.status == InvoiceStatus.IN_DUNNING
    event = {"id": "evt_refund", "type": "charge.refunded", "created": int(time.time()),
             "data": {"object": {"id": "ch_x", "object": "charge", "payment_intent": None,
                                 "amount_refunded": inv.total_cents,
                                 "metadata": {"invoice_id": str(inv.id)}}}}
    assert _post(client, app, event).status_code == 200
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAID and inv.due_cents == 0
    assert inv.credited_cents == inv.total_cents
    kinds = [e.kind for e in service.timeline(session, inv)]
    assert kinds[-3:] == ["credit", "rectified", "status"]


def test_dispute_pauses_and_a_new_card_lifts_the_hard_decline(client, app, session, billing,
                                                              gateway):
    from tests.billing.conftest import LOST

    disputed = billing.invoice(due_on=DUE, card=FAILS)
    lost = billing.invoice(due_on=DUE, card=LOST)
    dunning.run_pass(session=session, now=at(DUE), gateway=gateway)
    session.commit()
    assert lost.hard_declined
    pi = disputed_pi = session.scalar(sa.select(PaymentAttempt.payment_intent_id).where(
        PaymentAttempt.invoice_id == disputed.id))
    assert pi
    event = {"id": "evt_dispute", "type": "charge.dispute.created", "created": int(time.time()),
             "data": {"object": {"id": "dp_1", "object": "dispute", "reason": "fraudulent",
                                 "payment_intent": disputed_pi}}}
    assert _post(client, app, event).get_json()["result"] == "dunning paused"
    attached = {"id": "evt_pm", "type": "payment_method.attached", "created": int(time.time()),
                "data": {"object": {"id": "pm_new", "object": "payment_method",
                                    "customer": lost.client.stripe_customer_id}}}
    assert _post(client, app, attached).get_json()["result"] == "card saved"
    session.refresh(disputed)
    session.refresh(lost)
    assert disputed.status == InvoiceStatus.PAUSED and "dp_1" in disputed.pause_reason
    assert not lost.hard_declined
