"""A charge whose answer was lost, on an invoice then settled another way: its real outcome."""

import json
import time
from datetime import date

import pytest
import sqlalchemy as sa

from backoffice.models import OutboxMessage, Task, TaskStatus
from billing import dunning, refunds, service
from billing.gateway import Gateway, sign_payload
from billing.models import (
    AttemptStatus,
    InvoiceStatus,
    Payment,
    PaymentAttempt,
    RectifyingInvoice,
    StepRun,
)
from billing.stripe_server import free_port
from tests.billing.conftest import FAILS, PAYS, LostAnswer, at, charges_at_stripe

DUE = date(2026, 4, 6)


def _attempt(session, inv) -> PaymentAttempt:
    return session.scalar(sa.select(PaymentAttempt).where(PaymentAttempt.invoice_id == inv.id))


def _kinds(session, inv) -> list[str]:
    return [e.kind for e in service.timeline(session, inv)]


def _transfer(session, inv, reference: str) -> None:
    service.record_payment(session, invoice=inv, amount_cents=inv.due_cents,
                           method="bank_transfer", reference=reference, received_on=DUE)


def test_a_lost_charge_that_went_through_shows_the_overpayment_for_finance(
        session, billing, gateway):
    inv = billing.invoice(due_on=DUE, card=PAYS)
    dunning.run_pass(session=session, now=at(DUE), gateway=LostAnswer(gateway))
    assert _attempt(session, inv).status == AttemptStatus.PENDING
    _transfer(session, inv, "TRF-LOST-1")  # the client paid by bank meanwhile
    assert inv.status == InvoiceStatus.PAID and "lost_answer" in _kinds(session, inv)

    result = dunning.run_pass(session=session, now=at(DUE, 10), gateway=gateway)
    assert result.looked_up == 1 and result.charges == 1
    attempt = _attempt(session, inv)
    assert attempt.status == AttemptStatus.SUCCEEDED and attempt.payment_intent_id
    assert len(charges_at_stripe(gateway, inv.client.stripe_customer_id)) == 1  # not again
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAID
    assert inv.paid_cents == 2 * inv.total_cents and inv.overpaid_cents == inv.total_cents
    assert inv.due_cents == 0 and _kinds(session, inv)[-1] == "overpaid"
    task = session.scalar(sa.select(Task).where(Task.entity_id == str(inv.id),
                                                Task.kind == service.OVERPAYMENT_TASK))
    assert task.role == "finance" and task.status == TaskStatus.OPEN and inv.code in task.title
    assert session.scalar(sa.select(StepRun.state).where(StepRun.invoice_id == inv.id)) == "done"
    assert session.scalars(sa.select(OutboxMessage.id).where(
        OutboxMessage.entity_id == str(inv.id))).all() == []  # nothing to chase: no mail

    # Finance gives the money back: no rectifying invoice, the task is done.
    assert refunds.record_refund(session, invoice=inv, amount_cents=inv.overpaid_cents,
                                 reference="BANK-REFUND-1", received_on=DUE) is None
    assert (inv.paid_cents, inv.credited_cents, inv.overpaid_cents) == (inv.total_cents, 0, 0)
    assert session.scalar(sa.select(sa.func.count()).select_from(RectifyingInvoice).where(
        RectifyingInvoice.invoice_id == inv.id)) == 0
    session.refresh(task)
    assert task.status == TaskStatus.DONE
    # Nothing is left to look up: later passes leave it alone.
    assert dunning.run_pass(session=session, now=at(DUE, 11), gateway=gateway).charges == 0


@pytest.mark.parametrize("card,status,code", [
    (FAILS, AttemptStatus.FAILED, "card_declined"),  # declined: recorded, nothing more
    (None, AttemptStatus.FAILED, "not_charged"),  # the request never reached Stripe
])
def test_a_lost_charge_that_took_no_money_is_closed(session, billing, gateway, card, status,
                                                    code):
    inv = billing.invoice(due_on=DUE, card=card or PAYS)
    if card is None:
        down = Gateway(api_key="sk_test_x", api_base=f"http://127.0.0.1:{free_port()}",
                       timeout=2)
        assert dunning.run_pass(session=session, now=at(DUE), gateway=down).errors == 1
    else:
        dunning.run_pass(session=session, now=at(DUE), gateway=LostAnswer(gateway))
    _transfer(session, inv, f"TRF-LOST-{inv.id}")
    dunning.run_pass(session=session, now=at(DUE, 10), gateway=gateway)
    attempt = _attempt(session, inv)
    assert attempt.status == status
    assert attempt.decline_code in (code, "generic_decline")
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAID and inv.paid_cents == inv.total_cents
    assert inv.overpaid_cents == 0 and inv.last_decline_code is None
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment).where(
        Payment.invoice_id == inv.id)) == 1
    assert len(charges_at_stripe(gateway, inv.client.stripe_customer_id)) == (card is not None)
    assert session.scalars(sa.select(OutboxMessage.id).where(
        OutboxMessage.entity_id == str(inv.id))).all() == []


def test_stripe_down_during_the_look_up_keeps_it_pending_for_the_next_pass(
        session, billing, gateway):
    inv = billing.invoice(due_on=DUE, card=PAYS)
    dunning.run_pass(session=session, now=at(DUE), gateway=LostAnswer(gateway))
    _transfer(session, inv, "TRF-LOST-DOWN")
    assert dunning.run_pass(session=session, now=at(DUE, 10),
                            gateway=LostAnswer(gateway)).errors == 1
    assert _attempt(session, inv).status == AttemptStatus.PENDING
    dunning.run_pass(session=session, now=at(DUE, 11), gateway=gateway)
    assert _attempt(session, inv).status == AttemptStatus.SUCCEEDED
    session.refresh(inv)
    assert inv.overpaid_cents == inv.total_cents
    assert len(charges_at_stripe(gateway, inv.client.stripe_customer_id)) == 1


def test_a_webhook_that_brings_the_lost_answer_settles_it_once(client, app, session, billing,
                                                               gateway):
    inv = billing.invoice(due_on=DUE, card=PAYS)
    dunning.run_pass(session=session, now=at(DUE), gateway=LostAnswer(gateway))
    session.commit()
    intent = charges_at_stripe(gateway, inv.client.stripe_customer_id)[0].payment_intent
    key = _attempt(session, inv).idempotency_key
    event = {"id": "evt_lost_ok", "type": "payment_intent.succeeded", "created": int(time.time()),
             "data": {"object": {"id": intent, "object": "payment_intent",
                                 "amount": inv.total_cents, "status": "succeeded",
                                 "metadata": {"invoice_id": str(inv.id),
                                              "idempotency_key": key}}}}
    body = json.dumps(event).encode()
    resp = client.post("/stripe/webhook", data=body, content_type="application/json", headers={
        "Stripe-Signature": sign_payload(body, app.config["STRIPE_WEBHOOK_SECRET"])})
    assert resp.get_json()["status"] == "processed"
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAID and inv.overpaid_cents == 0
    assert dunning.run_pass(session=session, now=at(DUE, 10), gateway=gateway).charges == 0
    assert session.scalar(sa.select(StepRun.state).where(StepRun.invoice_id == inv.id)) == "done"
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment).where(
        Payment.invoice_id == inv.id)) == 1


def test_a_webhook_decline_for_a_lost_answer_still_gets_its_step(client, app, session, billing,
                                                                 gateway):
    inv = billing.invoice(due_on=DUE, card=FAILS)
    dunning.run_pass(session=session, now=at(DUE), gateway=LostAnswer(gateway))
    session.commit()
    key = _attempt(session, inv).idempotency_key
    event = {"id": "evt_lost_ko", "type": "payment_intent.payment_failed",
             "created": int(time.time()),
             "data": {"object": {"id": "pi_lost_ko", "object": "payment_intent",
                                 "amount": inv.total_cents, "status": "requires_payment_method",
                                 "last_payment_error": {"code": "card_declined",
                                                        "decline_code": "insufficient_funds"},
                                 "metadata": {"invoice_id": str(inv.id),
                                              "idempotency_key": key}}}}
    body = json.dumps(event).encode()
    client.post("/stripe/webhook", data=body, content_type="application/json", headers={
        "Stripe-Signature": sign_payload(body, app.config["STRIPE_WEBHOOK_SECRET"])})
    assert dunning.run_pass(session=session, now=at(DUE, 10), gateway=gateway).charges == 0
    session.refresh(inv)
    assert inv.status == InvoiceStatus.IN_DUNNING and inv.last_decline_code == "insufficient_funds"
    assert session.scalars(sa.select(OutboxMessage.template).where(
        OutboxMessage.entity_id == str(inv.id))).all() == ["billing/payment_failed"]
    assert len(charges_at_stripe(gateway, inv.client.stripe_customer_id)) == 1
