"""Stripe unreachable, answering 500, or answering into the void: nothing lost, nothing doubled."""

import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa

from backoffice.models import OutboxMessage
from billing import dunning
from billing.gateway import Gateway
from billing.models import AttemptStatus, InvoiceStatus, PaymentAttempt
from billing.stripe_server import free_port
from tests.billing.conftest import FAILS, PAYS, LostAnswer, at

DUE = date(2026, 5, 4)


class _Always500(BaseHTTPRequestHandler):
    def _answer(self):
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": {"type": "api_error", "message": "boom"}}')

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def broken_base():
    server = HTTPServer(("127.0.0.1", 0), _Always500)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _charges_at_stripe(gateway, customer) -> list:
    return gateway.client.v1.charges.list(params={"customer": customer, "limit": 100}).data


@pytest.mark.parametrize("where", ["unreachable", "500"])
def test_stripe_down_is_retried_next_pass_once(session, billing, gateway, broken_base, where):
    inv = billing.invoice(due_on=DUE, card=PAYS)
    base = broken_base if where == "500" else f"http://127.0.0.1:{free_port()}"
    down = Gateway(api_key="sk_test_x", api_base=base, timeout=2)
    first = dunning.run_pass(session=session, now=at(DUE), gateway=down)
    assert first.errors == 1 and inv.status == InvoiceStatus.OPEN
    attempt = session.scalar(sa.select(PaymentAttempt).where(PaymentAttempt.invoice_id == inv.id))
    assert attempt.status == AttemptStatus.PENDING
    assert attempt.idempotency_key == f"inv{inv.id}-day0"
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.entity_id == str(inv.id))) == 0

    dunning.run_pass(session=session, now=at(DUE, 10), gateway=gateway)
    dunning.run_pass(session=session, now=at(DUE, 11), gateway=gateway)
    assert inv.status == InvoiceStatus.PAID
    attempts = session.scalars(sa.select(PaymentAttempt).where(
        PaymentAttempt.invoice_id == inv.id)).all()
    assert [(a.status, a.tries) for a in attempts] == [(AttemptStatus.SUCCEEDED, 2)]
    assert len(_charges_at_stripe(gateway, inv.client.stripe_customer_id)) == 1


@pytest.mark.parametrize("card,final", [(PAYS, InvoiceStatus.PAID),
                                        (FAILS, InvoiceStatus.IN_DUNNING)])
def test_a_lost_answer_is_looked_up_not_charged_again(session, billing, gateway, card, final):
    inv = billing.invoice(due_on=DUE, card=card)
    dunning.run_pass(session=session, now=at(DUE), gateway=LostAnswer(gateway))
    assert len(_charges_at_stripe(gateway, inv.client.stripe_customer_id)) == 1
    dunning.run_pass(session=session, now=at(DUE, 10), gateway=gateway)
    assert len(_charges_at_stripe(gateway, inv.client.stripe_customer_id)) == 1
    assert inv.status == final
    mails = session.scalars(sa.select(OutboxMessage.template).where(
        OutboxMessage.entity_id == str(inv.id))).all()
    assert mails == ([] if card == PAYS else ["billing/payment_failed"])


def test_no_saved_card_skips_the_retry_but_still_mails(session, billing, gateway):
    inv = billing.invoice(due_on=DUE, card=None)
    dunning.run_pass(session=session, now=at(DUE + timedelta(days=3)), gateway=gateway)
    assert inv.status == InvoiceStatus.IN_DUNNING
    assert session.scalar(sa.select(sa.func.count()).select_from(PaymentAttempt).where(
        PaymentAttempt.invoice_id == inv.id)) == 0
    assert session.scalars(sa.select(OutboxMessage.template).where(
        OutboxMessage.entity_id == str(inv.id))).all() == ["billing/reminder"]


class _Crash:
    def charge(self, **kw):
        raise SystemError("the scheduler process died mid-pass")


def test_a_pass_that_died_mid_charge_is_recovered_after_its_lease(session, billing, gateway):
    from datetime import timedelta as td

    from billing.models import StepRun

    inv = billing.invoice(due_on=DUE, card=PAYS)
    with pytest.raises(SystemError):
        dunning.run_pass(session=session, now=at(DUE), gateway=_Crash())
    session.rollback()  # what dying does to the open transaction; the claim was committed
    run = session.scalar(sa.select(StepRun).where(StepRun.invoice_id == inv.id))
    assert run.state == "charging"
    # Another pass soon after leaves it alone: the first might still be charging.
    assert dunning.run_pass(session=session, now=at(DUE, 10), gateway=gateway).charges == 0
    run.claimed_at -= dunning.STALE_CLAIM + td(minutes=1)
    session.flush()
    assert dunning.run_pass(session=session, now=at(DUE, 11), gateway=gateway).charges == 1
    assert inv.status == InvoiceStatus.PAID
    assert len(_charges_at_stripe(gateway, inv.client.stripe_customer_id)) == 1


def test_an_amount_changed_after_a_lost_answer_is_never_charged_at_the_old_amount(
        session, billing, gateway):
    from billing import service

    inv = billing.invoice(due_on=DUE, card=PAYS, prices=(10000,))
    down = Gateway(api_key="sk_test_x", api_base=f"http://127.0.0.1:{free_port()}", timeout=2)
    dunning.run_pass(session=session, now=at(DUE), gateway=down)
    service.record_payment(session, invoice=inv, amount_cents=5000, method="bank_transfer",
                           reference="PART-1", received_on=DUE)
    dunning.run_pass(session=session, now=at(DUE, 10), gateway=gateway)
    assert _charges_at_stripe(gateway, inv.client.stripe_customer_id) == []
    attempt = session.scalar(sa.select(PaymentAttempt).where(PaymentAttempt.invoice_id == inv.id))
    assert attempt.status == AttemptStatus.FAILED and attempt.decline_code == "not_charged"
    dunning.run_pass(session=session, now=at(DUE + timedelta(days=3)), gateway=gateway)
    charged = _charges_at_stripe(gateway, inv.client.stripe_customer_id)
    assert [c.amount for c in charged] == [inv.total_cents - 5000]
    assert inv.status == InvoiceStatus.PAID
