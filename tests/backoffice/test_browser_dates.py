"""A Spanish agent types a day as she reads it, in a real browser (#18)."""

import re
from datetime import date

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backoffice.auth import create_user
from backoffice.models import ServiceRequest
from tests.browser_support import log_in
from tests.factories import Factories

pytestmark = pytest.mark.browser


def test_a_spanish_agent_types_a_service_day_as_dd_mm_aaaa(live_server, page):
    with live_server.session() as s:
        create_user(s, email="agente.fechas@example.com", name="Agente Fechas",
                    password="browser-pass-789", roles=["ops_agent"], locale="es")
        client_id = Factories(s).client(name="Amparo Fechas").id
    log_in(page, live_server, "agente.fechas@example.com", "browser-pass-789")

    page.goto(f"{live_server.url}/admin/service_request/new/?client_id={client_id}")
    day = page.locator("#service_date")
    expect(day).to_have_attribute("placeholder", "dd/mm/aaaa")
    day.click()
    day.press_sequentially("09/12/2026")  # keystrokes: the calendar follows what is typed
    calendar = page.locator(".daterangepicker:visible .calendar:visible")
    # December 2026, its month named in Spanish ("dic", not "Dec"), the week from Monday.
    expect(calendar.locator("select.monthselect option:checked")).to_have_text("dic")
    expect(calendar.locator("select.yearselect")).to_have_value("2026")
    expect(calendar.locator("thead tr").last.locator("th").first).to_have_text("lu")
    page.select_option("#skill", "ironing", force=True)  # select2 hides the native select
    page.fill("#window_start", "10:00")
    page.fill("#window_end", "12:00")
    page.fill("#duration_min", "90")
    expect(day).to_have_value("09/12/2026")
    page.locator("form.admin-form input[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/admin/service_request/(\?.*)?$"))

    with live_server.session() as s:
        stored = s.scalars(sa.select(ServiceRequest.service_date).where(
            ServiceRequest.client_id == client_id)).all()
    assert stored == [date(2026, 12, 9)]


def test_a_time_off_row_added_to_the_form_takes_a_typed_day(live_server, page):
    """A row added to the professional's time off gets its calendar when added; typing a day
    into it is left alone, not rewritten at each key."""
    with live_server.session() as s:
        create_user(s, email="agente.libres@example.com", name="Agente Libres",
                    password="browser-pass-790", roles=["ops_agent"], locale="es")
        pro_id = Factories(s).professional(name="Lola Libres").id
    log_in(page, live_server, "agente.libres@example.com", "browser-pass-790")

    page.goto(f"{live_server.url}/admin/professional/edit/?id={pro_id}")
    page.click("#time_off-button")
    starts = page.locator("input[name='time_off-0-starts_on']")
    starts.click()
    starts.press_sequentially("01/02/2027")
    expect(starts).to_have_value("01/02/2027")
    ends = page.locator("input[name='time_off-0-ends_on']")
    ends.click()
    ends.press_sequentially("05/02/2027")
    expect(ends).to_have_value("05/02/2027")
    page.locator("input[name='time_off-0-reason']").fill("vacaciones")
    page.locator("form.admin-form input[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/admin/professional/(\?.*)?$"))

    from backoffice.models import TimeOff

    with live_server.session() as s:
        stored = s.execute(sa.select(TimeOff.starts_on, TimeOff.ends_on).where(
            TimeOff.professional_id == pro_id)).all()
    assert stored == [(date(2027, 2, 1), date(2027, 2, 5))]
