"""Invoicing (numbering, VAT, each service once) and the two-person write-off."""

from datetime import date, timedelta

import pytest

from backoffice.models import RequestStatus
from billing import dunning, invoicing, service
from billing.models import InvoiceStatus
from tests.billing.conftest import FAILS, at


def test_invoices_are_numbered_in_sequence_with_vat_and_each_service_once(session, factories):
    start, end, issued = date(2031, 1, 1), date(2031, 1, 31), date(2031, 2, 1)
    clients = [factories.client() for _ in range(3)]
    for c in clients:
        factories.request(client=c, day=start + timedelta(days=3), status=RequestStatus.DONE,
                          price_cents=3000)
        factories.request(client=c, day=start + timedelta(days=9), status=RequestStatus.DONE,
                          price_cents=4550)
        factories.request(client=c, day=start + timedelta(days=10),
                          status=RequestStatus.CANCELLED, price_cents=9999)
    made = [invoicing.issue(session, client=c, start=start, end=end, issued_on=issued)
            for c in clients]
    numbers = [inv.number for inv in made]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    assert {inv.series for inv in made} == {"F2031"}
    inv = made[0]
    assert (inv.subtotal_cents, inv.vat_cents, inv.total_cents) == (7550, 1586, 9136)
    assert len(inv.lines) == 2 and inv.due_on == issued + timedelta(days=7)
    # Each line names the service in the client's language (Spanish unless English).
    assert sorted(line.description for line in inv.lines) == [
        "limpieza 2031-01-04 (120 min)", "limpieza 2031-01-10 (120 min)"]
    english = factories.client(language="en")
    factories.request(client=english, day=start, status=RequestStatus.DONE, skill="ironing")
    assert [line.description for line in invoicing.issue(
        session, client=english, start=start, end=end, issued_on=issued).lines] == [
        "ironing 2031-01-01 (120 min)"]
    assert inv.code == f"F2031-{inv.number:06d}"
    assert invoicing.issue(session, client=clients[0], start=start, end=end,
                           issued_on=issued) is None


def test_write_off_needs_a_second_finance_user(session, billing, gateway, make_user):
    due = date(2026, 7, 1)
    inv = billing.invoice(due_on=due, card=FAILS)
    for offset in (0, 3, 7, 14, 21, 30):
        dunning.run_pass(session=session, now=at(due + timedelta(days=offset)), gateway=gateway)
    assert inv.status == InvoiceStatus.UNCOLLECTIBLE
    carmen, jorge, lucia = make_user("finance"), make_user("finance"), make_user("ops_agent")
    with pytest.raises(ValueError, match="^user: only finance"):
        service.propose_write_off(session, invoice=inv, user=lucia, reason="gone")
    service.propose_write_off(session, invoice=inv, user=carmen, reason="client moved abroad")
    with pytest.raises(ValueError, match="^user: a write-off needs a second finance user"):
        service.approve_write_off(session, invoice=inv, user=carmen)
    assert inv.status == InvoiceStatus.UNCOLLECTIBLE
    wo = service.approve_write_off(session, invoice=inv, user=jorge)
    assert inv.status == InvoiceStatus.WRITTEN_OFF and wo.amount_cents == inv.due_cents
    with pytest.raises(ValueError, match="already approved"):
        service.approve_write_off(session, invoice=inv, user=jorge)


@pytest.mark.parametrize("kind,until,error", [
    ("promise", None, "until: a promise to pay needs the date promised"),
    ("holiday", date(2026, 1, 1), "kind: choose dispute or promise"),
    ("dispute", None, None),
])
def test_pause_rules(session, billing, kind, until, error):
    inv = billing.invoice(due_on=date(2026, 7, 1))
    if error:
        with pytest.raises(ValueError, match=error):
            service.pause(session, invoice=inv, kind=kind, reason="r", until=until)
    else:
        service.pause(session, invoice=inv, kind=kind, reason="r", until=until)
        assert inv.status == InvoiceStatus.PAUSED
