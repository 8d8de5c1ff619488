"""The complaint and no-show playbooks: an incident against the professional, a no-show marked
through the requests' one door, a rebooking at the earliest fitting slot and a goodwill credit
with four eyes above finance's limit. Each step is audited on the case and undone by an
explicit action; a step the records do not admit is refused with the reason."""

import html
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from backoffice import audit
from backoffice.i18n import Refusal
from backoffice.models import RequestStatus, ServiceRequest, Task, TaskStatus
from backoffice.services import requests as request_service
from billing import credits, invoicing
from billing.models import CreditStatus, RectifyingInvoice
from cases import playbooks, service
from tests.conftest import post_from
from vetting.models import Incident

DAY = date(2029, 1, 8)  # a Monday
NOW = datetime(2029, 1, 8, 15)  # after the morning's service


def _incidents(session, pro) -> list[Incident]:
    return list(session.scalars(sa.select(Incident).where(Incident.professional_id == pro.id)))


def _actions(session, case) -> list[str]:
    return [row.action for row in audit.history(session, "case", case.id)]


@pytest.fixture()
def booked(session, factories):
    """Return a client, the professional booked for their service this morning, and it."""
    client = factories.client()
    pro = factories.professional()
    row = factories.request(client=client, professional=pro, day=DAY, start=time(9),
                            status=RequestStatus.CONFIRMED)
    return client, pro, row


def _case(make_case, category, session, client, row, code):
    case = make_case(requester=client, category=category(code))
    service.link(session, case=case, entity="service_request", entity_id=row.id)
    return case


def test_a_complaint_records_one_incident_and_is_withdrawn(session, booked, make_case,
                                                          category, make_user):
    client, pro, row = booked
    case = _case(make_case, category, session, client, row, "service_complaint")
    agent = make_user("ops_agent")
    playbooks.record_complaint(session, case=case, request_id=row.id, user=agent, now=NOW)
    [incident] = _incidents(session, pro)
    assert (incident.kind, incident.service_request_id) == ("complaint", row.id)
    with pytest.raises(Refusal, match="recorded the complaint already"):
        playbooks.record_complaint(session, case=case, request_id=row.id, user=agent, now=NOW)
    playbooks.withdraw_incident(session, case=case, incident_id=incident.id, user=agent)
    assert _incidents(session, pro) == []
    assert {"playbook_incident", "playbook_incident_withdrawn"} <= set(_actions(session, case))


@pytest.mark.parametrize("why", ["not linked", "other category", "no professional"])
def test_a_complaint_the_records_do_not_admit_is_refused(session, factories, booked, make_case,
                                                         category, why):
    client, pro, row = booked
    case = _case(make_case, category, session, client, row, "service_complaint")
    target = row
    if why == "not linked":
        target = factories.request(client=client, professional=pro, day=DAY + timedelta(days=1))
    elif why == "other category":
        case.category = category("other")
    else:
        target = factories.request(client=client, day=DAY)
        service.link(session, case=case, entity="service_request", entity_id=target.id)
    with pytest.raises(Refusal):
        playbooks.record_complaint(session, case=case, request_id=target.id, user=None, now=NOW)
    assert _incidents(session, pro) == []
    assert "playbook_incident" not in _actions(session, case)


def test_the_requests_door_records_a_professionals_no_show_once(session, booked):
    client, pro, row = booked
    request_service.act(session, request=row, action="no_show", now=NOW)
    assert row.status == RequestStatus.NO_SHOW
    [incident] = _incidents(session, pro)
    assert (incident.kind, incident.service_request_id) == ("no_show", row.id)
    assert any(e.action == "no_show" and e.changes == {"by": "professional"}
               for e in audit.history(session, "service_request", row.id))


def test_a_clients_no_show_is_no_incident(session, booked):
    client, pro, row = booked
    request_service.act(session, request=row, action="client_no_show", now=NOW)
    assert row.status == RequestStatus.NO_SHOW
    assert _incidents(session, pro) == []


def test_a_no_show_reported_before_is_not_recorded_twice(session, booked):
    client, pro, row = booked
    session.add(Incident(professional_id=pro.id, kind="no_show", occurred_on=DAY,
                         service_request_id=row.id, note="reported by the client"))
    session.flush()
    request_service.no_show(session, request=row, now=NOW)
    assert len(_incidents(session, pro)) == 1


def test_a_no_show_case_rebooks_with_another_professional_and_undoes_it(
        session, factories, booked, make_case, category, make_user):
    client, pro, row = booked
    other = factories.professional(shift=(time(10), time(18)))
    case = _case(make_case, category, session, client, row, "no_show")
    agent = make_user("ops_agent")
    playbooks.mark_no_show(session, case=case, request_id=row.id, by="professional",
                           user=agent, now=NOW)
    assert row.status == RequestStatus.NO_SHOW and len(_incidents(session, pro)) == 1
    slot = playbooks.rebook_slot(session, case=case, request_id=row.id, now=NOW)
    # The earliest start the window (9-11) and a shift (10-18) allow, the next day, with the
    # professional who came, not the one who failed.
    assert (slot.professional_id, slot.start_at) == (
        other.id, datetime.combine(DAY + timedelta(days=1), time(10)))
    again = playbooks.rebook(session, case=case, request_id=row.id, user=agent, now=NOW)
    assert again.id != row.id and again.client_id == client.id
    assert again.professional_id == slot.professional_id
    assert again.start_at == slot.start_at and again.start_at.date() == DAY + timedelta(days=1)
    assert again.id in [r.id for r in playbooks.linked_requests(session, case)]
    playbooks.undo_rebook(session, case=case, request_id=again.id, user=agent, now=NOW)
    assert again.status == RequestStatus.CANCELLED
    assert {"playbook_no_show", "playbook_rebook", "playbook_rebook_undone"} <= set(
        _actions(session, case))
    with pytest.raises(Refusal, match="did not book that service"):
        playbooks.undo_rebook(session, case=case, request_id=row.id, user=agent, now=NOW)


def test_the_earliest_slot_waits_for_a_free_professional(session, factories, booked, make_case,
                                                          category):
    client, pro, row = booked
    other = factories.professional()
    # The other professional is busy 09:00-10:00 the next day: the slot starts at 10:00.
    factories.request(professional=other, day=DAY + timedelta(days=1), start=time(9),
                      duration_min=60, status=RequestStatus.CONFIRMED)
    case = _case(make_case, category, session, client, row, "no_show")
    request_service.no_show(session, request=row, now=NOW)
    slot = playbooks.rebook_slot(session, case=case, request_id=row.id, now=NOW)
    assert (slot.professional_id, slot.start_at) == (
        other.id, datetime.combine(DAY + timedelta(days=1), time(10)))


@pytest.fixture()
def billed(session, factories, make_case, category):
    """Return a complaint case linked to a done service and the invoice billing it (50 €)."""
    client = factories.client()
    pro = factories.professional()
    row = factories.request(client=client, professional=pro, day=DAY, status=RequestStatus.DONE,
                            price_cents=5000)
    inv = invoicing.issue(session, client=client, start=DAY, end=DAY + timedelta(days=27),
                          issued_on=DAY + timedelta(days=28))
    case = _case(make_case, category, session, client, row, "service_complaint")
    return case, inv


def test_a_credit_within_the_limit_is_issued_at_once(session, billed, make_user):
    case, inv = billed
    due = inv.due_cents
    credit = playbooks.offer_credit(session, case=case, invoice_id=inv.id, amount_cents=1000,
                                    reason="late arrival", user=make_user("ops_agent"),
                                    today=DAY + timedelta(days=30))
    assert credit.status == CreditStatus.ISSUED
    rect = session.get(RectifyingInvoice, credit.rectifying_invoice_id)
    assert rect.total_cents == -1000 and rect.invoice_id == inv.id
    assert inv.due_cents == due - 1000
    with pytest.raises(Refusal, match="issued credit is a rectifying invoice"):
        playbooks.withdraw_credit(session, case=case, credit_id=credit.id,
                                  user=make_user("finance"))


def test_a_credit_above_the_limit_needs_a_second_person(session, billed, make_user):
    case, inv = billed
    agent, first, second = make_user("ops_agent"), make_user("finance"), make_user("finance")
    credits.set_limit(session, cents=500, user=first)
    due = inv.due_cents
    credit = playbooks.offer_credit(session, case=case, invoice_id=inv.id, amount_cents=1500,
                                    reason="broken vase", user=first, today=DAY)
    assert credit.status == CreditStatus.PROPOSED and inv.due_cents == due
    task = session.scalar(sa.select(Task).where(Task.dedup_key == f"goodwill:{credit.id}"))
    assert task.role == "finance" and task.status == TaskStatus.OPEN
    with pytest.raises(Refusal, match="needs a second person"):
        credits.approve(session, credit=credit, user=first, today=DAY)
    with pytest.raises(Refusal, match="only finance approves"):
        credits.approve(session, credit=credit, user=agent, today=DAY)
    credits.approve(session, credit=credit, user=second, today=DAY)
    assert credit.status == CreditStatus.ISSUED and inv.due_cents == due - 1500
    assert task.status == TaskStatus.DONE


def test_a_proposed_credit_is_withdrawn_and_nothing_is_issued(session, billed, make_user):
    case, inv = billed
    finance = make_user("finance")
    credits.set_limit(session, cents=0, user=finance)
    credit = playbooks.offer_credit(session, case=case, invoice_id=inv.id, amount_cents=200,
                                    reason="goodwill", user=finance, today=DAY)
    playbooks.withdraw_credit(session, case=case, credit_id=credit.id, user=finance)
    assert credit.status == CreditStatus.CANCELLED
    assert session.scalar(sa.select(sa.func.count()).select_from(RectifyingInvoice)) == 0
    assert {"playbook_credit", "playbook_credit_withdrawn"} <= set(_actions(session, case))


@pytest.mark.parametrize(("amount", "message"), [(0, "more than zero"),
                                                 (999_999, "can still credit")])
def test_a_bad_credit_is_refused_and_nothing_moves(session, billed, make_user, amount, message):
    case, inv = billed
    due = inv.due_cents
    with pytest.raises(Refusal, match=message):
        playbooks.offer_credit(session, case=case, invoice_id=inv.id, amount_cents=amount,
                               reason="x", user=make_user("ops_agent"), today=DAY)
    assert inv.due_cents == due
    assert session.scalar(sa.select(sa.func.count()).select_from(RectifyingInvoice)) == 0


def test_the_case_page_offers_the_steps_and_runs_them(client, session, booked, make_case,
                                                      category, make_user, login):
    customer, pro, row = booked
    row.start_at = datetime.combine(date.today() - timedelta(days=1), time(9))
    row.service_date = row.start_at.date()
    row.end_at = row.start_at + timedelta(hours=2)
    session.flush()
    case = _case(make_case, category, session, customer, row, "service_complaint")
    assert login(make_user("ops_agent", locale="es")).status_code == 302
    url = f"/admin/cases/{case.id}"
    page = html.unescape(client.get(url).get_data(as_text=True))
    assert "Qué hacer" in page and "Registrar la queja contra el profesional" in page
    assert "El profesional no vino" in page
    page = html.unescape(post_from(client, url, f"{url}/playbook",
                                   {"op": "complaint", "request_id": str(row.id)}))
    assert "Queja registrada contra el profesional" in page
    assert "Registrar la queja contra el profesional" not in page  # done: no longer offered
    assert len(_incidents(session, pro)) == 1
    page = html.unescape(post_from(client, url, f"{url}/playbook",
                                   {"op": "credit", "invoice_id": "1", "amount": "abc"}))
    assert "importe: escribe un importe en euros" in page or "factura:" in page
    assert session.scalar(sa.select(ServiceRequest.status).where(
        ServiceRequest.id == row.id)) == RequestStatus.CONFIRMED


def test_the_link_form_finds_a_record_by_name_or_code(client, session, factories, make_case,
                                                     billed, make_user, login):
    case, inv = billed
    named = factories.client(name="Rosalía Ferrer Puig")
    factories.client(name="Ana Ferrer")
    factories.client(name="Ana Ferrer Soler")
    assert login(make_user("ops_agent")).status_code == 302
    url = f"/admin/cases/{case.id}"
    post_from(client, url, f"{url}/link", {"entity": "client", "number": "Rosalía Ferrer"})
    post_from(client, url, f"{url}/link", {"entity": "invoice", "number": inv.code})
    page = html.unescape(post_from(client, url, f"{url}/link",
                                   {"entity": "client", "number": "Ana Ferrer"}))
    assert "several match Ana Ferrer" in page
    linked = {(lk.entity, lk.entity_id) for lk in session.scalars(
        sa.select(service.CaseLink).where(service.CaseLink.case_id == case.id))}
    assert ("client", str(named.id)) in linked and ("invoice", str(inv.id)) in linked
    assert sum(1 for e, _ in linked if e == "client") == 1
