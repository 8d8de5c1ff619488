"""The coverage board, the run page, what-if and manual bookings as an agent sees them."""

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from assignment import runs, service
from assignment.models import PlanRun, RunStatus
from backoffice.models import AuditEvent, RequestStatus
from tests.conftest import csrf_from

DAY = date.today() + timedelta(days=2)


@pytest.mark.parametrize("roles, status", [((), 302), (("vetting",), 403), (("finance",), 403),
                                           (("ops_agent",), 200), (("admin",), 200)])
def test_only_agents_and_admins_open_the_coverage_pages(client, logged_in, roles, status):
    if roles:
        logged_in(*roles)
    for url in ("/admin/coverage/", "/admin/coverage/what-if"):
        assert client.get(url).status_code == status


def test_a_plan_run_is_reviewed_then_published_and_the_board_shows_what_is_left(
        client, logged_in, session, factories):
    logged_in("ops_agent")
    pro = factories.professional(name="Rosa Vidal")
    ok = factories.request(day=DAY, start=time(9))
    nobody = factories.request(day=DAY, start=time(9), skill="gardening")

    board = client.get("/admin/coverage/").get_data(as_text=True)
    resp = client.post("/admin/coverage/run", data={"csrf_token": csrf_from(board), "days": 14})
    assert resp.status_code == 302
    assert "is queued" in client.get(resp.headers["Location"]).get_data(as_text=True)
    run = session.scalars(sa.select(PlanRun)).one()
    run.time_limit_s = 2.0
    # what a worker does (tests/assignment/test_plan_queue.py runs real ones)
    runs.execute(session, run=run, now=datetime.now())
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Newly covered" in page and "Rosa Vidal" in page and f"#{ok.id}" in page

    resp = client.post(f"/admin/coverage/run/{run.id}/publish",
                       data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert f"Plan #{run.id} published: 1 newly covered" in html
    assert run.status == RunStatus.PUBLISHED and ok.professional_id == pro.id
    at_risk = html[html.index('id="at-risk"'):]
    assert f'data-request="{nobody.id}"' in at_risk and "nobody has the skill" in at_risk
    assert f'data-request="{ok.id}"' not in at_risk


def test_publishing_needs_the_csrf_token(client, logged_in, session, factories):
    logged_in("ops_agent")
    factories.professional()
    factories.request(day=DAY)
    run = service.run_plan(session, start=date.today(), time_limit_s=1)
    assert client.post(f"/admin/coverage/run/{run.id}/publish").status_code == 400
    assert run.status == RunStatus.DRAFT


def test_what_if_page_shows_the_difference_and_writes_nothing(client, logged_in, session,
                                                              factories):
    logged_in("ops_agent")
    away = factories.professional(name="Away Pro")
    factories.professional(name="Cover Pro")
    row = factories.request(day=DAY, professional=away, start=time(9))
    audits = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))

    html = client.get(f"/admin/coverage/what-if?professional={away.id}&from={DAY}&to={DAY}"
                      ).get_data(as_text=True)

    moved = html[html.index('id="diff-moved"'):html.index('id="diff-retimed"')]
    assert f'data-request="{row.id}"' in moved and "Cover Pro" in moved
    session.expire_all()
    assert row.professional_id == away.id
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == audits
    assert session.scalar(sa.select(sa.func.count()).select_from(PlanRun)) == 0


def test_an_agent_pins_unassigns_and_sees_a_clash_explained(client, logged_in, session,
                                                            factories):
    logged_in("ops_agent")
    pro = factories.professional(name="Marta Gil")
    busy = factories.request(day=DAY, professional=pro, start=time(9))
    row = factories.request(day=DAY, start=time(9), window_end=time(12))
    session.commit()  # the view rolls back a refused change; the rows must survive it
    page = client.get(f"/admin/coverage/request/{row.id}").get_data(as_text=True)
    token = csrf_from(page)

    html = client.post(f"/admin/coverage/request/{row.id}/pin", follow_redirects=True, data={
        "csrf_token": token, "professional": pro.id, "start_at": f"{DAY}T10:00"}
    ).get_data(as_text=True)
    assert f"Marta Gil is already booked 09:00–11:00 on {DAY:%d/%m} for request #{busy.id}" in html

    html = client.post(f"/admin/coverage/request/{row.id}/pin", follow_redirects=True, data={
        "csrf_token": token, "professional": pro.id, "start_at": f"{DAY}T11:00"}
    ).get_data(as_text=True)
    assert "Pinned: Marta Gil" in html
    assert (row.professional_id, row.start_at, row.pinned, row.status) == (
        pro.id, datetime.combine(DAY, time(11)), True, RequestStatus.ASSIGNED)

    client.post(f"/admin/coverage/request/{row.id}/unassign", data={"csrf_token": token})
    assert (row.professional_id, row.status, row.pinned) == (None, RequestStatus.NEW, False)


def test_the_home_page_shows_coverage_to_agents(client, logged_in, factories):
    logged_in("ops_agent")
    factories.request(day=DAY)
    html = client.get("/admin/").get_data(as_text=True)
    assert 'id="coverage-home"' in html and "1 services to cover" in html
