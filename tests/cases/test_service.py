"""The desk's one door: who asks, who gets the case, who may see it, what it points at."""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice.i18n import Refusal
from cases import service
from cases.models import Case, CaseState, Contact

NOW = datetime(2026, 12, 1, 10, 0)


@pytest.mark.parametrize("typed", ["600 11 22 33", "+34600112233", "0034 600112233",
                                   "+34 (600) 11-22-33"])
def test_a_caller_is_found_by_any_form_of_the_number(session, factories, typed):
    client = factories.client(phone="600112233")
    assert service.find_person(session, phone=typed) == [client]


def test_an_unknown_sender_is_kept_as_one_contact(session):
    first = service.requester_for(session, email="Nadie@Example.org", name="Nadie")
    again = service.requester_for(session, email="nadie@example.org")
    assert isinstance(first, Contact) and first.id == again.id
    assert first.email == "nadie@example.org"


def test_a_contact_is_linked_to_the_client_it_turns_out_to_be(session, make_case, factories):
    contact = service.contact_for(session, email="otra@example.org")
    case = make_case(requester=contact, now=NOW)
    client = factories.client(email="otra@example.org")
    assert service.find_person(session, email=contact.email) == [client]
    service.set_requester(session, case=case, requester=client)
    assert case.requester_kind == "client" and case.client_id == client.id
    assert case.contact_id == contact.id  # where it came from stays on record


def test_new_cases_go_round_robin_under_the_cap(session, make_case, make_user):
    a, b = make_user("ops_agent"), make_user("ops_agent")
    make_user("finance")  # never offered cases
    got = [make_case(now=NOW + timedelta(minutes=i), offer=True, cap=2).assignee_id
           for i in range(5)]
    assert got[:4] == [a.id, b.id, a.id, b.id]
    assert got[4] is None  # both at the cap: the case waits unassigned


def test_access_follows_the_team(session, make_case, make_user, category, factories):
    billing = make_case(now=NOW, category=category("billing_question"))
    about_pro = make_case(now=NOW, requester=factories.professional())
    other = make_case(now=NOW)
    linked = make_case(now=NOW)
    service.link(session, case=linked, entity="professional",
                 entity_id=factories.professional().id)
    ids = {billing.id, about_pro.id, other.id, linked.id}

    def visible(user):
        return set(session.scalars(sa.select(Case.id).where(
            Case.id.in_(ids), service.visible_filter(user)))) 

    finance, vetting, ops = make_user("finance"), make_user("vetting"), make_user("ops_agent")
    assert billing.team == "finance"
    assert visible(finance) == {billing.id}
    assert visible(vetting) == {about_pro.id, linked.id}
    assert visible(ops) == ids
    for user in (finance, vetting, ops):
        assert {c for c in ids if service.can_work(user, session.get(Case, c))} == visible(user)


def test_links_show_both_ways_and_refuse_missing_records(session, make_case, factories):
    booking = factories.request()
    case = make_case(now=NOW, requester=booking.client)
    service.link(session, case=case, entity="service_request", entity_id=booking.id)
    service.link(session, case=case, entity="service_request", entity_id=booking.id)  # once
    assert [c.id for c in service.cases_of(session, entity="service_request",
                                           entity_id=booking.id)] == [case.id]
    assert [c.id for c in service.cases_of(session, entity="client",
                                           entity_id=booking.client_id)] == [case.id]
    with pytest.raises(Refusal, match="^entity_id: there is no service_request"):
        service.link(session, case=case, entity="service_request", entity_id=10**9)
    with pytest.raises(Refusal, match="^entity:"):
        service.link(session, case=case, entity="staff_user", entity_id=1)


def test_tags_are_tidied_and_suggested(session, make_case):
    case = make_case(now=NOW, tags=["  Factura ", "factura", "Urgente"])
    assert case.tag_names == ["factura", "urgente"]
    make_case(now=NOW, tags=["factura"])
    assert service.tag_suggestions(session, prefix="f")[0] == "factura"
    with pytest.raises(Refusal, match="^tags:"):
        service.set_tags(session, case=case, names=["x" * 41])


def test_a_public_reply_is_the_response_and_a_note_is_not(session, make_case, make_user):
    agent = make_user("ops_agent")
    case = make_case(now=NOW)
    service.add_article(session, case=case, kind="mail_in", body="Hola", now=NOW)
    service.add_article(session, case=case, kind="note", body="mirar", user=agent,
                        public=True, now=NOW + timedelta(minutes=5))
    assert case.first_response_at is None and case.awaiting_since == NOW
    assert case.articles[-1].public is False  # a note is internal whatever the caller says
    service.add_article(session, case=case, kind="call_out", body="llamado", user=agent,
                        call_seconds=120, now=NOW + timedelta(minutes=9))
    assert case.first_response_at == NOW + timedelta(minutes=9)
    assert case.awaiting_since is None and case.state == CaseState.OPEN


def test_an_escalation_names_its_level1_agent(session, factories):
    with pytest.raises(Refusal, match="^level1_agent:"):
        service.open_case(session, subject="Queja", channel="escalation",
                          requester=factories.client(), offer=False)
    with pytest.raises(Refusal, match="^subject:"):
        service.open_case(session, subject="  ", channel="mail", offer=False)
