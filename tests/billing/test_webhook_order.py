"""The ledger is a function of the set of Stripe events, not of the order they arrive in.

Each example draws one invoice's realistic events (a success, partial refunds of its charge, a
decline of an earlier attempt, a decline of the same intent before it succeeded, a dispute),
then posts them, signed, in their natural order and in drawn permutations, each on an invoice
of its own. Every order must end with the same status, payments, credits and attempts, with
paid_cents the sum of the payments and credited_cents the sum of the rectifying invoices.
"""

import itertools
import json
import time
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.gateway import sign_payload
from billing.models import (
    InvoiceStatus,
    Payment,
    PaymentAttempt,
    RectifyingInvoice,
)

DUE = date(2026, 9, 1)
_run = itertools.count(1)


@dataclass(frozen=True)
class Plan:
    """One invoice's events, before ids are given."""

    refunds: tuple[int, ...]  # partial refunds of the charge, oldest first
    earlier_decline: bool  # the dunning pass's earlier attempt was declined
    retried_intent: bool  # the same intent was declined before it succeeded
    dispute: bool


@st.composite
def plans(draw, total: int) -> Plan:
    count = draw(st.integers(0, 3))
    cuts = sorted(draw(st.lists(st.integers(1, total), min_size=count, max_size=count,
                                unique=True)))
    refunds = tuple(b - a for a, b in itertools.pairwise([0, *cuts]))  # they sum to <= total
    return Plan(refunds, draw(st.booleans()), draw(st.booleans()), draw(st.booleans()))


def _event(evt_id: str, kind: str, created: int, obj: dict) -> dict:
    return {"id": evt_id, "object": "event", "type": kind, "created": created,
            "data": {"object": obj}}


def names(plan: Plan) -> list[str]:
    """Return the names of the plan's events in the order Stripe would send them."""
    return (["earlier decline"] * plan.earlier_decline + ["retried intent"] * plan.retried_intent
            + ["success"] + [f"refund {i}" for i in range(1, len(plan.refunds) + 1)]
            + ["dispute"] * plan.dispute)


def events_for(inv, plan: Plan, tag: str) -> dict[str, dict]:
    """Return the plan's events for inv, by name, with ids that carry tag."""
    t0 = int(time.time()) - 3600
    pi, charge = f"pi_{tag}", f"ch_{tag}"
    meta = {"invoice_id": str(inv.id), "idempotency_key": f"key_{tag}_ok"}
    declined = {"code": "card_declined", "decline_code": "insufficient_funds"}
    events = {"success": _event(f"evt_{tag}_ok", "payment_intent.succeeded", t0, {
        "id": pi, "object": "payment_intent", "amount": inv.total_cents,
        "status": "succeeded", "latest_charge": charge, "metadata": meta})}
    if plan.earlier_decline:
        events["earlier decline"] = _event(
            f"evt_{tag}_early", "payment_intent.payment_failed", t0 - 86400, {
                "id": f"pi_{tag}_early", "object": "payment_intent",
                "amount": inv.total_cents, "status": "requires_payment_method",
                "last_payment_error": declined,
                "metadata": {**meta, "idempotency_key": f"key_{tag}_early"}})
    if plan.retried_intent:
        events["retried intent"] = _event(f"evt_{tag}_ko", "payment_intent.payment_failed",
                                          t0 - 60, {
            "id": pi, "object": "payment_intent", "amount": inv.total_cents,
            "status": "requires_payment_method", "last_payment_error": declined,
            "metadata": meta})
    if plan.dispute:
        events["dispute"] = _event(f"evt_{tag}_dp", "charge.dispute.created", t0 + 7200, {
            "id": f"dp_{tag}", "object": "dispute", "charge": charge, "payment_intent": pi,
            "amount": inv.total_cents, "reason": "fraudulent", "status": "needs_response"})
    listed = []
    for i, amount in enumerate(plan.refunds, 1):
        # Stripe lists a charge's refunds newest first; each event shows all made so far.
        listed.insert(0, {"id": f"re_{tag}_{i}", "object": "refund", "amount": amount,
                          "charge": charge, "created": t0 + 60 * i, "status": "succeeded"})
        refunded = sum(plan.refunds[:i])
        events[f"refund {i}"] = _event(f"evt_{tag}_rf{i}", "charge.refunded", t0 + 60 * i, {
            "id": charge, "object": "charge", "amount": inv.total_cents,
            "amount_captured": inv.total_cents, "amount_refunded": refunded,
            "payment_intent": pi, "paid": True, "refunded": refunded == inv.total_cents,
            "created": t0, "metadata": meta,
            "refunds": {"object": "list", "data": list(listed), "has_more": False}})
    return events


def run(client, app, session, billing, price: int, plan: Plan, order: list[str]) -> tuple:
    """Post the plan's events in order on a fresh invoice; return its ledger, ids untagged."""
    inv = billing.invoice(due_on=DUE, prices=(price,), card=None)
    tag = f"o{next(_run)}x"
    # What the dunning pass left: the intent it made is known, its outcome not yet.
    session.add(PaymentAttempt(invoice_id=inv.id, day=3, idempotency_key=f"key_{tag}_ok",
                               amount_cents=inv.total_cents, payment_intent_id=f"pi_{tag}"))
    if plan.earlier_decline:
        session.add(PaymentAttempt(invoice_id=inv.id, day=0, idempotency_key=f"key_{tag}_early",
                                   amount_cents=inv.total_cents))
    session.commit()
    events = events_for(inv, plan, tag)
    assert sorted(events) == sorted(order)
    for name in order:
        body = json.dumps(events[name]).encode()
        resp = client.post("/stripe/webhook", data=body, content_type="application/json",
                           headers={"Stripe-Signature": sign_payload(
                               body, app.config["STRIPE_WEBHOOK_SECRET"])})
        assert resp.status_code == 200, (name, resp.get_data(as_text=True))
    session.expire_all()
    session.refresh(inv)
    payments = session.scalars(sa.select(Payment).where(Payment.invoice_id == inv.id)).all()
    rects = session.scalars(sa.select(RectifyingInvoice).where(
        RectifyingInvoice.invoice_id == inv.id)).all()
    attempts = session.scalars(sa.select(PaymentAttempt).where(
        PaymentAttempt.invoice_id == inv.id)).all()
    assert inv.paid_cents == sum(p.amount_cents for p in payments)
    assert inv.credited_cents == -sum(r.total_cents for r in rects)
    assert inv.credited_cents == -sum(r.subtotal_cents + r.vat_cents for r in rects)
    return (inv.status, inv.paid_cents, inv.credited_cents, inv.due_cents,
            sorted((p.amount_cents, p.method, p.reference.replace(tag, "#")) for p in payments),
            sorted(r.total_cents for r in rects),
            sorted((a.idempotency_key.replace(tag, "#"), a.status.value) for a in attempts))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_order_of_an_invoices_events_leaves_the_same_ledger(client, app, session, billing,
                                                               data):
    price = data.draw(st.integers(100, 200_000), label="price")
    total = billing.invoice(due_on=DUE, prices=(price,), card=None).total_cents
    plan = data.draw(plans(total), label="plan")
    natural = names(plan)
    orders = [natural] + [data.draw(st.permutations(natural), label=f"order {i}")
                          for i in (1, 2)]
    ledgers = [run(client, app, session, billing, price, plan, order) for order in orders]
    assert ledgers[1] == ledgers[0] and ledgers[2] == ledgers[0]
    status, paid, credited, due, payments, rects, _ = ledgers[0]
    refunded = sum(plan.refunds)
    assert (status, paid, credited, due) == (InvoiceStatus.PAID, total - refunded, refunded, 0)
    assert payments == sorted([(total, "card", "pi_#")] + [
        (-amount, "refund", f"refund:ch_#:re_#_{i}") for i, amount in enumerate(plan.refunds, 1)])
    assert rects == sorted(-amount for amount in plan.refunds)

