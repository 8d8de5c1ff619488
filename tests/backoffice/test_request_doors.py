"""One door per change: a service request's state moves only through its transition table, and
every door (the service the CLI and jobs call, the bulk action, the record's state page, the
edit form) allows exactly what the table allows."""

import itertools
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from backoffice.models import RequestStatus, ServiceRequest
from backoffice.services import requests as request_service
from tests.conftest import csrf_from, post_from

S = RequestStatus
YESTERDAY = date.today() - timedelta(days=1)
NOW = datetime.now()


def request_in(factories, state: RequestStatus) -> ServiceRequest:
    """A request in state: booked (yesterday 09:00, so it has started) unless it is new."""
    if state == S.NEW:
        return factories.request(day=YESTERDAY)
    row = factories.request(day=YESTERDAY, professional=factories.professional(), start=time(9))
    row.status = state  # the test's own setup, not a door
    factories.session.flush()
    return row


def expected(state: RequestStatus, action: str) -> RequestStatus:
    to = request_service.ACTIONS[action]
    return to if request_service.is_legal(state, to) else state


@pytest.mark.parametrize(("state", "to"), list(itertools.product(S, S)))
def test_the_transition_function_follows_its_table(session, factories, state, to):
    row = request_in(factories, state)
    if to == S.NEW and state != S.NEW:
        row.professional_id = row.start_at = row.end_at = None  # released, as bookings do
    if state == S.NEW and to != S.CANCELLED:
        row.professional_id = factories.professional().id  # booked first, as bookings do
        row.start_at = datetime.combine(YESTERDAY, time(9))
    legal = request_service.is_legal(state, to)
    if legal:
        request_service.transition(session, request=row, to=to, now=NOW, reason="client asked")
        assert row.status == to
    else:
        with pytest.raises(ValueError, match="cannot become"):
            request_service.transition(session, request=row, to=to, now=NOW, reason="x")
        assert row.status == state


CASES = list(itertools.product(S, request_service.ACTIONS))


@pytest.mark.parametrize(("state", "action"), CASES)
def test_the_service_door_allows_what_the_table_allows(session, factories, state, action):
    row = request_in(factories, state)
    try:
        request_service.act(session, request=row, action=action, now=NOW, reason="client asked")
    except ValueError:
        pass
    assert row.status == expected(state, action)


@pytest.mark.parametrize("state", list(S))
def test_the_bulk_door_allows_what_the_table_allows(client, session, factories, logged_in,
                                                    state):
    rows = {action: request_in(factories, state) for action in request_service.ACTIONS}
    session.commit()
    logged_in("ops_agent")
    for action, row in rows.items():
        post_from(client, "/admin/service_request/", "/admin/service_request/action/",
                  {"action": action, "rowid": [row.id]})
    session.expire_all()
    assert {a: session.get(ServiceRequest, r.id).status for a, r in rows.items()} == {
        a: expected(state, a) for a in rows}


@pytest.mark.parametrize("state", list(S))
def test_the_state_page_offers_and_allows_what_the_table_allows(client, session, factories,
                                                                logged_in, state):
    rows = {action: request_in(factories, state) for action in request_service.ACTIONS}
    session.commit()
    logged_in("ops_agent")
    for action, row in rows.items():
        page = client.get(f"/admin/service_request/state/{row.id}").get_data(as_text=True)
        offered = f'name="action" value="{action}"' in page
        assert offered == (expected(state, action) != state), (state, action)
        client.post(f"/admin/service_request/state/{row.id}", data={
            "csrf_token": csrf_from(page), "action": action, "reason": "client cancelled"})
    session.expire_all()
    assert {a: session.get(ServiceRequest, r.id).status for a, r in rows.items()} == {
        a: expected(state, a) for a in rows}


@pytest.mark.parametrize("state", list(S))
def test_the_edit_form_is_no_door(client, session, factories, logged_in, state):
    """The form has no state, professional or start: posting them changes none of them."""
    row = request_in(factories, state)
    other = factories.professional()
    session.commit()
    logged_in("ops_agent")
    page = client.get(f"/admin/service_request/edit/?id={row.id}").get_data(as_text=True)
    for field in ("status", "professional", "start_at", "pinned"):
        assert f'name="{field}"' not in page
    before = (row.status, row.professional_id, row.start_at)
    client.post(f"/admin/service_request/edit/?id={row.id}", data={
        "csrf_token": csrf_from(page), "client": str(row.client_id), "skill": row.skill,
        "service_date": row.service_date.isoformat(), "window_start": "09:00",
        "window_end": "11:00", "duration_min": "120", "priority": "1", "recurrence": "one_off",
        "status": "done", "professional": str(other.id), "start_at": "2030-01-01 22:00:00"})
    session.expire_all()
    saved = session.get(ServiceRequest, row.id)
    assert (saved.status, saved.professional_id, saved.start_at) == before


def test_a_service_that_has_not_started_is_not_done(session, factories):
    row = factories.request(day=date.today() + timedelta(days=3),
                            professional=factories.professional(), start=time(9))
    with pytest.raises(ValueError, match="starts"):
        request_service.complete(session, request=row, now=NOW)
    assert row.status == S.ASSIGNED


def test_only_admin_deletes_and_only_a_request_with_no_history(client, session, factories,
                                                               logged_in, make_user, login):
    fresh, booked = factories.request(), request_in(factories, S.CONFIRMED)
    session.commit()
    logged_in("ops_agent")
    assert 'action="/admin/service_request/delete/' not in client.get(
        "/admin/service_request/").get_data(as_text=True)
    login(make_user("admin"))
    for row in (fresh, booked):
        post_from(client, "/admin/service_request/", "/admin/service_request/delete/",
                  {"id": row.id, "url": "/admin/service_request/"})
    remaining = set(session.scalars(sa.select(ServiceRequest.id).where(
        ServiceRequest.id.in_([fresh.id, booked.id]))))
    assert remaining == {booked.id}
