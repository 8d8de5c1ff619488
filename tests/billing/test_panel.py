"""Finance sees invoices with their timeline and reports; ops agents see the call list."""

import re
from datetime import date, timedelta

import pytest

from billing import dunning
from billing.models import InvoiceStatus
from tests.billing.conftest import FAILS, at
from tests.conftest import csrf_from

DUE = date(2026, 9, 1)
AREAS = {"billing_invoice": {"finance"}, "billing_reports": {"finance"},
         "billing_payment": {"finance"}, "billing_dunning_step": {"finance"},
         "billing_calls": {"ops_agent", "finance"}, "billing_rectifying_invoice": {"finance"}}


@pytest.mark.parametrize("role", ["ops_agent", "vetting", "finance"])
def test_who_opens_which_billing_page(client, logged_in, role):
    logged_in(role)
    for area, roles in AREAS.items():
        resp = client.get(f"/admin/{area}/")
        assert (resp.status_code == 200) == (role in roles), (role, area, resp.status_code)
        if role not in roles:
            assert resp.status_code == 403


def test_invoice_page_shows_the_timeline_and_records_a_transfer(client, logged_in, session,
                                                                billing, gateway):
    inv = billing.invoice(due_on=DUE, card=FAILS)
    for offset in (0, 3):
        dunning.run_pass(session=session, now=at(DUE + timedelta(days=offset)), gateway=gateway)
    session.commit()
    logged_in("finance")
    page = client.get(f"/admin/billing_invoice/details/?id={inv.id}").get_data(as_text=True)
    assert inv.code in page and 'data-status="in_dunning"' in page
    assert page.count('data-kind="attempt"') == 2 and page.count('data-kind="mail"') == 2
    resp = client.post(f"/admin/billing_invoice/act/{inv.id}", data={
        "csrf_token": csrf_from(page), "op": "transfer", "amount": f"{inv.due_cents / 100:.2f}",
        "reference": "BANK-77"})
    assert resp.status_code == 302
    page = client.get(f"/admin/billing_invoice/details/?id={inv.id}").get_data(as_text=True)
    assert 'data-status="paid"' in page and "BANK-77" in page
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAID


def test_reports_page_has_chart_and_csv(client, logged_in, session, billing, gateway):
    billing.invoice(due_on=DUE, card=FAILS)
    dunning.run_pass(session=session, now=at(DUE), gateway=gateway)
    session.commit()
    logged_in("finance")
    page = client.get("/admin/billing_reports/?as_of=2026-10-15").get_data(as_text=True)
    assert 'id="aging-chart"' in page and "<rect" in page
    # The machine format (what the CLI writes) stays a second choice (#18.4).
    resp = client.get("/admin/billing_reports/export.csv?as_of=2026-10-15&format=machine")
    assert resp.mimetype == "text/csv" and resp.get_data(as_text=True).startswith("section,")


def test_ops_agent_records_a_promise_from_the_call_list(client, logged_in, session, billing,
                                                       gateway):
    inv = billing.invoice(due_on=DUE, card=FAILS)
    for offset in (0, 3, 7, 14):
        dunning.run_pass(session=session, now=at(DUE + timedelta(days=offset)), gateway=gateway)
    session.commit()
    logged_in("ops_agent")
    page = client.get("/admin/billing_calls/").get_data(as_text=True)
    assert f'data-invoice="{inv.code}"' in page and "Script" in page
    task_id = re.search(r"/admin/billing_calls/(\d+)/outcome", page).group(1)
    resp = client.post(f"/admin/billing_calls/{task_id}/outcome", data={
        "csrf_token": csrf_from(page), "result": "promise", "until": "2026-09-25",
        "note": "pays on the 25th"})
    assert resp.status_code == 302
    session.refresh(inv)
    assert inv.status == InvoiceStatus.PAUSED and inv.paused_until == date(2026, 9, 25)
    assert f'data-invoice="{inv.code}"' not in client.get("/admin/billing_calls/").get_data(
        as_text=True)
