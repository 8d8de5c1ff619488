"""Stripe events: stored raw first, each event id processed once, in whatever order they come."""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backoffice.db import utcnow
from backoffice.models import Client
from billing import refunds, service
from billing.models import (
    AttemptStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAttempt,
    SavedCard,
    StepRun,
    WebhookEvent,
)


def store(session: Session, *, payload: bytes, event: dict) -> WebhookEvent:
    """Store the raw event once; a redelivery returns the row already stored."""
    query = sa.select(WebhookEvent).where(WebhookEvent.stripe_id == event["id"])
    existing = session.scalar(query)
    if existing is not None:
        return existing
    row = WebhookEvent(stripe_id=event["id"], type=event.get("type", "?"),
                       payload=payload.decode("utf-8", "replace"))
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same event delivered twice at once
        return session.scalar(query)
    return row


def process(session: Session, row: WebhookEvent) -> str:
    """Apply a stored event to the invoices; never twice."""
    if session.get_bind().dialect.name == "postgresql":
        session.refresh(row, with_for_update=True)  # two deliveries at once: one processes
    if row.processed_at is not None:
        return "duplicate"
    event = json.loads(row.payload)
    obj = (event.get("data") or {}).get("object") or {}
    handler = HANDLERS.get(row.type)
    result = handler(session, obj, event) if handler else "ignored"
    row.processed_at, row.result = utcnow(), result[:255]
    session.flush()
    return result


def _invoice_of(session: Session, obj: dict) -> Invoice | None:
    """Find the event's invoice and lock it, as a dunning pass recording the same charge does."""
    meta = obj.get("metadata") or {}
    inv_id = int(meta["invoice_id"]) if str(meta.get("invoice_id", "")).isdigit() else None
    pi_id = obj.get("payment_intent") if obj.get("object") != "payment_intent" else obj.get("id")
    if inv_id is None and pi_id:
        inv_id = session.scalar(sa.select(PaymentAttempt.invoice_id)
                                .where(PaymentAttempt.payment_intent_id == pi_id))
    if inv_id is None:
        return None
    lock = session.get_bind().dialect.name == "postgresql"
    return session.get(Invoice, inv_id, with_for_update=lock or None, populate_existing=True)


def _day(event: dict):
    created = event.get("created")
    return (datetime.fromtimestamp(created, UTC).date() if created
            else utcnow().date())


def _attempt(session: Session, obj: dict) -> PaymentAttempt | None:
    key = (obj.get("metadata") or {}).get("idempotency_key")
    if not key:
        return None
    return session.scalar(sa.select(PaymentAttempt).where(PaymentAttempt.idempotency_key == key))


def on_intent_succeeded(session: Session, obj: dict, event: dict) -> str:
    inv = _invoice_of(session, obj)
    if inv is None:
        return "no invoice"
    attempt = _attempt(session, obj)
    if attempt is not None and attempt.status != AttemptStatus.SUCCEEDED:
        attempt.status, attempt.payment_intent_id = AttemptStatus.SUCCEEDED, obj["id"]
        attempt.finished_at = utcnow()
        _finish_step(session, attempt)
    paid = service.record_payment(session, invoice=inv, amount_cents=int(obj["amount"]),
                                  method="card", reference=obj["id"], received_on=_day(event))
    return "payment recorded" if paid else "payment already recorded"


def on_intent_failed(session: Session, obj: dict, event: dict) -> str:
    attempt = _attempt(session, obj)
    if attempt is None:
        return "no attempt"
    if attempt.status != AttemptStatus.PENDING:
        return f"attempt already {attempt.status.value}"  # e.g. a late failure after success
    err = obj.get("last_payment_error") or {}
    attempt.status, attempt.payment_intent_id = AttemptStatus.FAILED, obj["id"]
    attempt.decline_code = err.get("decline_code") or err.get("code")
    attempt.finished_at = utcnow()
    # A step whose answer was lost is finished by the next pass: its mail is still owed.
    return "attempt marked failed"


def _finish_step(session: Session, attempt: PaymentAttempt) -> None:
    """Close a step whose answer was lost: the money is recorded, nothing else is owed."""
    session.execute(sa.update(StepRun).where(
        StepRun.invoice_id == attempt.invoice_id, StepRun.day == attempt.day,
        StepRun.state == "retry").values(state="done", done_at=utcnow()))


def on_charge_refunded(session: Session, obj: dict, event: dict) -> str:
    inv = _invoice_of(session, obj)
    if inv is None:
        return "no invoice"
    refunded = int(obj.get("amount_refunded") or 0)
    done = -session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0))
                           .where(Payment.invoice_id == inv.id,
                                  Payment.reference.like(f"refund:{obj['id']}:%")))
    if refunded <= done:
        return "refund already recorded"
    rect = refunds.record_refund(session, invoice=inv, amount_cents=refunded - done,
                                 reference=f"refund:{obj['id']}:{refunded}",
                                 received_on=_day(event))
    return f"refund recorded; rectifying invoice {rect.code}" if rect else "refund recorded"


def on_dispute_created(session: Session, obj: dict, event: dict) -> str:
    inv = _invoice_of(session, {"payment_intent": obj.get("payment_intent")})
    if inv is None or inv.status not in (InvoiceStatus.OPEN, InvoiceStatus.IN_DUNNING):
        return "nothing to pause"
    service.pause(session, invoice=inv, kind="dispute",
                  reason=f"Stripe dispute {obj.get('id')}: {obj.get('reason', '')}", until=None)
    return "dunning paused"


def on_payment_method_attached(session: Session, obj: dict, event: dict) -> str:
    client = session.scalar(sa.select(Client).where(
        Client.stripe_customer_id == obj.get("customer"))) if obj.get("customer") else None
    if client is None:
        return "no client"
    card = session.get(SavedCard, client.id)
    if card is None:
        session.add(SavedCard(client_id=client.id, payment_method_id=obj["id"]))
    else:
        card.payment_method_id = obj["id"]
    # A new card may be charged again, even after a hard decline of the old one.
    session.execute(sa.update(Invoice).where(Invoice.client_id == client.id,
                                             Invoice.hard_declined.is_(True))
                    .values(hard_declined=False))
    return "card saved"


HANDLERS = {
    "payment_intent.succeeded": on_intent_succeeded,
    "payment_intent.payment_failed": on_intent_failed,
    "charge.refunded": on_charge_refunded,
    "charge.dispute.created": on_dispute_created,
    "payment_method.attached": on_payment_method_attached,
}
