"""charge.dispute.closed through a signed webhook: won resumes or settles, lost asks for a
write-off (four eyes stay), an outcome the ledger does not know is refused with the reason."""

import sqlalchemy as sa

from backoffice import audit
from backoffice.models import Task
from billing import dunning, service
from billing.models import InvoiceStatus, PaymentAttempt, WebhookEvent
from billing.webhooks import LOST_DISPUTE_TASK
from tests.billing.conftest import FAILS, at
from tests.billing.test_webhooks import DUE, _post


def _dispute(evt: str, kind: str, pi: str, **obj) -> dict:
    return {"id": evt, "type": f"charge.dispute.{kind}", "created": 1_780_000_000,
            "data": {"object": {"id": "dp_1", "object": "dispute", "reason": "fraudulent",
                                "payment_intent": pi, **obj}}}


def _chased(session, billing, gateway, card=FAILS):
    """Return an invoice a dunning pass charged, and the intent of its charge."""
    inv = billing.invoice(due_on=DUE, card=card)
    dunning.run_pass(session=session, now=at(DUE), gateway=gateway)
    session.commit()
    pi = session.scalar(sa.select(PaymentAttempt.payment_intent_id).where(
        PaymentAttempt.invoice_id == inv.id))
    assert pi
    return inv, pi


def test_created_then_won_resumes_dunning(client, app, session, billing, gateway):
    inv, pi = _chased(session, billing, gateway)
    assert _post(client, app, _dispute("evt_c", "created", pi)).get_json()["result"] == \
        "dunning paused"
    resp = _post(client, app, _dispute("evt_w", "closed", pi, status="won"))
    assert resp.status_code == 200
    assert resp.get_json()["result"] == "dispute won; dunning resumed"
    session.refresh(inv)
    assert inv.status == InvoiceStatus.IN_DUNNING and inv.pause_reason is None
    kinds = [e.kind for e in service.timeline(session, inv)]
    assert kinds[-2:] == ["pause", "resume"]
    moves = [row.changes.get("status") for row in audit.history(session, "billing_invoice",
                                                                 inv.id) if row.changes]
    assert ["paused", "in_dunning"] in moves


def test_won_on_a_charge_that_succeeded_leaves_it_paid(client, app, session, billing, gateway):
    from tests.billing.conftest import PAYS

    inv, pi = _chased(session, billing, gateway, card=PAYS)
    assert inv.status == InvoiceStatus.PAID
    assert _post(client, app, _dispute("evt_c2", "created", pi)).get_json()["result"] == \
        "nothing to pause"
    result = _post(client, app, _dispute("evt_w2", "closed", pi, status="warning_closed"))
    assert result.get_json()["result"] == "dispute warning_closed; invoice paid"
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAID and inv.due_cents == 0


def test_created_then_lost_asks_finance_for_a_write_off_with_four_eyes(
        client, app, session, billing, gateway, make_user):
    inv, pi = _chased(session, billing, gateway)
    _post(client, app, _dispute("evt_c3", "created", pi))
    resp = _post(client, app, _dispute("evt_l3", "closed", pi, status="lost"))
    assert resp.get_json()["result"] == "dispute lost; write-off to propose"
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAUSED and "dp_1 lost" in inv.pause_reason
    task = session.scalar(sa.select(Task).where(Task.kind == LOST_DISPUTE_TASK,
                                                Task.entity_id == str(inv.id)))
    assert task is not None and task.role == "finance" and inv.code in task.title
    # A redelivery changes nothing: one task.
    assert _post(client, app, _dispute("evt_l3", "closed", pi, status="lost")).get_json() == \
        {"status": "duplicate"}
    carmen, lucia = make_user("finance"), make_user("finance")
    service.propose_write_off(session, invoice=inv, user=carmen, reason="dispute lost")
    try:
        service.approve_write_off(session, invoice=inv, user=carmen)
        raise AssertionError("the proposer approved")
    except ValueError as exc:
        assert "second finance user" in str(exc)
    service.approve_write_off(session, invoice=inv, user=lucia)
    assert inv.status == InvoiceStatus.WRITTEN_OFF


def test_an_unknown_outcome_is_stored_and_refused_with_the_reason(client, app, session,
                                                                  billing, gateway):
    inv, pi = _chased(session, billing, gateway)
    _post(client, app, _dispute("evt_c4", "created", pi))
    resp = _post(client, app, _dispute("evt_x4", "closed", pi, status="under_review"))
    assert resp.status_code == 200 and resp.get_json()["status"] == "refused"
    row = session.scalar(sa.select(WebhookEvent).where(WebhookEvent.stripe_id == "evt_x4"))
    assert row.processed_at is not None
    assert row.result == "refused: status: a closed dispute is won or lost, not under_review"
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAUSED  # nothing changed


def test_a_closed_dispute_without_a_status_is_malformed(client, app, session):
    resp = _post(client, app, _dispute("evt_m5", "closed", "pi_1"))
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "data.object.status: missing or not text"
