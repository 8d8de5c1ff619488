"""The nightly close: past services done through the one door, doubtful ones held for an agent."""

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from backoffice.cli import Runtime
from backoffice.db import db
from backoffice.models import RequestStatus
from backoffice.services import closing
from backoffice.services_commands import services_group
from cases import workflow
from cases.models import Case, CaseCategory, CaseChannel, CaseLink, CaseState
from tests.conftest import post_from
from vetting.models import Incident

S = RequestStatus
DAY = date(2026, 12, 1)
NIGHT = datetime(2026, 12, 2, 2, 30)


@pytest.fixture()
def pro(factories):
    return factories.professional()


def _service(factories, pro, *, status=S.CONFIRMED, day=DAY, start=time(9)):
    return factories.request(professional=pro, day=day, start=start, status=status)


def _complaint_case(session, request, *, state=CaseState.OPEN):
    category = session.scalar(sa.select(CaseCategory).where(CaseCategory.code ==
                                                            "service_complaint"))
    case = Case(subject="Mal servicio", state=state, channel=CaseChannel.MAIL,
                category_id=category.id)
    session.add(case)
    session.flush()
    session.add(CaseLink(case_id=case.id, entity="service_request", entity_id=str(request.id)))
    session.flush()
    return case


@pytest.mark.parametrize("status", [S.ASSIGNED, S.CONFIRMED, S.IN_PROGRESS])
def test_a_past_service_becomes_done(session, factories, pro, status):
    row = _service(factories, pro, status=status)
    assert closing.close_day(session, now=NIGHT) == {"done": [row.id], "held": []}
    assert row.status == S.DONE


def test_future_and_unfinished_services_are_left_alone(session, factories, pro):
    later = _service(factories, pro, day=DAY + timedelta(days=2))
    running = _service(factories, pro, day=NIGHT.date(), start=time(1, 30))  # ends 03:30
    assert closing.close_day(session, now=NIGHT) == {"done": [], "held": []}
    assert later.status == running.status == S.CONFIRMED


def test_an_aware_now_is_read_as_madrid_time(session, factories, pro):
    row = _service(factories, pro, day=NIGHT.date(), start=time(0))  # ends 02:00 Madrid
    # 01:30 UTC is 02:30 in Madrid in December: the service has ended.
    now = datetime.fromisoformat("2026-12-02T01:30+00:00")
    assert closing.close_day(session, now=now)["done"] == [row.id]


@pytest.mark.parametrize("status", [S.NO_SHOW, S.CANCELLED, S.NEW])
def test_no_show_cancelled_and_unbooked_services_are_untouched(session, factories, pro, status):
    if status == S.NEW:
        row = factories.request(day=DAY)
    else:
        row = _service(factories, pro, status=status)
    assert closing.close_day(session, now=NIGHT) == {"done": [], "held": []}
    assert row.status == status


@pytest.mark.parametrize("kind", ["complaint", "no_show"])
def test_a_complaint_or_no_show_incident_holds_the_service(session, factories, pro, kind):
    row = _service(factories, pro)
    session.add(Incident(professional_id=pro.id, kind=kind, occurred_on=DAY,
                         service_request_id=row.id))
    session.flush()
    assert closing.close_day(session, now=NIGHT) == {
        "done": [], "held": [{"id": row.id, "reasons": [kind]}]}
    assert row.status == S.CONFIRMED


def test_an_active_complaint_case_holds_the_service(session, factories, pro):
    held, solved = _service(factories, pro), _service(factories, pro, start=time(14))
    _complaint_case(session, held)
    _complaint_case(session, solved, state=CaseState.SOLVED)
    assert closing.close_day(session, now=NIGHT) == {
        "done": [solved.id], "held": [{"id": held.id, "reasons": ["complaint_case"]}]}


def test_the_core_spells_the_active_case_states_as_the_desk_does():
    assert closing.ACTIVE_CASE_STATES == tuple(str(s) for s in workflow.ACTIVE)


def test_running_twice_changes_nothing_more(session, factories, pro):
    done, held = _service(factories, pro), _service(factories, pro, start=time(14))
    _complaint_case(session, held)
    first = closing.close_day(session, now=NIGHT)
    second = closing.close_day(session, now=NIGHT)
    assert first["done"] == [done.id] and second["done"] == []
    assert first["held"] == second["held"] == [{"id": held.id, "reasons": ["complaint_case"]}]
    assert (done.status, held.status) == (S.DONE, S.CONFIRMED)


def test_the_nightly_job_is_scheduled_at_half_past_two():
    from backoffice import jobs

    assert (jobs.close_services, "cron", {"hour": 2, "minute": 30}) in jobs.SCHEDULE


def test_cli_closes_the_day_for_a_given_moment(session, app, factories, pro):
    done, held = _service(factories, pro), _service(factories, pro, start=time(14))
    session.add(Incident(professional_id=pro.id, kind="complaint", occurred_on=DAY,
                         service_request_id=held.id))
    session.flush()
    rt = Runtime(app.config, sessionmaker=db.sessionmaker)  # on the test's connection
    result = CliRunner().invoke(services_group, ["close-day", "--now", "2026-12-02T02:30"],
                                obj=rt)
    assert result.exit_code == 0, result.output
    assert result.output == (f"Close at 2026-12-02 02:30: 1 services done (#{done.id}), "
                             f"1 held (#{held.id}: complaint).\n")
    session.expire_all()
    assert session.get(type(done), done.id).status == S.DONE
    bad = CliRunner().invoke(services_group, ["close-day", "--now", "tomorrow"], obj=rt)
    assert bad.exit_code == 2 and "not an ISO date" in bad.output


def test_the_page_lists_yesterdays_held_services_and_marks_one_done(
        session, client, logged_in, factories, pro):
    yesterday = date.today() - timedelta(days=1)
    held = _service(factories, pro, day=yesterday)
    other = _service(factories, pro, day=yesterday, start=time(14))
    _complaint_case(session, held)
    closing.close_day(session, now=datetime.combine(date.today(), time(2, 30)))
    logged_in("ops_agent")
    url = "/admin/services/yesterday/"
    page = client.get(url).get_data(as_text=True)
    assert f'id="held-{held.id}"' in page and f'id="held-{other.id}"' not in page
    assert "A complaint case about it is open" in page
    page = post_from(client, url, f"/admin/services/yesterday/{held.id}",
                     {"action": "complete"})
    assert "Marked done; invoicing will bill it." in page
    assert f'id="held-{held.id}"' not in page and 'id="nothing-held"' in page
    session.expire_all()
    assert session.get(type(held), held.id).status == S.DONE


def test_the_page_refuses_a_post_without_its_csrf_token(session, client, logged_in, factories,
                                                        pro):
    held = _service(factories, pro, day=date.today() - timedelta(days=1))
    _complaint_case(session, held)
    logged_in("ops_agent")
    resp = client.post(f"/admin/services/yesterday/{held.id}", data={"action": "complete"})
    assert resp.status_code == 400
    session.expire_all()
    assert session.get(type(held), held.id).status == S.CONFIRMED


def test_the_page_reads_in_spanish(session, client, make_user, login, factories, pro):
    held = _service(factories, pro, day=date.today() - timedelta(days=1))
    session.add(Incident(professional_id=pro.id, kind="no_show",
                         occurred_on=held.service_date, service_request_id=held.id))
    agent = make_user("ops_agent", locale="es")
    session.flush()
    login(agent)
    page = client.get("/admin/services/yesterday/").get_data(as_text=True)
    assert "Servicios de ayer" in page and "Se informó de una ausencia" in page
    assert "Marcar como hecho" in page


def test_a_second_close_on_postgresql_does_nothing(session, factories, pro, database_url,
                                                   is_postgres):
    if not is_postgres:
        pytest.skip("the advisory lock is PostgreSQL's")
    from backoffice.db import make_engine

    row = _service(factories, pro)
    engine = make_engine(database_url)
    try:
        with engine.connect() as other:
            other.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": closing.LOCK_KEY})
            assert closing.close_day(session, now=NIGHT) is None
            other.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": closing.LOCK_KEY})
    finally:
        engine.dispose()
    assert row.status == S.CONFIRMED
