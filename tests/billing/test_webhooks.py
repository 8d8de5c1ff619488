"""POST /stripe/webhook: signature, raw storage, each event once, any order."""

import hashlib
import hmac
import json
import time
from datetime import date

import pytest
import sqlalchemy as sa

from billing import dunning, service
from billing.gateway import sign_payload
from billing.models import (
    AttemptStatus,
    InvoiceStatus,
    Payment,
    PaymentAttempt,
    RectifyingInvoice,
    WebhookEvent,
)
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


def _signature(app, body: bytes, stamp: int) -> str:
    mac = hmac.new(app.config["STRIPE_WEBHOOK_SECRET"].encode(), f"{stamp}.".encode() + body,
                   hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


@pytest.mark.parametrize("header", [
    None, "", "garbage", "t=abc,v1=00", "t=1,t=2,v1=00", "t=²,v1=00", "t=1,v1=\u00e9",
    "stale", "no t"])
def test_a_header_that_does_not_vouch_for_the_body_is_400_and_keeps_nothing(
        client, app, session, header):
    """Guards the verifier over the raw bytes that replaced stripe-python's."""
    body = json.dumps({"id": "evt_sig", "type": "x", "data": {"object": {}}}).encode()
    now = int(time.time())
    header = {"stale": _signature(app, body, now - 301),
              "no t": _signature(app, body, now).split(",")[1]}.get(header, header)
    resp = client.post("/stripe/webhook", data=body, content_type="application/json",
                       headers={} if header is None else {"Stripe-Signature": header})
    assert resp.status_code == 400
    assert session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0


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


def _post_raw(client, app, body: bytes):
    """Post body signed over its bytes, as Stripe's scheme does for UTF-8 text."""
    return client.post("/stripe/webhook", data=body, content_type="application/json",
                       headers={"Stripe-Signature": _signature(app, body, int(time.time()))})


def _intent_body(inv, **changes) -> bytes:
    event = _intent_event("evt_malformed", inv, "succeeded", pi="pi_malformed")
    obj = event["data"]["object"]
    for key, value in changes.items():
        target, _, field = key.rpartition("__")
        (event if target == "event" else obj)[field] = value
    return json.dumps(event).encode()


MALFORMED = {
    "a list": (lambda inv: b"[1,2,3]", "body"),
    "a string": (lambda inv: b'"hello"', "body"),
    "not JSON": (lambda inv: b'{"id": "evt_x", ', "body"),
    "not UTF-8": (lambda inv: b'{"id": "evt_\xff\xfe", "type": "x", "data": {"object": {}}}',
                  "body"),
    "a NUL byte": (lambda inv: b'{"id": "evt_\x00"}', "body"),
    "NaN": (lambda inv: _intent_body(inv).replace(b'"amount": 4', b'"amount": NaN, "x": 4'),
            "body"),
    "no id": (lambda inv: json.dumps({"type": "payment_intent.succeeded",
                                      "data": {"object": {}}}).encode(), "id"),
    "an id with NUL": (lambda inv: _intent_body(inv, event__id="evt_\x00"), "id"),
    "an id too long": (lambda inv: _intent_body(inv, event__id="evt_" + "x" * 80), "id"),
    "no type": (lambda inv: json.dumps({"id": "evt_t", "data": {"object": {}}}).encode(),
                "type"),
    "data a list": (lambda inv: _intent_body(inv, event__data=[1]), "data"),
    "data.object a string": (lambda inv: _intent_body(inv, event__data={"object": "pi"}),
                             "data.object"),
    "created not a time": (lambda inv: _intent_body(inv, event__created=10**20), "created"),
    "an amount as text": (lambda inv: _intent_body(inv, amount="2000"), "data.object.amount"),
    "a negative amount": (lambda inv: _intent_body(inv, amount=-500), "data.object.amount"),
    "a float amount": (lambda inv: _intent_body(inv, amount=20.5), "data.object.amount"),
    "no amount": (lambda inv: _intent_body(inv, amount=None), "data.object.amount"),
    "an invoice id too big": (lambda inv: _intent_body(inv, metadata={
        "invoice_id": "99999999999"}), "data.object.metadata.invoice_id"),
    "refunds not a list": (lambda inv: json.dumps(
        {"id": "evt_rf", "type": "charge.refunded", "data": {"object": {
            "id": "ch_1", "amount_refunded": 5, "refunds": {"data": {"id": "re_1"}},
            "metadata": {"invoice_id": str(inv.id)}}}}).encode(), "data.object.refunds.data"),
    "a dispute reason with NUL": (lambda inv: json.dumps(
        {"id": "evt_dp", "type": "charge.dispute.created", "data": {"object": {
            "id": "dp_1", "payment_intent": "pi_1", "reason": "a\x00"}}}).encode(),
        "data.object.reason"),
    "a decline code with a lone surrogate": (lambda inv: json.dumps(
        {"id": "evt_ko", "type": "payment_intent.payment_failed", "data": {"object": {
            "id": "pi_1", "last_payment_error": {"code": "\ud800"}}}}).encode(),
        "data.object.last_payment_error.code"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_signed_body_that_is_not_an_event_is_400_and_kept(client, app, session, billing,
                                                            case):
    inv = billing.invoice(due_on=DUE, card=None)
    session.commit()
    make, field = MALFORMED[case]
    body = make(inv)
    resp = _post_raw(client, app, body)
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error.startswith(f"{field}: ")
    assert _post_raw(client, app, body).status_code == 400  # redelivered: kept once
    [row] = session.scalars(sa.select(WebhookEvent)).all()
    assert row.stripe_id == "invalid:" + hashlib.sha256(body).hexdigest()
    assert (row.type, row.result) == ("invalid", error) and row.processed_at is not None
    assert row.payload == body.decode("utf-8", "replace").replace("\x00", "\ufffd")
    session.refresh(inv)
    assert (inv.status, inv.paid_cents) == (InvoiceStatus.OPEN, 0)
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def _charge_refunded(evt_id, inv, *, pi, charge, amount, refunds) -> dict:
    return {"id": evt_id, "type": "charge.refunded", "created": int(time.time()),
            "data": {"object": {
                "id": charge, "object": "charge", "amount": amount, "payment_intent": pi,
                "amount_refunded": sum(r["amount"] for r in refunds), "paid": True,
                "metadata": {"invoice_id": str(inv.id)},
                "refunds": {"object": "list", "data": refunds, "has_more": False}}}}


def _ledger(session, inv, tag: str) -> tuple:
    session.refresh(inv)
    payments = session.scalars(sa.select(Payment).where(Payment.invoice_id == inv.id)).all()
    rects = session.scalars(sa.select(RectifyingInvoice.total_cents).where(
        RectifyingInvoice.invoice_id == inv.id)).all()
    assert inv.paid_cents == sum(p.amount_cents for p in payments)
    assert inv.credited_cents == -sum(rects)
    return (inv.status, inv.paid_cents, inv.credited_cents,
            sorted((p.amount_cents, p.method, p.reference.replace(tag, "#")) for p in payments))


def test_a_refund_before_its_success_leaves_the_same_ledger(client, app, session, billing):
    ledgers = {}
    for order in ("success first", "refund first"):
        inv = billing.invoice(due_on=DUE, card=None)
        session.commit()
        tag = f"t{inv.id}x"
        success = _intent_event(f"evt_ok_{tag}", inv, "succeeded", pi=f"pi_{tag}")
        refund = _charge_refunded(f"evt_rf_{tag}", inv, pi=f"pi_{tag}", charge=f"ch_{tag}",
                                  amount=inv.total_cents,
                                  refunds=[{"id": f"re_{tag}", "amount": 500}])
        events = [success, refund] if order == "success first" else [refund, success]
        assert [_post(client, app, e).status_code for e in events] == [200, 200]
        ledgers[order] = _ledger(session, inv, tag)
    total = inv.total_cents
    assert ledgers["success first"] == ledgers["refund first"] == (
        InvoiceStatus.PAID, total - 500, 500,
        [(-500, "refund", "refund:ch_#:re_#"), (total, "card", "pi_#")])


def test_a_failure_after_a_refund_recorded_the_payment_changes_nothing(client, app, session,
                                                                       billing):
    inv = billing.invoice(due_on=DUE, card=None)
    session.add(PaymentAttempt(invoice_id=inv.id, day=0, idempotency_key=f"k{inv.id}",
                               amount_cents=inv.total_cents))
    session.commit()
    refund = _charge_refunded("evt_rf_only", inv, pi="pi_late", charge="ch_late",
                              amount=inv.total_cents, refunds=[{"id": "re_late", "amount": 100}])
    refund["data"]["object"]["metadata"]["idempotency_key"] = f"k{inv.id}"
    assert _post(client, app, refund).get_json()["result"].endswith("its payment recorded first")
    failed = _intent_event("evt_ko_late", inv, "payment_failed", pi="pi_late")
    failed["data"]["object"]["metadata"]["idempotency_key"] = f"k{inv.id}"
    assert _post(client, app, failed).status_code == 200
    session.refresh(inv)
    attempt = session.scalar(sa.select(PaymentAttempt).where(PaymentAttempt.invoice_id == inv.id))
    assert attempt.status == AttemptStatus.SUCCEEDED and attempt.payment_intent_id == "pi_late"
    assert (inv.status, inv.paid_cents) == (InvoiceStatus.PAID, inv.total_cents - 100)


def test_a_refund_the_ledger_refuses_is_kept_with_why_and_not_retried(client, app, session,
                                                                      billing):
    """A refund beyond what the invoice still holds (finance credited it already) is refused
    by the ledger: 200, so Stripe stops retrying; the stored event says why; the invoice keeps
    what it had."""
    from billing import refunds

    inv = billing.invoice(due_on=DUE, card=None)
    tag = f"t{inv.id}big"
    assert _post(client, app, _intent_event(f"evt_ok_{tag}", inv, "succeeded",
                                            pi=f"pi_{tag}")).status_code == 200
    session.refresh(inv)
    refunds.record_refund(session, invoice=inv, amount_cents=inv.total_cents - 100,
                          reference=f"manual-{tag}", received_on=DUE)
    session.commit()
    before = _ledger(session, inv, tag)
    event = _charge_refunded(f"evt_big_{tag}", inv, pi=f"pi_{tag}", charge=f"ch_{tag}",
                             amount=inv.total_cents,
                             refunds=[{"id": f"re_{tag}", "amount": inv.total_cents}])
    resp = _post(client, app, event)
    assert resp.status_code == 200 and resp.get_json()["status"] == "refused"
    row = session.scalar(sa.select(WebhookEvent).where(WebhookEvent.stripe_id == event["id"]))
    assert row.processed_at is not None and row.result.startswith("refused: amount_cents")
    assert _ledger(session, inv, tag) == before
    assert _post(client, app, event).get_json()["status"] == "duplicate"
