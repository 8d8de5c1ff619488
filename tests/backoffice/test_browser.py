"""An ops agent in a real browser: creates a client and a request, finds it, reads its history."""

import re

import pytest
from playwright.sync_api import expect

from backoffice.auth import create_user
from tests.browser_support import log_in

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
