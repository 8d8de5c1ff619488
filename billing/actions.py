"""What a dunning step does to an invoice once its charge (if any) has an answer."""

from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import mail
from backoffice.models import Client, ClientStatus, Task
from backoffice.services import clients as client_service
from billing import policy, service
from billing.gateway import SUCCEEDED, ChargeResult
from billing.models import CHASEABLE, Invoice, InvoiceStatus, PaymentAttempt

CARD_MAILS = {"payment_failed", "reminder"}


def money(cents: int, currency: str = "eur") -> str:
    """Format cents as Spanish finance writes them: 1.234,56 €."""
    whole, frac = divmod(abs(cents), 100)
    text = f"{whole:,}".replace(",", ".") + f",{frac:02d}"
    symbol = "€" if currency.lower() == "eur" else currency.upper()
    return f"{'-' if cents < 0 else ''}{text} {symbol}"


def complete_step(session: Session, inv: Invoice, step: policy.Step, *, now: datetime,
                  charge: ChargeResult | None, amount_cents: int | None = None,
                  note: str | None = None, later: list | None = None,
                  seen_references: set[str] | None = None) -> None:
    """Record the charge's answer, then mail, call, hold or close as the step says.

    With later, the mail is appended there as a callable: a pass queues a batch's mails after
    one flush of the batch instead of one flush of everything pending per mail.
    """
    day = step.day
    if charge is not None:
        if charge.status == SUCCEEDED:
            service.log(session, inv, "attempt", day=day, amount_cents=amount_cents, at=now,
                        detail=f"succeeded ({charge.payment_intent_id})")
            if inv.status == InvoiceStatus.IN_DUNNING:
                inv.dunning_day = day
            service.record_payment(session, invoice=inv, amount_cents=amount_cents or 0,
                                   method="card", reference=charge.payment_intent_id,
                                   received_on=now.date(), flush=False,
                                   seen_references=seen_references, at=now)
            return
        code = charge.decline_code or "declined"
        inv.last_decline_code = code
        if policy.is_hard_decline(code):
            inv.hard_declined = True
        service.log(session, inv, "attempt", day=day, amount_cents=amount_cents, at=now,
                    detail=f"failed: {code}"
                    + (" (hard decline: no more retries)" if inv.hard_declined else ""))
    elif note:
        service.log(session, inv, "retry_skipped", day=day, at=now, detail=note)
    if inv.due_cents == 0 or inv.status not in CHASEABLE:
        return  # paid by transfer or paused while Stripe answered
    if inv.status == InvoiceStatus.OPEN:
        inv.status = InvoiceStatus.IN_DUNNING
        inv.entered_dunning_cents = inv.due_cents
        service.log(session, inv, "status", day=day, at=now, detail="open → in_dunning")
    inv.dunning_day = day
    client = inv.client
    template = step.mail_template
    if inv.hard_declined and (step.retry or template in CARD_MAILS):
        template = "card_update"
    if template:
        mail_it = partial(send_mail, session, inv, client, template=template, day=day, now=now)
        if later is not None:
            later.append(mail_it)
        else:
            mail_it()
    if step.call_task:
        create_call_task(session, inv, client, now=now)
    if step.hold_bookings and client.status == ClientStatus.ACTIVE:
        client_service.set_status(session, client=client, status=ClientStatus.BLOCKED)
        service.log(session, inv, "hold", day=day, at=now, detail="new bookings held")
    if step.close_uncollectible:
        inv.status = InvoiceStatus.UNCOLLECTIBLE
        service.log(session, inv, "status", day=day, at=now,
                    detail="in_dunning → uncollectible; write-off needs two finance users")


def send_mail(session: Session, inv: Invoice, client: Client, *, template: str, day: int,
              now: datetime) -> None:
    """Queue a dunning mail once per invoice and step, in the client's language."""
    if not client.email:
        service.log(session, inv, "mail_skipped", day=day, at=now, detail="client has no email")
        return
    lang = client.language if client.language in ("es", "en") else "es"
    context = {
        "client_name": client.name, "invoice_code": inv.code,
        "amount": money(inv.due_cents, inv.currency), "due_on": inv.due_on.isoformat(),
        "days_overdue": policy.days_overdue(inv.due_on, now.date()),
        "decline_code": inv.last_decline_code or "",
        "hold_on": (inv.due_on + timedelta(days=30)).isoformat(),
    }
    msg = mail.enqueue(session, to=client.email, template=f"billing/{template}", lang=lang,
                       context=context, entity="billing_invoice", entity_id=inv.id,
                       dedup_key=f"dunning:inv{inv.id}:day{day}")
    if msg is not None:
        service.log(session, inv, "mail", day=day, at=now, detail=f"{template} to {client.email}")


def create_call_task(session: Session, inv: Invoice, client: Client, *, now: datetime) -> None:
    """Put the client on the ops agents' outbound call list, with history and a script."""
    key = f"dunning-call:inv{inv.id}"
    if session.scalar(sa.select(Task.id).where(Task.dedup_key == key)):
        return
    others = session.scalars(sa.select(Invoice).where(Invoice.client_id == client.id)
                             .order_by(Invoice.issued_on)).all()
    attempts = session.scalars(sa.select(PaymentAttempt).where(
        PaymentAttempt.invoice_id == inv.id).order_by(PaymentAttempt.id)).all()
    history = "\n".join(
        f"- {o.code} {money(o.total_cents)} due {o.due_on} — {o.status.value}" for o in others)
    tries = "\n".join(f"- day {a.day}: {a.status.value} {a.decline_code or ''}".rstrip()
                      for a in attempts) or "- none"
    lang_es = client.language != "en"
    script = (
        f"Hola, ¿hablo con {client.name}? Le llamo de parte del servicio de limpieza y cuidados "
        f"sobre la factura {inv.code} de {money(inv.due_cents)}, vencida el {inv.due_on}. "
        "No hemos podido cobrarla en su tarjeta. ¿Puede actualizar la tarjeta o pagar por "
        "transferencia? Si hay un problema con el servicio, lo anotamos y pausamos los avisos."
        if lang_es else
        f"Hello, is this {client.name}? I'm calling about invoice {inv.code} for "
        f"{money(inv.due_cents)}, due on {inv.due_on}. We could not charge your card. Can you "
        "update the card or pay by bank transfer? If something went wrong with the service, "
        "we note it and pause the reminders."
    )
    details = (f"Phone: {client.phone or 'none'}  Email: {client.email or 'none'}  "
               f"Language: {client.language}\nAmount due: {money(inv.due_cents)}\n\n"
               f"Invoices of this client:\n{history}\n\nCharge attempts:\n{tries}\n\n"
               f"Script:\n{script}\n\nOutcomes: paid / promise to pay by a date (pause) / "
               "dispute (pause) / no answer.")
    session.add(Task(role="ops_agent", kind="dunning_call",
                     title=f"Call {client.name} about {inv.code} ({money(inv.due_cents)})",
                     details=details, entity="billing_invoice", entity_id=str(inv.id),
                     dedup_key=key, due_at=now))
    service.log(session, inv, "call_task", day=policy.days_overdue(inv.due_on, now.date()),
                at=now, detail="outbound call for an ops agent")
