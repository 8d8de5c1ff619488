"""Stripe events: stored raw first, checked for shape, each event id processed once, in any order.

The ledger is a function of the set of events, not of their order: a card payment is recorded
once under its payment intent's id, whichever event brings it first (the success, or a refund
of its charge), and each refund once under its own id, whichever refund event lists it first.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backoffice.db import utcnow
from backoffice.i18n import Keyed, Refusal, task_message
from backoffice.models import Client, Task, TaskStatus
from billing import refunds, service, timeline, workflow
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
from billing.webhook_shapes import Malformed, parse

__all__ = ["Malformed", "parse"]

def store(session: Session, *, payload: bytes, event: dict) -> WebhookEvent:
    """Store the raw event once; a redelivery returns the row already stored."""
    return _insert_once(session, WebhookEvent(
        stripe_id=event["id"], type=event["type"], payload=payload.decode("utf-8", "replace")))


def store_invalid(session: Session, *, payload: bytes, reason: str) -> WebhookEvent:
    """Keep a signed body that is not an event, for inspection, already processed; once."""
    return _insert_once(session, WebhookEvent(
        stripe_id=f"invalid:{hashlib.sha256(payload).hexdigest()}", type="invalid",
        # PostgreSQL text holds no NUL: the stored copy shows it as a replacement character.
        payload=payload.decode("utf-8", "replace").replace("\x00", "\ufffd"),
        processed_at=utcnow(), result=reason[:255]))


def _insert_once(session: Session, row: WebhookEvent) -> WebhookEvent:
    query = sa.select(WebhookEvent).where(WebhookEvent.stripe_id == row.stripe_id)
    existing = session.scalar(query)
    if existing is not None:
        return existing
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
    handler = HANDLERS.get(row.type)
    result = handler(session, event["data"]["object"], event) if handler else "ignored"
    row.processed_at, row.result = utcnow(), result[:255]
    session.flush()
    return result


def refuse(session: Session, row: WebhookEvent, *, reason: str) -> str:
    """Mark a stored event the ledger refuses (a refund beyond what was paid) as done, with why:
    a retry would be refused again, and finance reads the reason on the stored event."""
    result = f"refused: {reason}"[:255]
    session.execute(sa.update(WebhookEvent).where(WebhookEvent.id == row.id)
                    .values(processed_at=utcnow(), result=result))
    return result


def _invoice_of(session: Session, obj: dict, *, intent: str | None) -> Invoice | None:
    """Find the event's invoice and lock it, as a dunning pass recording the same charge does."""
    inv_id = (obj.get("metadata") or {}).get("invoice_id")
    if inv_id is None and intent:
        inv_id = session.scalar(sa.select(PaymentAttempt.invoice_id).where(
            PaymentAttempt.payment_intent_id == intent).limit(1))
    if inv_id is None and intent:
        inv_id = session.scalar(sa.select(Payment.invoice_id).where(Payment.reference == intent))
    if inv_id is None:
        return None
    lock = session.get_bind().dialect.name == "postgresql"
    return session.get(Invoice, int(inv_id), with_for_update=lock or None,
                       populate_existing=True)


def _day(*moments: int | None) -> date:
    created = next((m for m in moments if m), None)
    return datetime.fromtimestamp(created, UTC).date() if created else utcnow().date()


def _attempt(session: Session, obj: dict) -> PaymentAttempt | None:
    key = (obj.get("metadata") or {}).get("idempotency_key")
    if not key:
        return None
    return session.scalar(sa.select(PaymentAttempt).where(PaymentAttempt.idempotency_key == key))


def _recorded(session: Session, reference: str) -> bool:
    return session.scalar(sa.select(Payment.id).where(Payment.reference == reference)) is not None


def _record_card_payment(session: Session, inv: Invoice, obj: dict, *, intent: str,
                         amount: int, day: date) -> bool:
    """Record a card payment once under its intent's id and close the attempt that made it."""
    attempt = _attempt(session, obj)
    if attempt is not None and attempt.status != AttemptStatus.SUCCEEDED:
        attempt.status, attempt.payment_intent_id = AttemptStatus.SUCCEEDED, intent
        attempt.finished_at = utcnow()
        _finish_step(session, attempt)
    return service.record_payment(session, invoice=inv, amount_cents=amount, method="card",
                                  reference=intent, received_on=day) is not None


def on_intent_succeeded(session: Session, obj: dict, event: dict) -> str:
    inv = _invoice_of(session, obj, intent=obj["id"])
    if inv is None:
        return "no invoice"
    paid = _record_card_payment(session, inv, obj, intent=obj["id"], amount=obj["amount"],
                                day=_day(event.get("created")))
    return "payment recorded" if paid else "payment already recorded"


def on_intent_failed(session: Session, obj: dict, event: dict) -> str:
    attempt = _attempt(session, obj)
    if attempt is None:
        return "no attempt"
    if attempt.status != AttemptStatus.PENDING:
        return f"attempt already {attempt.status.value}"  # e.g. a late failure after success
    if _recorded(session, obj["id"]):
        return "payment already recorded"  # a refund of the intent's charge came first
    err = obj.get("last_payment_error") or {}
    attempt.status, attempt.payment_intent_id = AttemptStatus.FAILED, obj["id"]
    attempt.decline_code = (err.get("decline_code") or err.get("code") or "")[:40] or None
    attempt.finished_at = utcnow()
    # A step whose answer was lost is finished by the next pass: its mail is still owed.
    return "attempt marked failed"


def _finish_step(session: Session, attempt: PaymentAttempt) -> None:
    """Close a step whose answer was lost: the money is recorded, nothing else is owed."""
    session.execute(sa.update(StepRun).where(
        StepRun.invoice_id == attempt.invoice_id, StepRun.day == attempt.day,
        StepRun.state == "retry").values(state="done", done_at=utcnow()))


def on_charge_refunded(session: Session, obj: dict, event: dict) -> str:
    """Record the charge's payment if it is not yet, then each refund of it not yet recorded.

    A refund that overtakes its success thus leaves what the success then refund would. A
    charge that lists no refunds (newer API versions) is recorded by its refunded total.
    """
    intent = obj.get("payment_intent")
    inv = _invoice_of(session, obj, intent=intent)
    if inv is None:
        return "no invoice"
    paid = bool(intent and obj.get("amount")) and _record_card_payment(
        session, inv, obj, intent=intent, amount=obj["amount"],
        day=_day(obj.get("created"), event.get("created")))
    prefix = f"refund:{obj['id']}:"
    done = -session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0))
                           .where(Payment.invoice_id == inv.id,
                                  Payment.reference.startswith(prefix, autoescape=True)))
    todo = []  # (amount, reference, day), oldest first
    listed = (obj.get("refunds") or {}).get("data") or []
    for refund in sorted(listed, key=lambda r: (r.get("created") or 0, r["id"])):
        amount, reference = refund["amount"], prefix + refund["id"]
        # A refund that failed gave nothing back; the total caps a list that disagrees.
        if (refund.get("status") not in ("failed", "canceled")
                and done + amount <= obj["amount_refunded"]
                and not _recorded(session, reference)):
            todo.append((amount, reference, _day(refund.get("created"), event.get("created"))))
            done += amount
    if obj["amount_refunded"] > done:
        todo.append((obj["amount_refunded"] - done, f"{prefix}{obj['amount_refunded']}",
                     _day(event.get("created"))))
    rects = [refunds.record_refund(session, invoice=inv, amount_cents=amount,
                                   reference=reference, received_on=day)
             for amount, reference, day in todo]
    codes = ", ".join(r.code for r in rects if r is not None)
    result = ("refund already recorded" if not todo
              else f"refund recorded; rectifying invoice {codes}" if codes else "refund recorded")
    return result + ("; its payment recorded first" if paid else "")


def on_dispute_created(session: Session, obj: dict, event: dict) -> str:
    inv = _invoice_of(session, {}, intent=obj.get("payment_intent"))
    if inv is None or not workflow.is_legal(inv.status, InvoiceStatus.PAUSED):
        return "nothing to pause"  # closed, or paused already (by finance or an earlier dispute)
    service.pause(session, invoice=inv, kind="dispute",
                  reason=f"Stripe dispute {obj['id']}: {obj.get('reason') or ''}", until=None)
    return "dunning paused"


# A dispute's outcome: "warning_closed" ends an inquiry that never became a chargeback.
DISPUTE_WON, DISPUTE_LOST = ("won", "warning_closed"), ("lost",)
LOST_DISPUTE_TASK = "billing_dispute_lost"


def on_dispute_closed(session: Session, obj: dict, event: dict) -> str:
    """Won: the charge stands, so settle what it paid and resume a dispute's pause. Lost: keep
    the invoice out of dunning and give finance the write-off to propose (four eyes stay).

    An outcome this ledger does not know is refused (stored, with the reason, not retried).
    """
    status = obj["status"]
    if status not in DISPUTE_WON + DISPUTE_LOST:
        raise Refusal("status: a closed dispute is won or lost, not %(status)s", status=status)
    intent = obj.get("payment_intent")
    inv = _invoice_of(session, {}, intent=intent)
    if inv is None:
        return "no invoice"
    disputed = inv.status == InvoiceStatus.PAUSED and (inv.pause_reason or "").startswith(
        "dispute:")
    if status in DISPUTE_WON:
        paid = _charge_stands(session, inv, intent=intent, day=_day(event.get("created")))
        if inv.status == InvoiceStatus.PAID:
            return f"dispute {status}; invoice paid"
        if disputed:
            service.resume(session, invoice=inv, note=f"Stripe dispute {obj['id']} {status}")
            return f"dispute {status}; dunning resumed" + ("; its payment recorded" if paid
                                                          else "")
        return f"dispute {status}; nothing to resume"
    if workflow.is_legal(inv.status, InvoiceStatus.PAUSED) or disputed:
        # Replaces a case's pause too: solving the case must not chase a lost dispute.
        service.pause(session, invoice=inv, kind="dispute", until=None,
                      reason=f"Stripe dispute {obj['id']} lost; write-off to propose")
    else:
        timeline.log(session, inv, "dispute_lost", detail=f"Stripe dispute {obj['id']} lost")
    _ask_for_write_off(session, inv, dispute=obj["id"])
    if inv.status == InvoiceStatus.PAID:
        return "dispute lost on a paid invoice; finance checks it"
    return "dispute lost; write-off to propose"


def _charge_stands(session: Session, inv: Invoice, *, intent: str | None, day: date) -> bool:
    """Record the disputed charge's payment if it succeeded and is not recorded yet."""
    attempt = intent and session.scalar(sa.select(PaymentAttempt).where(
        PaymentAttempt.payment_intent_id == intent,
        PaymentAttempt.status == AttemptStatus.SUCCEEDED).limit(1))
    if not attempt:
        return False
    return service.record_payment(session, invoice=inv, amount_cents=attempt.amount_cents,
                                  method="card", reference=intent, received_on=day) is not None


def _ask_for_write_off(session: Session, inv: Invoice, *, dispute: str) -> None:
    """Give finance the task of proposing the write-off: a webhook is no finance user, and
    the proposal and its approval stay with two people."""
    exists = session.scalar(sa.select(Task.id).where(
        Task.entity == "billing_invoice", Task.entity_id == str(inv.id),
        Task.kind == LOST_DISPUTE_TASK, Task.status == TaskStatus.OPEN))
    if exists:
        return
    title = Keyed("Dispute lost on %(invoice)s: propose the write-off", invoice=inv.code)
    details = Keyed(
        "Stripe dispute %(dispute)s on invoice %(invoice)s was lost: the money went back to "
        "the client and the invoice's dunning stays paused. Propose the write-off on the "
        "invoice page (a second finance user approves it), or resume dunning there.",
        dispute=dispute, invoice=inv.code) if inv.status != InvoiceStatus.PAID else Keyed(
        "Stripe dispute %(dispute)s on invoice %(invoice)s was lost, but the invoice is "
        "recorded as paid: the money went back to the client. Check the invoice's payments "
        "against Stripe.", dispute=dispute, invoice=inv.code)
    session.add(Task(
        role="finance", kind=LOST_DISPUTE_TASK, entity="billing_invoice",
        entity_id=str(inv.id), due_at=utcnow(),
        title=title.text, details=details.text,
        message=task_message(title=title, details=details)))
    session.flush()


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


HANDLERS: dict[str, Callable[[Session, dict, dict], str]] = {
    "payment_intent.succeeded": on_intent_succeeded,
    "payment_intent.payment_failed": on_intent_failed,
    "charge.refunded": on_charge_refunded,
    "charge.dispute.created": on_dispute_created,
    "charge.dispute.closed": on_dispute_closed,
    "payment_method.attached": on_payment_method_attached,
}
