"""Finance in a real browser: the dunning report, an invoice's timeline, a transfer, a write-off."""

import re
from datetime import date, datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from backoffice.auth import create_user
from backoffice.models import Client, RequestStatus, ServiceRequest
from billing import dunning, invoicing
from billing.gateway import Gateway
from billing.models import SavedCard
from tests.billing.conftest import FAILS
from tests.browser_support import log_in

pytestmark = pytest.mark.browser
PASSWORD = "finance-pass-123"


def _invoice_in_dunning(s, gateway: Gateway, *, name: str, due_on: date, days: tuple[int, ...]):
    """Make a client whose card fails, invoice one service and run the passes of these days."""
    client = Client(name=name, email=f"{name.split()[0].lower()}@example.com", language="en",
                    lat=39.47, lon=-0.376)
    s.add(client)
    s.flush()
    client.stripe_customer_id, pm = gateway.create_customer(email=client.email, name=name,
                                                            card_number=FAILS)
    s.add(SavedCard(client_id=client.id, payment_method_id=pm))
    start = due_on - timedelta(days=40)
    s.add(ServiceRequest(client=client, skill="cleaning", lat=client.lat, lon=client.lon,
                         service_date=start, window_start=time(9), window_end=time(11),
                         duration_min=120, priority=1, status=RequestStatus.DONE,
                         price_cents=4000))
    s.flush()
    inv = invoicing.issue(s, client=client, start=start, end=start + timedelta(days=27),
                          issued_on=due_on - timedelta(days=7))
    s.commit()
    for offset in days:
        dunning.run_pass(session=s, now=datetime.combine(due_on + timedelta(days=offset),
                                                         time(9)), gateway=gateway)
    return inv.id, inv.code


@pytest.fixture(scope="module")
def seeded(live_server, stripe_base):
    """Two finance users; an invoice 4 days into dunning and one 31 days in (uncollectible)."""
    gateway = Gateway(api_key="sk_test_browser", api_base=stripe_base, max_rps=1000)
    today = date.today()
    with live_server.session() as s:
        for n in (1, 2):
            create_user(s, email=f"finance{n}.browser@example.com", name=f"Finance {n}",
                        password=PASSWORD, roles=["finance"], locale="en")
        chased = _invoice_in_dunning(s, gateway, name="Amparo Chased", due_on=today
                                     - timedelta(days=4), days=(0, 3))
        held = _invoice_in_dunning(s, gateway, name="Bernat Held", due_on=today
                                   - timedelta(days=31), days=(0, 3, 7, 14, 21, 30))
    return {"chased": chased, "held": held}


def _open_invoice(page, live_server, code: str) -> None:
    page.goto(f"{live_server.url}/admin/billing_invoice/")
    page.locator("table.model-list tbody tr", has_text=code).locator(
        "a[title='View Record']").click()
    expect(page.locator("#invoice-header")).to_contain_text(code)


def test_finance_follows_an_invoice_from_the_report_to_paid(live_server, page, seeded):
    inv_id, code = seeded["chased"]
    log_in(page, live_server, "finance1.browser@example.com", PASSWORD)
    expect(page.locator("#billing-figures")).to_be_visible()

    page.goto(f"{live_server.url}/admin/billing_reports/")
    expect(page.locator("#aging-chart rect")).to_have_count(5)
    expect(page.locator("#aging tbody tr", has_text="1-30")).not_to_contain_text("€0.00")
    expect(page.locator("#by-step")).to_contain_text("3 days after the due date")

    _open_invoice(page, live_server, code)
    expect(page.locator("#invoice-header [data-status]")).to_have_attribute(
        "data-status", "in_dunning")
    timeline = page.locator("#invoice-timeline")
    expect(timeline.locator("tr[data-kind=attempt]")).to_have_count(2)
    expect(timeline.locator("tr[data-kind=mail]")).to_have_count(2)
    expect(timeline.locator("tr[data-kind=mail]").first).to_contain_text("payment failed")
    due = page.locator("[data-figure=due]").inner_text()  # e.g. "€48.40" (an English reader)

    form = page.locator("#transfer-form")
    form.locator("input[name=amount]").fill(due.replace("€", "").strip())
    form.locator("input[name=reference]").fill("BANK-BROWSER-1")
    form.locator("button").click()
    expect(page.locator(".alert-success")).to_contain_text(code)
    expect(page.locator("#invoice-header [data-status]")).to_have_attribute("data-status", "paid")
    expect(page.locator("[data-figure=due]")).to_have_text("€0.00")
    expect(timeline.locator("tr[data-kind=payment]")).to_contain_text("BANK-BROWSER-1")
    assert re.search(rf"/admin/billing_invoice/details/\?id={inv_id}", page.url)


def test_a_write_off_needs_a_second_finance_user(live_server, browser, seeded):
    _, code = seeded["held"]
    first = browser.new_context(locale="en-GB")
    second = browser.new_context(locale="en-GB")
    try:
        page = first.new_page()
        log_in(page, live_server, "finance1.browser@example.com", PASSWORD)
        _open_invoice(page, live_server, code)
        expect(page.locator("#invoice-header [data-status]")).to_have_attribute(
            "data-status", "uncollectible")
        page.fill("#write-off-form input[name=reason]", "client moved abroad, no answer")
        page.click("#write-off-form button")
        expect(page.locator("#approve-write-off")).to_contain_text(
            "Waiting for a second finance user")
        expect(page.locator("#approve-write-off button")).to_have_count(0)

        other = second.new_page()
        log_in(other, live_server, "finance2.browser@example.com", PASSWORD)
        other.goto(f"{live_server.url}/admin/billing_reports/")
        other.locator("#pending-write-offs a", has_text=code).click()
        expect(other.locator("#approve-write-off")).to_contain_text("client moved abroad")
        other.click("#approve-write-off button")
        expect(other.locator("#invoice-header [data-status]")).to_have_attribute(
            "data-status", "written_off")
        other.goto(f"{live_server.url}/admin/billing_reports/")
        expect(other.locator("#written-off")).to_contain_text(code)
    finally:
        first.close()
        second.close()
