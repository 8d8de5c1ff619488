"""A month of dunning, stepped day by day with a fixed now, against localstripe and an SMTP sink."""

from datetime import date, timedelta

import sqlalchemy as sa

from backoffice import mail
from backoffice.models import ClientStatus, OutboxMessage, Task
from billing import dunning, service
from billing.models import AttemptStatus, InvoiceStatus, PaymentAttempt
from tests.billing.conftest import FAILS, LOST, PAYS, at

DUE = date(2026, 3, 2)


def _mails(session, inv) -> list[str]:
    return list(session.scalars(
        sa.select(OutboxMessage.template).where(OutboxMessage.entity == "billing_invoice",
                                                OutboxMessage.entity_id == str(inv.id))
        .order_by(OutboxMessage.id)))


def _attempts(session, inv) -> list[tuple[int, str]]:
    return [(a.day, a.status.value) for a in session.scalars(
        sa.select(PaymentAttempt).where(PaymentAttempt.invoice_id == inv.id)
        .order_by(PaymentAttempt.id))]


def test_a_month_of_dunning(session, billing, gateway, mail_sink):
    failing = billing.invoice(due_on=DUE, card=FAILS)
    recovering = billing.invoice(due_on=DUE, card=FAILS)
    disputed = billing.invoice(due_on=DUE, card=FAILS)
    promised = billing.invoice(due_on=DUE, card=FAILS)
    hard = billing.invoice(due_on=DUE, card=LOST)
    transfer = billing.invoice(due_on=DUE, card=FAILS)
    on_time = billing.invoice(due_on=DUE, card=PAYS)
    english = billing.client(card=FAILS, language="en", email="pat@example.com")
    english_inv = billing.invoice(english, due_on=DUE)

    for offset in range(-2, 33):
        today = DUE + timedelta(days=offset)
        if offset == 2:
            service.pause(session, invoice=disputed, kind="dispute",
                          reason="cleaning not finished", until=None)
            service.pause(session, invoice=promised, kind="promise", reason="payday",
                          until=DUE + timedelta(days=5))
            service.record_payment(session, invoice=transfer, amount_cents=transfer.due_cents,
                                   method="bank_transfer", reference="TRF-1", received_on=today)
        if offset == 5:
            billing.save_card(recovering.client, PAYS)
        if offset == 6:
            billing.save_card(promised.client, PAYS)
        result = dunning.run_pass(session=session, now=at(today), gateway=gateway)
        assert result.errors == 0
        session.commit()

    assert failing.status == InvoiceStatus.UNCOLLECTIBLE
    assert _attempts(session, failing) == [(0, "failed"), (3, "failed"), (7, "failed")]
    assert _mails(session, failing) == ["billing/payment_failed", "billing/reminder",
                                        "billing/reminder", "billing/final_notice",
                                        "billing/account_held"]
    assert failing.client.status == ClientStatus.BLOCKED
    call = session.scalar(sa.select(Task).where(Task.entity_id == str(failing.id)))
    assert call.role == "ops_agent" and call.kind == "dunning_call"
    assert "Script" in call.details and failing.code in call.details

    assert recovering.status == InvoiceStatus.PAID and recovering.due_cents == 0
    assert _attempts(session, recovering) == [(0, "failed"), (3, "failed"), (7, "succeeded")]
    assert _mails(session, recovering) == ["billing/payment_failed", "billing/reminder"]

    assert disputed.status == InvoiceStatus.PAUSED
    assert _attempts(session, disputed) == [(0, "failed")]
    assert _mails(session, disputed) == ["billing/payment_failed"]

    # The promise lapsed on day 5: dunning resumed by itself on day 6 with the step it owed.
    assert promised.status == InvoiceStatus.PAID
    assert _attempts(session, promised) == [(0, "failed"), (3, "succeeded")]
    kinds = [e.kind for e in service.timeline(session, promised)]
    assert kinds.index("pause") < kinds.index("resume") < kinds.index("payment")

    assert hard.hard_declined and hard.last_decline_code == "lost_card"
    assert _attempts(session, hard) == [(0, "failed")]  # never retried
    assert _mails(session, hard)[:3] == ["billing/card_update"] * 3
    assert hard.status == InvoiceStatus.UNCOLLECTIBLE

    assert transfer.status == InvoiceStatus.PAID
    assert _attempts(session, transfer) == [(0, "failed")]
    assert _mails(session, transfer) == ["billing/payment_failed"]

    assert on_time.status == InvoiceStatus.PAID
    assert _attempts(session, on_time) == [(0, "succeeded")]
    assert _mails(session, on_time) == []
    assert english_inv.status == InvoiceStatus.UNCOLLECTIBLE

    # What the clients actually receive, in their language.
    mail_sink.messages.clear()
    sent = mail.deliver(session, host="127.0.0.1", port=mail_sink.port, sender="x@example.com")
    assert sent == len(mail_sink.messages) > 0
    to_pat = [m["Subject"] for m in mail_sink.messages if m["To"] == "pat@example.com"]
    assert to_pat[0] == f"We could not collect invoice {english_inv.code}"
    assert to_pat[-1].startswith("New bookings on hold")
    to_failing = [m["Subject"] for m in mail_sink.messages if m["To"] == failing.client.email]
    assert to_failing[0] == f"No hemos podido cobrar la factura {failing.code}"
    assert not [m for m in mail_sink.messages if m["To"] == on_time.client.email]


def test_catch_up_after_downtime_takes_only_the_latest_step(session, billing, gateway):
    inv = billing.invoice(due_on=DUE, card=FAILS)
    dunning.run_pass(session=session, now=at(DUE + timedelta(days=9)), gateway=gateway)
    assert _attempts(session, inv) == [(7, "failed")]
    assert _mails(session, inv) == ["billing/reminder"]
    kinds = [(e.kind, e.day) for e in service.timeline(session, inv)]
    assert ("step_skipped", 0) in kinds and ("step_skipped", 3) in kinds
    again = dunning.run_pass(session=session, now=at(DUE + timedelta(days=9, hours=5)),
                             gateway=gateway)
    assert again.charges == 0 and _attempts(session, inv) == [(7, "failed")]


def test_a_second_pass_at_the_same_moment_does_nothing(session, billing, gateway):
    inv = billing.invoice(due_on=DUE, card=FAILS)
    first = dunning.run_pass(session=session, now=at(DUE), gateway=gateway)
    second = dunning.run_pass(session=session, now=at(DUE), gateway=gateway)
    assert first.charges == 1 and second.charges == 0 and second.steps == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(PaymentAttempt).where(
        PaymentAttempt.invoice_id == inv.id, PaymentAttempt.status == AttemptStatus.FAILED)) == 1
