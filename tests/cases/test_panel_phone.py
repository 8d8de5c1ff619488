"""The phone page: who is calling, in any format of the number, and one form that logs the call."""

import html
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from billing.models import Invoice
from cases.models import Case, CaseState
from tests.conftest import post_from


@pytest.mark.parametrize("typed", ["600 11 22 33", "+34600112233", "0034 600112233"])
def test_the_phone_page_finds_the_client_and_what_they_have(client, session, logged_in,
                                                            factories, make_case, typed):
    logged_in("ops_agent")
    ana = factories.client(name="Ana Llamada", phone="600112233")
    open_case = make_case(requester=ana, subject="Reserva del martes")
    closed = make_case(requester=ana, subject="Antigua")
    closed.state = CaseState.CLOSED
    soon = datetime.now() + timedelta(days=2)
    booking = factories.request(client=ana, day=soon.date(), start_at=soon.replace(microsecond=0))
    session.add(Invoice(series="D2026", number=77, client_id=ana.id, period_start=date(2026, 10, 1),
                        period_end=date(2026, 10, 31), issued_on=date(2026, 11, 3),
                        due_on=date(2026, 11, 10), subtotal_cents=3400, total_cents=3400))
    session.commit()
    text = html.unescape(client.get("/admin/cases/phone", query_string={"number": typed})
                         .get_data(as_text=True))
    assert "Ana Llamada" in text and "+34600112233" in text
    assert open_case.number in text and closed.number not in text
    assert "D2026-000077" in text and "€34.00" in text
    assert f"/admin/service_request/details/?id={booking.id}" in text


def test_an_unknown_caller_gets_a_new_case_with_the_call(client, session, logged_in, category):
    me = logged_in("ops_agent")
    page = "/admin/cases/phone?number=611%2022%2033%2044"
    assert "unknown caller" in client.get(page).get_data(as_text=True)
    text = html.unescape(post_from(client, page, "/admin/cases/phone/log", {
        "number": "611 22 33 44", "case_id": "new", "subject": "Pregunta por precios",
        "category_id": str(category("other").id), "call_seconds": "95",
        "outcome": "solved", "body": "Le expliqué las tarifas."}))
    case = session.scalars(sa.select(Case)).one()
    assert f"Call logged in {case.number}." in text
    assert case.channel.value == "phone" and case.contact.phone == "+34611223344"
    assert case.assignee_id == me.id
    call = case.articles[0]
    assert (call.kind.value, call.call_from, call.call_seconds, call.call_outcome) == (
        "call_in", "+34611223344", 95, "solved")


def test_a_call_goes_into_the_chosen_open_case(client, session, logged_in, factories,
                                               make_case):
    logged_in("ops_agent")
    ana = factories.client(phone="600112244")
    case = make_case(requester=ana)
    session.commit()
    page = "/admin/cases/phone?number=600112244"
    post_from(client, page, "/admin/cases/phone/log", {
        "number": "600112244", "case_id": str(case.id), "call_seconds": "30", "body": "Sigue"})
    session.expire_all()
    assert [a.kind.value for a in case.articles] == ["call_in"]
    text = html.unescape(post_from(client, page, "/admin/cases/phone/log", {
        "number": "600112244", "case_id": str(case.id), "call_seconds": "-4"}))
    assert "call_seconds: give the duration in seconds or as m:ss" in text
    session.expire_all()
    assert len(case.articles) == 1
