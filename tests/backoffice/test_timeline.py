"""A person's timeline: every source on it, newest first, filtered by kind, paged by cursor."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from backoffice import timeline
from backoffice.models import (
    Client,
    Interaction,
    InteractionKind,
    OutboxMessage,
    Professional,
    RequestStatus,
    ServiceRequest,
)
from backoffice.services import requests as request_service

T0 = datetime(2026, 11, 2, 9, 0)  # stored moments are naive UTC


@dataclass
class Story:
    client: Client
    pro: Professional
    coming: ServiceRequest
    past: ServiceRequest
    case_id: int
    complaint_id: int


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def a_client_with_a_story(session, factories) -> Story:
    """Build a client with one entry of every kind, each a known minute after T0."""
    from billing.models import Invoice, InvoiceStatus
    from cases import service as cases
    from cases.models import ArticleKind, CaseCategory
    from surveys.models import Survey, SurveyStatus, SurveySubject
    from vetting.models import Incident

    person = factories.client(name="Amparo Ribes", email="amparo.ribes@example.com",
                              phone="+34 600 111 222")
    pro = factories.professional(name="Nieves Pardo")
    past = factories.request(client=person, professional=pro, day=date.today() - timedelta(3),
                             status=RequestStatus.DONE)
    coming = factories.request(client=person, professional=pro, day=date.today() + timedelta(4))
    session.add_all([
        Interaction(kind=InteractionKind.CALL_IN, client_id=person.id, at=at(10),
                    phone="+34600111222", duration_s=95, outcome="answered",
                    body="Pregunta por la factura"),
        Interaction(kind=InteractionKind.NOTE, client_id=person.id, at=at(20),
                    body="Prefiere que la llamen por la tarde"),
        OutboxMessage(to_address=person.email, subject="Recordatorio de su servicio",
                      body="...", template="reminder", created_at=at(30)),
        # Another person's mail and a case's reply (an article already) are not this line's.
        OutboxMessage(to_address="someone@example.com", subject="Otro", body="...",
                      template="reminder", created_at=at(31)),
    ])
    case = cases.open_case(session, subject="Cambio de hora", channel="mail",
                           requester=person, offer=False, now=at(40))
    cases.add_article(session, case=case, kind=ArticleKind.MAIL_IN, body="Hola",
                      subject="Cambio de hora", sender=person.email, now=at(41))
    complaint = cases.open_case(
        session, subject="Jarrón roto", channel="phone", requester=person, offer=False,
        now=at(50), category=session.scalar(sa.select(CaseCategory).where(
            CaseCategory.code == "service_complaint")))
    session.add_all([
        Invoice(series="D2026", number=901, client_id=person.id, period_start=date(2026, 10, 1),
                period_end=date(2026, 10, 31), issued_on=date(2026, 11, 1),
                due_on=date(2026, 11, 15), total_cents=12345, status=InvoiceStatus.IN_DUNNING,
                dunning_day=3, created_at=at(60)),
        Survey(subject=SurveySubject.SERVICE, dedup_key=f"service:{past.id}",
               service_request_id=past.id, client_id=person.id, send_after=at(0),
               status=SurveyStatus.ANSWERED, answered_at=at(70), score=2,
               comment="Llegó tarde", concerned_professional_id=pro.id,
               concerned_name=pro.name),
        Incident(professional_id=pro.id, kind="complaint", occurred_on=past.service_date,
                 service_request_id=past.id, note="Llegó una hora tarde", created_at=at(80)),
    ])
    session.flush()
    request_service.cancel(session, request=coming, reason="the client is ill",
                           now=datetime.now())
    return Story(person, pro, coming, past, case.id, complaint.id)


def sources(page) -> list[str]:
    return [e.src for e in page.entries]


def test_every_source_is_on_the_timeline_newest_first(session, factories):
    story = a_client_with_a_story(session, factories)
    page = timeline.client_timeline(session, client_id=story.client.id,
                                    email=story.client.email)
    moments = [e.at for e in page.entries]
    assert moments == sorted(moments, reverse=True)
    kinds = {e.kind for e in page.entries}
    assert kinds == {"call", "note", "mail", "case", "complaint", "invoice", "survey",
                     "booking", "change"}
    # The fixed moments, in order (the audit rows were written now, after them all).
    fixed = [(e.src, e.kind) for e in page.entries if e.at <= at(100)]
    assert fixed == [("incident", "complaint"), ("survey", "survey"), ("invoice", "invoice"),
                     ("case", "complaint"), ("article", "mail"), ("case", "case"),
                     ("outbox", "mail"), ("interaction", "note"), ("interaction", "call")]
    # The booking's cancellation is there, with its reason; another person's mail is not.
    cancelled = [e for e in page.entries if e.src == "audit_booking"
                 and e.ref == str(story.coming.id) and "cancelled" in (e.body or "")]
    assert cancelled and "the client is ill" in cancelled[0].body
    assert all(e.ref != "someone@example.com" for e in page.entries)


def test_kind_filter_keeps_only_those_kinds(session, factories):
    story = a_client_with_a_story(session, factories)
    page = timeline.client_timeline(session, client_id=story.client.id,
                                    email=story.client.email, kinds=["call", "note"])
    assert [e.kind for e in page.entries] == ["note", "call"]
    page = timeline.client_timeline(session, client_id=story.client.id,
                                    email=story.client.email, kinds=["complaint"])
    assert sources(page) == ["incident", "case"]
    assert page.entries[1].id == story.complaint_id
    page = timeline.client_timeline(session, client_id=story.client.id,
                                    email=story.client.email, kinds=["booking"])
    assert {e.src for e in page.entries} == {"audit_booking"}


def test_pages_follow_each_other_without_gaps_or_repeats(session, factories):
    story = a_client_with_a_story(session, factories)
    # Entries at the very same moment are told apart by source and id.
    session.add_all([Interaction(kind=InteractionKind.NOTE, client_id=story.client.id,
                                 at=at(200), body=f"nota {i}") for i in range(7)])
    session.flush()
    whole = timeline.client_timeline(session, client_id=story.client.id,
                                     email=story.client.email, limit=200)
    assert whole.next_cursor is None
    seen, cursor = [], None
    while True:
        page = timeline.client_timeline(session, client_id=story.client.id,
                                        email=story.client.email, cursor=cursor, limit=4)
        assert len(page.entries) <= 4
        seen += [(e.src, e.id) for e in page.entries]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [(e.src, e.id) for e in whole.entries]
    assert len(seen) == len(set(seen)) > 16


def test_a_bad_cursor_is_the_first_page(session, factories):
    story = a_client_with_a_story(session, factories)
    first = timeline.client_timeline(session, client_id=story.client.id,
                                     email=story.client.email, limit=3)
    for bad in ("nonsense", "2026-13-01~x~1", "~~", "2026-11-02T09:00:00~case~abc"):
        page = timeline.client_timeline(session, client_id=story.client.id,
                                        email=story.client.email, cursor=bad, limit=3)
        assert page.entries == first.entries


def test_cases_the_reader_may_not_read_stay_off(session, factories):
    from cases.models import Case

    story = a_client_with_a_story(session, factories)
    page = timeline.client_timeline(session, client_id=story.client.id,
                                    email=story.client.email,
                                    case_condition=Case.team == "finance")
    assert not {"case", "article"} & set(sources(page))


def test_a_professionals_timeline(session, factories):
    from vetting.models import Application, Stage, StageVisit

    story = a_client_with_a_story(session, factories)
    application = Application(professional_id=story.pro.id, stage=Stage.APPROVED)
    session.add(application)
    session.flush()
    session.add_all([
        StageVisit(application_id=application.id, stage=Stage.APPROVED, entered_at=at(5),
                   actor="vetting@example.com", note="Todo en orden"),
        Interaction(kind=InteractionKind.CALL_OUT, professional_id=story.pro.id, at=at(90),
                    outcome="no_answer"),
    ])
    session.flush()
    page = timeline.professional_timeline(session, professional_id=story.pro.id,
                                          email=story.pro.email)
    fixed = [(e.src, e.kind) for e in page.entries if e.at <= at(100)]
    assert fixed == [("interaction", "call"), ("incident", "complaint"), ("survey", "survey"),
                     ("vetting", "vetting")]
    assert "change" in {e.kind for e in page.entries}  # the professional's own audit rows
    # The client's calls and mails are not the professional's.
    assert all(e.src != "outbox" for e in page.entries)
