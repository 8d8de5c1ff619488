"""What a dunning step does to an invoice once its charge (if any) has an answer."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.i18n import LANGUAGE_NAMES, Code, Keyed, Money, Said, lines_text, task_message
from backoffice.models import Client, ClientStatus, Task
from backoffice.services import clients as client_service
from billing import policy, service, workflow
from billing.gateway import NOT_CHARGED, SUCCEEDED, ChargeResult
from billing.models import CHASEABLE, Invoice, InvoiceStatus, PaymentAttempt
from billing.service import money
from billing.timeline import to_utc

__all__ = ["money", "complete_step", "record_lost_answer", "create_call_task"]

CARD_MAILS = {"payment_failed", "reminder"}


def complete_step(batch, inv, step: policy.Step, *, charge: ChargeResult | None,
                  amount_cents: int | None = None, note: str | None = None) -> None:
    """Record the charge's answer, then mail, call, hold or close as the step says.

    inv is a pass's plain invoice row and batch the pass's batch (billing.batch): the changes
    and timeline entries are written with the batch's other invoices.
    """
    session, now, day, events = batch.session, batch.now, step.day, batch.events
    if charge is not None:
        if charge.status == SUCCEEDED:
            batch.log(inv, "attempt", day=day, amount_cents=amount_cents,
                      detail=f"succeeded ({charge.payment_intent_id})")
            if inv.status == InvoiceStatus.IN_DUNNING:
                inv.dunning_day = day
            record_card_payment(batch, inv, charge, amount_cents=amount_cents or 0)
            return
        code = charge.decline_code or "declined"
        inv.last_decline_code = code
        if policy.is_hard_decline(code):
            inv.hard_declined = True
        batch.log(inv, "attempt", day=day, amount_cents=amount_cents,
                  detail=f"failed: {code}"
                  + (" (hard decline: no more retries)" if inv.hard_declined else ""))
    elif note:
        batch.log(inv, "retry_skipped", day=day, detail=note)
    if inv.due_cents == 0 or inv.status not in CHASEABLE:
        return  # paid by transfer or paused while Stripe answered
    if inv.status == InvoiceStatus.OPEN:
        workflow.transition(session, invoice=inv, to=InvoiceStatus.IN_DUNNING, day=day, at=now,
                            events=events)
    inv.dunning_day = day
    template = step.mail_template
    if inv.hard_declined and (step.retry or template in CARD_MAILS):
        template = "card_update"
    if template:
        send_mail(batch, inv, template=template, day=day)
    if step.call_task:
        create_call_task(session, inv, session.get(Client, inv.client_id), now=now,
                         events=events)
    if step.hold_bookings:
        client = session.get(Client, inv.client_id)
        if client.status == ClientStatus.ACTIVE:
            client_service.set_status(session, client=client, status=ClientStatus.BLOCKED)
            batch.log(inv, "hold", day=day, detail="new bookings held")
    if step.close_uncollectible:
        workflow.transition(session, invoice=inv, to=InvoiceStatus.UNCOLLECTIBLE, day=day,
                            at=now, reason="write-off needs two finance users", events=events)


def record_card_payment(batch, inv, charge: ChargeResult, *, amount_cents: int) -> None:
    """Record a card charge's money once, whether the pass or a webhook saw it first."""
    ref = charge.payment_intent_id
    if ref and ref in batch.seen_references:
        return
    batch.add_payment(service.apply_payment(
        batch.session, inv, amount_cents=amount_cents, method="card", reference=ref,
        received_on=batch.now.date(), at=batch.now, events=batch.events))


def record_lost_answer(batch, inv, day: int, charge: ChargeResult, *, amount_cents: int) -> None:
    """Record what became of a charge whose answer was lost, on an invoice settled meanwhile.

    Nothing else happens: no mail, no next step. Money it took anyway is recorded, and an
    invoice paid twice shows the overpayment, with a task for finance to refund it.
    """
    if charge.status == SUCCEEDED:
        batch.log(inv, "attempt", day=day, amount_cents=amount_cents,
                  detail=f"answer looked up: succeeded ({charge.payment_intent_id})")
        record_card_payment(batch, inv, charge, amount_cents=amount_cents)
        return
    if charge.decline_code == NOT_CHARGED:
        detail = "answer looked up: never charged; the invoice was settled another way"
    else:
        detail = f"answer looked up: failed: {charge.decline_code or 'declined'}"
    batch.log(inv, "attempt", day=day, amount_cents=amount_cents, detail=detail)


def send_mail(batch, inv, *, template: str, day: int) -> None:
    """Queue a dunning mail once per invoice and step, in the client's language."""
    client = inv.client
    if not client.email:
        batch.log(inv, "mail_skipped", day=day, detail="client has no email")
        return
    batch.mail(inv, template=template, day=day, context={
        "client_name": client.name, "invoice_code": inv.code,
        # The amount as the client's language writes it (mails are in their language).
        "amount": money(inv.due_cents, inv.currency,
                        locale="en" if client.language == "en" else "es"),
        "due_on": inv.due_on.isoformat(),
        "days_overdue": policy.days_overdue(inv.due_on, batch.now.date()),
        "decline_code": inv.last_decline_code or "",
        "hold_on": (inv.due_on + timedelta(days=30)).isoformat(),
    })


def create_call_task(session: Session, inv: Invoice, client: Client, *, now: datetime,
                     events: list[dict] | None = None) -> None:
    """Put the client on the ops agents' outbound call list, with history and a script."""
    key = f"dunning-call:inv{inv.id}"
    if session.scalar(sa.select(Task.id).where(Task.dedup_key == key)):
        return
    others = session.scalars(sa.select(Invoice).where(Invoice.client_id == client.id)
                             .order_by(Invoice.issued_on)).all()
    attempts = session.scalars(sa.select(PaymentAttempt).where(
        PaymentAttempt.invoice_id == inv.id).order_by(PaymentAttempt.id)).all()
    none = Keyed("none")
    # Each line a message key with its values: the panel words it for each reader (#18).
    history = [Keyed("- %(line)s — %(status)s", status=Code(o.status.value),
                     line=Keyed("%(invoice)s %(amount)s due %(date)s", invoice=o.code,
                                amount=Money(o.total_cents), date=o.due_on))
               for o in others]
    tries = [Keyed("- %(line)s %(reason)s", reason=Code(a.decline_code) if a.decline_code else "",
                   line=Keyed("day %(day)d: %(status)s", day=a.day,
                              status=Code(a.status.value)))
             for a in attempts] or [Keyed("- %(line)s", line=none)]
    lang_es = client.language != "en"
    script = (
        f"Hola, ¿hablo con {client.name}? Le llamo de parte del servicio de limpieza y cuidados "
        f"sobre la factura {inv.code} de {money(inv.due_cents, locale='es')}, vencida el "
        f"{inv.due_on:%d/%m/%Y}. "
        "No hemos podido cobrarla en su tarjeta. ¿Puede actualizar la tarjeta o pagar por "
        "transferencia? Si hay un problema con el servicio, lo anotamos y pausamos los avisos."
        if lang_es else
        f"Hello, is this {client.name}? I'm calling about invoice {inv.code} for "
        f"{money(inv.due_cents, locale='en')}, due on {inv.due_on:%d/%m/%Y}. We could not charge "
        "your card. Can you "
        "update the card or pay by bank transfer? If something went wrong with the service, "
        "we note it and pause the reminders."
    )
    blank = Keyed("%(text)s", text="")
    lines = [
        Keyed("Phone: %(phone)s  Email: %(email)s  Language: %(language)s",
              phone=client.phone or none, email=client.email or none,
              language=Keyed(LANGUAGE_NAMES.get(client.language, client.language))),
        Keyed("Amount due: %(amount)s", amount=Money(inv.due_cents)), blank,
        Keyed("Invoices of this client:"), *history, blank,
        Keyed("Charge attempts:"), *tries, blank,
        # The script is read to the client: in the client's language, whoever reads it.
        Keyed("Script:"), Keyed("%(text)s", text=Said(script, "es" if lang_es else "en")),
        blank,
        Keyed("Outcomes: paid / promise to pay by a date (pause) / dispute (pause) / "
              "no answer.")]
    title = Keyed("Call %(name)s about %(invoice)s (%(amount)s)", name=client.name,
                  invoice=inv.code, amount=Money(inv.due_cents))
    session.add(Task(role="ops_agent", kind="dunning_call", title=title.text,
                     details=lines_text(lines), message=task_message(title=title, details=lines),
                     entity="billing_invoice", entity_id=str(inv.id),
                     dedup_key=key, due_at=to_utc(now)))
    service.log(session, inv, "call_task", day=policy.days_overdue(inv.due_on, now.date()),
                at=now, detail="outbound call for an ops agent", events=events)
