"""An ops agent in Chromium: the coverage board, a service at risk and why, a what-if that saves
nothing."""

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from assignment import service
from assignment.models import PlanRun
from backoffice.auth import create_user
from backoffice.models import (
    Client,
    Professional,
    ProfessionalStatus,
    RequestStatus,
    ServiceRequest,
    WorkingShift,
)
from tests.browser_support import log_in

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "coverage.browser@example.com", "coverage-pass-123"


def _pro(name: str, email: str, lat: float) -> Professional:
    pro = Professional(name=name, email=email, phone="+34 611 222 333", lat=lat, lon=-0.376,
                       zone="Ciutat Vella", skills="cleaning", status=ProfessionalStatus.APPROVED)
    pro.shifts = [WorkingShift(weekday=d, start_time=time(8), end_time=time(16)) for d in range(7)]
    return pro


def _request(client: Client, day: date, skill: str, **kw) -> ServiceRequest:
    values = {"status": RequestStatus.NEW, **kw}
    return ServiceRequest(client=client, skill=skill, lat=39.47, lon=-0.376, zone="Ciutat Vella",
                          service_date=day, window_start=time(9), window_end=time(11),
                          duration_min=120, priority=2, price_cents=3000, **values)


def _setup(live_server, day: date) -> dict:
    """One service booked to Lola, one nobody can do, and a published nightly plan."""
    with live_server.session() as s:
        create_user(s, email=EMAIL, name="Coverage Agent", password=PASSWORD,
                    roles=["ops_agent"], locale="en")
        lola = _pro("Lola Ferrer Board", "lola.board@example.com", 39.470)
        nuria = _pro("Nuria Soler Board", "nuria.board@example.com", 39.480)
        client = Client(name="Board Client", email="board.client@example.com", lat=39.47,
                        lon=-0.376, zone="Ciutat Vella")
        s.add_all([lola, nuria, client])
        s.flush()
        start = datetime.combine(day, time(9))
        booked = _request(client, day, "cleaning", professional_id=lola.id, start_at=start,
                          end_at=start + timedelta(minutes=120), status=RequestStatus.ASSIGNED)
        lonely = _request(client, day, "gardening")  # neither professional gardens
        s.add_all([booked, lonely])
        s.flush()
        run = service.run_plan(s, start=date.today(), now=datetime.now(), time_limit_s=2)
        service.publish(s, run=run)
        cells = service.coverage_cells(s, start=date.today())
        return {"booked": booked.id, "lonely": lonely.id, "lola": lola.id, "nuria": nuria.id,
                "covered": sum(c.covered for c in cells), "total": sum(c.requests for c in cells)}


def _state(live_server, ids) -> tuple:
    with live_server.session() as s:
        row = s.get(ServiceRequest, ids["booked"])
        runs = s.scalar(sa.select(sa.func.count()).select_from(PlanRun))
        return row.professional_id, row.start_at, runs


def test_agent_sees_coverage_and_an_at_risk_service_and_runs_a_what_if(live_server, page):
    day = date.today() + timedelta(days=1)
    ids = _setup(live_server, day)
    before = _state(live_server, ids)
    log_in(page, live_server, EMAIL, PASSWORD)

    page.get_by_role("link", name="Coverage", exact=True).first.click()
    page.wait_for_url(f"{live_server.url}/admin/coverage/")
    pct = 100.0 * ids["covered"] / ids["total"]
    expect(page.locator("h3")).to_contain_text(f"{pct:.1f}%")
    expect(page.locator("body")).to_contain_text(
        f"{ids['covered']} of {ids['total']} services covered")
    risk = page.locator(f"#at-risk tr[data-request='{ids['lonely']}']")
    expect(risk).to_contain_text("nobody has the skill")
    expect(page.locator(f"#at-risk tr[data-request='{ids['booked']}']")).to_have_count(0)

    page.click("text=What if…")
    page.select_option("select[name=professional]", str(ids["lola"]))
    page.fill("input[name=from]", day.isoformat())
    page.fill("input[name=to]", day.isoformat())
    page.click("#what-if-form button[type=submit]")
    result = page.locator("#what-if-result")
    expect(result).to_contain_text("Coverage")
    moved = page.locator(f"tr[data-request='{ids['booked']}']")
    expect(moved).to_contain_text("Lola Ferrer Board")
    expect(moved).to_contain_text("Nuria Soler Board")
    assert page.locator("#diff-moved .badge").inner_text() == "1"

    # a simulation: the booking, the runs and the board are as they were
    assert _state(live_server, ids) == before
    page.goto(f"{live_server.url}/admin/coverage/")
    expect(page.locator("h3")).to_contain_text(f"{pct:.1f}%")
