"""The case queue: tabs, filters, search, who sees what, bulk changes, saved filters."""

import html
import re

import sqlalchemy as sa

from backoffice.audit import AuditEvent
from cases import service
from cases.models import Case, CaseLink, CaseState, SavedFilter
from tests.conftest import post_from

ROW = re.compile(r'<tr data-case="(\d+)"')


def shown(client, url: str) -> set[int]:
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return {int(n) for n in ROW.findall(resp.get_data(as_text=True))}


def test_tabs_show_the_right_cases(client, session, logged_in, make_user, make_case):
    me = logged_in("ops_agent")
    other = make_user("ops_agent")
    mine = make_case(subject="Mía", assignee=me)
    theirs = make_case(subject="De otro", assignee=other)
    nobody = make_case(subject="Sin nadie")
    solved_mine = make_case(subject="Resuelta", assignee=me)
    solved_mine.state = CaseState.SOLVED
    session.commit()
    assert shown(client, "/admin/cases/?tab=mine") == {mine.id}
    assert shown(client, "/admin/cases/?tab=unassigned") == {nobody.id}
    assert shown(client, "/admin/cases/?tab=team") >= {mine.id, theirs.id, nobody.id}
    assert solved_mine.id not in shown(client, "/admin/cases/?tab=team")
    assert shown(client, "/admin/cases/?tab=all") >= {mine.id, theirs.id, nobody.id,
                                                      solved_mine.id}
    assert shown(client, "/admin/cases/?tab=all&state=solved") == {solved_mine.id}


def order_shown(client, url: str) -> list[int]:
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return [int(n) for n in ROW.findall(resp.get_data(as_text=True))]


def test_due_soon_lists_running_clocks_earliest_first(client, session, logged_in, make_case):
    """The tab merges each state's earliest dues; it failed on SQLite, which takes no LIMIT
    inside a UNION's parts."""
    from datetime import datetime, timedelta

    from cases import workflow

    logged_in("ops_agent")
    now = datetime(2026, 12, 1, 9, 0)  # Tuesday, 10:00 in Madrid
    later = make_case(subject="Más tarde", priority="low", now=now)
    sooner = make_case(subject="Antes", priority="urgent", now=now)
    opened = make_case(subject="Abierta", priority="high", now=now)
    workflow.transition(session, case=opened, to=CaseState.OPEN, now=now)
    waiting = make_case(subject="Esperando", priority="urgent", now=now)
    workflow.transition(session, case=waiting, to=CaseState.PENDING, now=now)
    session.commit()
    assert waiting.next_due_at is None  # paused: no clock runs
    listed = order_shown(client, "/admin/cases/?tab=due")
    assert listed == sorted([later.id, sooner.id, opened.id],
                            key=lambda i: session.get(Case, i).next_due_at)
    assert listed[0] == sooner.id and listed[-1] == later.id
    assert later.next_due_at - sooner.next_due_at > timedelta(0)


def test_filters_and_search(client, session, logged_in, make_case, factories, category):
    logged_in("ops_agent")
    ana = factories.client(name="Ana Ferrandis", email="ana.f@example.com", phone="600 11 22 33")
    urgent = make_case(requester=ana, subject="Cobro doble", priority="urgent",
                       category=category("billing_question"), tags=["cobro"])
    phone = make_case(subject="Llamada", channel="phone")
    session.commit()
    all_ = "/admin/cases/?tab=all"
    assert shown(client, f"{all_}&priority=urgent") == {urgent.id}
    assert shown(client, f"{all_}&channel=phone") == {phone.id}
    assert shown(client, f"{all_}&tag=cobro") == {urgent.id}
    assert shown(client, f"{all_}&category={category('billing_question').id}") == {urgent.id}
    for q in (urgent.number, str(urgent.id), "Ferrandis", "ana.f@example.com",
              "+34600112233", "Cobro doble"):
        assert shown(client, f"{all_}&q={q}") == {urgent.id}, q
    assert shown(client, f"{all_}&q=nadie-asi") == set()


def test_a_bare_number_that_is_no_case_searches_the_subjects(client, session, logged_in,
                                                             make_case):
    """A six-digit text was taken for a case number and found nothing."""
    logged_in("ops_agent")
    case = make_case(subject="Pedido 917355 sin entregar")
    session.commit()
    assert shown(client, "/admin/cases/?tab=all&q=917355") == {case.id}
    assert shown(client, f"/admin/cases/?tab=all&q={case.id}") == {case.id}


def test_hostile_queue_arguments_are_ignored(client, session, logged_in, make_case):
    logged_in("ops_agent")
    make_case()
    session.commit()
    for query in ("page=99999999999999999999", "state=nope", "assignee=' OR 1=1 --",
                  "category=-5", "tab=%ff", "q=%25", "breached=1&page=-3"):
        assert client.get(f"/admin/cases/?{query}").status_code == 200, query


def test_finance_sees_billing_cases_only(client, session, logged_in, make_case, category):
    logged_in("finance")
    billing = make_case(subject="Factura", category=category("billing_question"))
    other = make_case(subject="Cambio de hora")
    session.commit()
    assert shown(client, "/admin/cases/?tab=all") == {billing.id}
    assert client.get(f"/admin/cases/{other.id}").status_code == 404
    assert client.get(f"/admin/cases/{billing.id}").status_code == 200
    text = post_from(client, f"/admin/cases/{billing.id}", f"/admin/cases/{other.id}/note",
                     {"body": "hola"})
    assert "Page not found" in text
    post_from(client, f"/admin/cases/{billing.id}", f"/admin/cases/{billing.id}/reply",
              {"body": "Le devolvemos el importe."})
    assert [a.kind.value for a in billing.articles] == ["mail_out"]


def test_vetting_sees_cases_about_professionals(client, session, logged_in, make_case,
                                                 factories):
    logged_in("vetting")
    pro_case = make_case(requester=factories.professional(), subject="Duda de profesional")
    linked = make_case(subject="Queja")
    service.link(session, case=linked, entity="professional",
                 entity_id=factories.professional().id)
    client_case = make_case(subject="Cliente")
    session.commit()
    assert shown(client, "/admin/cases/?tab=all") == {pro_case.id, linked.id}
    assert client.get(f"/admin/cases/{client_case.id}").status_code == 404


def test_bulk_assign_and_state_change(client, session, logged_in, make_user, make_case,
                                      category):
    me = logged_in("ops_agent")
    agent = make_user("ops_agent")
    a, b = make_case(subject="Uno"), make_case(subject="Dos")
    c = make_case(subject="Tres", category=category("other"))
    session.commit()
    post_from(client, "/admin/cases/?tab=all", "/admin/cases/bulk",
              {"ids": [a.id, b.id], "op": "assign", "assignee": str(agent.id)})
    session.expire_all()
    assert {a.assignee_id, b.assignee_id} == {agent.id}
    text = html.unescape(post_from(client, "/admin/cases/?tab=all", "/admin/cases/bulk",
                                   {"ids": [a.id, c.id], "op": "state", "to": "solved"}))
    session.expire_all()
    assert c.state == CaseState.SOLVED and a.state == CaseState.NEW
    assert f"{a.number}: category: choose what the case is about" in text
    post_from(client, "/admin/cases/?tab=all", "/admin/cases/bulk",
              {"ids": [b.id], "op": "assign", "assignee": "me"})
    session.expire_all()
    assert b.assignee_id == me.id


def test_take_it(client, session, logged_in, make_case):
    me = logged_in("ops_agent")
    case = make_case()
    session.commit()
    text = post_from(client, "/admin/cases/?tab=unassigned", f"/admin/cases/{case.id}/take", {})
    session.expire_all()
    assert case.assignee_id == me.id
    assert f"{case.number} is yours." in html.unescape(text)


def test_saved_filters(client, session, logged_in, make_case):
    me = logged_in("ops_agent")
    make_case(priority="urgent")
    session.commit()
    post_from(client, "/admin/cases/", "/admin/cases/filters",
              {"name": "Urgentes", "query": "?tab=all&priority=urgent&page=3"})
    saved = session.scalars(sa.select(SavedFilter).where(SavedFilter.user_id == me.id)).one()
    assert saved.query == "tab=all&priority=urgent"
    page = client.get("/admin/cases/").get_data(as_text=True)
    assert "Urgentes" in page and "?tab=all&amp;priority=urgent" in page
    post_from(client, "/admin/cases/", f"/admin/cases/filters/{saved.id}/delete", {})
    assert session.scalar(sa.select(sa.func.count()).select_from(SavedFilter)) == 0


def test_export_of_the_current_filter(client, session, logged_in, make_case):
    logged_in("ops_agent")
    urgent = make_case(priority="urgent", subject="Urgente")
    make_case(subject="Normal")
    session.commit()
    resp = client.get("/admin/cases/export?tab=all&priority=urgent&format=csv")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    text = resp.get_data(as_text=True)
    assert urgent.number in text and "Normal" not in text
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "case", AuditEvent.action == "export")) == 1


def test_a_record_page_lists_its_cases(client, session, logged_in, make_case, factories):
    logged_in("ops_agent")
    ana = factories.client(name="Ana Record")
    asked = make_case(requester=ana, subject="Pregunta de Ana")
    booking = factories.request(client=ana)
    linked = make_case(subject="Sobre la reserva")
    service.link(session, case=linked, entity="service_request", entity_id=booking.id)
    session.commit()
    page = client.get(f"/admin/client/details/?id={ana.id}").get_data(as_text=True)
    assert "Pregunta de Ana" in page and asked.number in page
    page = client.get(f"/admin/service_request/details/?id={booking.id}").get_data(as_text=True)
    assert linked.number in page
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseLink)) == 1
    assert session.get(Case, asked.id) is not None


def test_mailbox_times_read_in_madrid_time(client, session, logged_in):
    """The mailbox list showed its fetch times raw, in UTC."""
    from datetime import datetime

    from cases.models import Mailbox

    logged_in("admin")
    session.add(Mailbox(source="maildir:/srv/inbox", last_ok_at=datetime(2026, 12, 7, 19, 50),
                        last_attempt_at=datetime(2026, 7, 1, 8, 5), failures=0))
    session.commit()
    text = client.get("/admin/case_mailbox/").get_data(as_text=True)
    assert "07/12/2026 20:50" in text and "01/07/2026 10:05" in text  # CET, then CEST
    assert "2026-12-07 19:50" not in text
