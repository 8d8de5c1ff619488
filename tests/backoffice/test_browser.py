"""An ops agent in a real browser: creates a client and a request, finds it, reads its history;
filters, pages and cancels services in bulk from the list."""

import re
from datetime import date, time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backoffice.auth import create_user
from backoffice.models import ServiceRequest
from tests.browser_support import log_in
from tests.factories import Factories

pytestmark = pytest.mark.browser


def test_ops_agent_creates_client_and_request(live_server, page):
    with live_server.session() as s:
        create_user(s, email="agent.browser@example.com", name="Browser Agent",
                    password="browser-pass-123", roles=["ops_agent"], locale="en")
    log_in(page, live_server, "agent.browser@example.com", "browser-pass-123")
    assert page.locator("text=New requests to cover").is_visible()

    page.goto(f"{live_server.url}/admin/client/new/")
    page.fill("#name", "Vicenta Ferrer Llopis")
    page.fill("#email", "vicenta@example.com")
    page.fill("#phone", "+34 655 123 456")
    page.fill("#address", "Carrer de la Pau 7, Valencia")
    page.fill("#lat", "39.4740")
    page.fill("#lon", "-0.3760")
    page.click("input[type=submit][value=Save]")
    page.wait_for_url(re.compile(r".*/admin/client/(\?.*)?$"))
    assert page.locator(".alert-success").is_visible()

    page.fill("input[name=search]", "Vicenta")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*search=Vicenta.*"))
    page.click("a[title='View Record']")
    page.click("text=New service request")
    page.select_option("#skill", "ironing", force=True)  # select2 hides the native select
    page.fill("#service_date", "2026-12-09")
    page.fill("#window_start", "10:00")
    page.fill("#window_end", "12:00")
    page.fill("#duration_min", "90")
    page.fill("#price_cents", "2100")
    page.click("input[type=submit][value=Save]")
    page.wait_for_url(re.compile(r".*/admin/service_request/(\?.*)?$"))
    assert page.locator(".alert-success").is_visible()

    page.goto(f"{live_server.url}/admin/service_request/")
    page.fill("input[name=search]", "Vicenta Ferrer")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*search=Vicenta.*"))
    rows = page.locator("table.model-list tbody tr")
    expect(rows).to_have_count(1)
    assert "ironing" in rows.first.inner_text()
    rows.first.locator("a[title='View Record']").click()
    history = page.locator("table.audit-history")
    assert "agent.browser@example.com" in history.inner_text()
    assert "create" in history.inner_text()
    assert "ironing" in history.inner_text()


def test_ops_agent_filters_pages_and_cancels_in_bulk(live_server, page):
    with live_server.session() as s:
        create_user(s, email="agent.bulk@example.com", name="Bulk Agent",
                    password="browser-pass-456", roles=["ops_agent"], locale="en")
        make = Factories(s)
        client = make.client(name="Remei Albors", zone="Benicalap")
        ids = [make.request(client=client, day=date(2031, 2, 3), start=time(8 + i % 9),
                            zone="Benicalap").id for i in range(25)]
    log_in(page, live_server, "agent.bulk@example.com", "browser-pass-456")

    page.goto(f"{live_server.url}/admin/service_request/")
    page.click("text=Add Filter")
    page.click(".field-filters a.filter:text-is('Zone')")
    page.locator("#filter_form input.filter-val").fill("Benicalap")  # "contains", the first
    page.click("#filter_form button[type=submit]")
    page.wait_for_url(re.compile(r".*flt\d+_zone_like=Benicalap.*"))
    expect(page.locator("a.nav-link.active")).to_have_text("List (25)")
    expect(page.locator("table.model-list tbody tr")).to_have_count(20)

    page.click("ul.pagination a.page-link:text-is('2')")
    page.wait_for_url(re.compile(r".*page=1.*"))
    assert "zone_like=Benicalap" in page.url
    expect(page.locator("table.model-list tbody tr")).to_have_count(5)
    # The filter survives the page change: the form shows it again, filled in.
    expect(page.locator("#filter_form input.filter-val")).to_have_value("Benicalap")

    page.once("dialog", lambda dialog: dialog.accept())
    page.check("input.action-rowtoggle")
    page.click("text=With selected")
    page.click(".dropdown-menu a:text-is('Cancel')")
    expect(page.locator(".alert-success")).to_contain_text("5 services updated.")

    # A status chosen from the filter menu's options narrows the list to it.
    page.wait_for_load_state("load")
    status_item = page.locator(".field-filters a.filter:text-is('Status')")
    for _ in range(3):  # the menu opens only once the page's scripts have bound it
        page.click("text=Add Filter")
        try:
            expect(status_item).to_be_visible(timeout=3000)
            break
        except AssertionError:
            continue
    status_item.click()
    status_value = page.locator("#filter_form select.filter-val").last
    status_value.select_option(label="cancelled", force=True)
    page.click("#filter_form button[type=submit]")
    page.wait_for_url(re.compile(r".*flt\d+_status_equal=CANCELLED.*"))
    expect(page.locator("a.nav-link.active")).to_have_text("List (5)")
    expect(page.locator("table.model-list tbody tr")).to_have_count(5)

    with live_server.session() as s:
        statuses = s.scalars(sa.select(ServiceRequest.status).where(ServiceRequest.id.in_(ids)))
        assert sorted(st.value for st in statuses) == ["cancelled"] * 5 + ["new"] * 20
