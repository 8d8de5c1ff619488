"""Surveys are made 24 hours after their cause, mailed once in the person's language with a
link that only a hash of is kept, answered once, cancelled by a reopened case; a low score
opens the right team's task."""

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice.db import utcnow
from backoffice.i18n import Refusal
from backoffice.models import ClientStatus, OutboxMessage, RequestStatus, Task
from cases import service as cases
from cases import workflow
from cases.models import ArticleKind, CaseState
from surveys import service
from surveys.models import Survey, SurveyStatus, SurveySubject
from tests.surveys.conftest import link_of

NOW = datetime(2026, 12, 1, 10)  # naive UTC, as the columns store it


def _surveys(session):
    return session.scalars(sa.select(Survey).order_by(Survey.id)).all()


def test_a_solved_case_is_surveyed_24_hours_later_and_not_before(session, solved_case, run_job,
                                                                  make_user):
    agent = make_user("ops_agent")
    case = solved_case(at=NOW, agent=agent)
    assert run_job(NOW + timedelta(hours=23, minutes=59))["created"] == 0
    assert _surveys(session) == []

    result = run_job(NOW + timedelta(hours=24, minutes=5))
    assert (result["created"], result["sent"]) == (1, 1)
    survey = _surveys(session)[0]
    assert survey.subject == SurveySubject.CASE and survey.case_id == case.id
    assert survey.client_id == case.client_id and survey.email == case.client.email
    assert survey.status == SurveyStatus.SENT
    assert survey.send_after == NOW + timedelta(hours=24)
    assert survey.expires_at == NOW + timedelta(hours=24, minutes=5) + timedelta(days=14)
    # The snapshot of who is rated, kept whatever happens to them later.
    assert (survey.concerned_staff_id, survey.concerned_name) == (agent.id, agent.name)
    assert survey.category_code == "other"


def test_a_done_service_is_surveyed_24_hours_later_about_its_professional(
        session, done_service, run_job, factories):
    pro = factories.professional(name="Lucía Prieto")
    row = done_service(professional=pro)
    assert run_job(utcnow() + timedelta(hours=23))["created"] == 0
    assert run_job(utcnow() + timedelta(hours=25))["sent"] == 1
    survey = _surveys(session)[0]
    assert survey.subject == SurveySubject.SERVICE and survey.service_request_id == row.id
    assert survey.client_id == row.client_id
    assert (survey.concerned_professional_id, survey.concerned_name) == (pro.id, "Lucía Prieto")
    assert survey.category_code == "cleaning"


def test_each_survey_is_made_and_mailed_once(session, solved_case, run_job):
    solved_case(at=NOW)
    for hours in (25, 26, 40):
        run_job(NOW + timedelta(hours=hours))
    assert len(_surveys(session)) == 1
    mails = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.entity == "survey")).all()
    assert len(mails) == 1 and mails[0].dedup_key == f"survey:{_surveys(session)[0].id}"


def test_a_case_solved_again_after_a_reopen_is_asked_again(session, solved_case, run_job):
    case = solved_case(at=NOW)
    run_job(NOW + timedelta(hours=25))
    workflow.transition(session, case=case, to=CaseState.OPEN, now=NOW + timedelta(hours=26))
    workflow.transition(session, case=case, to=CaseState.SOLVED, now=NOW + timedelta(hours=27))
    run_job(NOW + timedelta(hours=52))
    first, second = _surveys(session)
    assert (first.status, first.cancel_reason) == (SurveyStatus.CANCELLED, "reopened")
    assert (first.dedup_key, second.dedup_key) == (f"case:{case.id}:solved:1",
                                                   f"case:{case.id}:solved:2")
    assert second.status == SurveyStatus.SENT


def test_the_mail_is_in_the_persons_language_and_the_token_only_in_the_mail(
        session, solved_case, run_job, factories):
    english = factories.client(language="en", name="Jane Doe")
    catalan = factories.client(language="ca")
    solved_case(at=NOW, requester=english)
    solved_case(at=NOW, requester=catalan)
    run_job(NOW + timedelta(hours=25))
    first, second = _surveys(session)
    assert (first.language, second.language) == ("en", "es")
    mail = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.to_address == english.email))
    assert mail.subject.startswith("Did we help you well with your request C-")
    assert "Hello Jane Doe" in mail.body
    spanish = session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_address == catalan.email))
    assert spanish.subject.startswith("¿Le ayudamos bien")
    _, token = link_of(session, first)
    assert len(token) >= 40 and first.token_hash == service.hash_token(token)
    assert token not in str(session.execute(sa.select(Survey.__table__)).all())
    # The hash stays out of the audit trail too.
    assert first.token_hash not in str(session.execute(sa.text(
        "SELECT changes FROM audit_event WHERE entity = 'survey'")).all())


@pytest.mark.parametrize(("change", "reason"), [
    ({"status": ClientStatus.ERASED}, "erased"),
    ({"email_failing_since": NOW - timedelta(days=2)}, "failing_address"),
    ({"email": None}, "no_email"),
    ("merged", "merged"),
])
def test_who_cannot_be_asked_is_not(session, solved_case, run_job, factories, change, reason):
    person = factories.client()
    if change == "merged":
        person.merged_into_id = factories.client().id
    else:
        for field, value in change.items():
            setattr(person, field, value)
    session.flush()
    solved_case(at=NOW, requester=person)
    result = run_job(NOW + timedelta(hours=25))
    survey = _surveys(session)[0]
    assert (survey.status, survey.cancel_reason) == (SurveyStatus.CANCELLED, reason)
    assert (result["sent"], result["not_sent"]) == (0, 1)
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.entity == "survey")) == 0


def test_a_professional_requester_is_asked_and_an_unknown_sender_is_not(
        session, solved_case, run_job, factories):
    pro = factories.professional(language="en")
    contact = cases.contact_for(session, email="stranger@example.org")
    solved_case(at=NOW, requester=pro)
    solved_case(at=NOW, requester=contact)
    run_job(NOW + timedelta(hours=25))
    asked, stranger = _surveys(session)
    assert (asked.professional_id, asked.status, asked.language) == (pro.id, SurveyStatus.SENT,
                                                                     "en")
    assert (stranger.status, stranger.cancel_reason) == (SurveyStatus.CANCELLED,
                                                         "unknown_requester")


def test_a_cause_missed_for_days_is_not_surveyed(session, solved_case, run_job):
    solved_case(at=NOW)
    assert run_job(NOW + timedelta(days=5))["created"] == 0


def test_an_unanswered_survey_expires_after_14_days(session, sent_survey, run_job):
    survey, _, _ = sent_survey()
    run_job(utcnow() + timedelta(days=13))
    assert survey.status == SurveyStatus.SENT
    run_job(utcnow() + timedelta(days=14, minutes=1))
    assert survey.status == SurveyStatus.EXPIRED
    with pytest.raises(Refusal, match="survey: this survey can no longer be answered"):
        service.answer(session, survey=survey, score=5, comment="", reason=None,
                       now=utcnow() + timedelta(days=15))


def test_reopening_the_case_cancels_its_pending_survey(session, sent_survey):
    survey, token, case = sent_survey()
    cases.add_article(session, case=case, kind=ArticleKind.MAIL_IN, body="Sigue sin funcionar")
    assert case.state == CaseState.OPEN
    assert (survey.status, survey.cancel_reason) == (SurveyStatus.CANCELLED, "reopened")
    assert service.standing(service.find(session, token=token), now=utcnow()) == "cancelled"


def test_reopening_keeps_an_answered_survey(session, sent_survey):
    survey, _, case = sent_survey()
    service.answer(session, survey=survey, score=4, comment="", reason=None, now=utcnow())
    workflow.transition(session, case=case, to=CaseState.OPEN, now=utcnow())
    session.refresh(survey)
    assert (survey.status, survey.score) == (SurveyStatus.ANSWERED, 4)


def test_a_token_answers_once(session, sent_survey):
    survey, token, _ = sent_survey()
    found = service.find(session, token=token)
    assert found is survey
    service.answer(session, survey=found, score=5, comment="  Muy bien  ", reason="slow",
                   now=utcnow())
    assert (survey.status, survey.score, survey.comment, survey.reason) == (
        SurveyStatus.ANSWERED, 5, "Muy bien", None)  # a reason only goes with a low score
    with pytest.raises(Refusal, match="survey: this survey can no longer be answered"):
        service.answer(session, survey=survey, score=1, comment="", reason="slow", now=utcnow())
    assert survey.score == 5


def test_an_altered_token_finds_nothing(session, sent_survey):
    _, token, _ = sent_survey()
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert service.find(session, token=altered) is None
    assert service.find(session, token=service.hash_token(token)) is None  # the hash is no key
    assert service.find(session, token="x" * 500) is None


@pytest.mark.parametrize(("score", "reason", "message"), [
    (2, None, "reason: choose a reason when the score is 2 or less"),
    (1, "not_a_reason", "reason: choose a reason when the score is 2 or less"),
    (1, "late", "reason: choose a reason when the score is 2 or less"),  # a service's reason
    (0, None, "score: choose a score from 1 to 5"),
    ("six", None, "score: choose a score from 1 to 5"),
])
def test_a_bad_answer_is_refused_naming_the_field(session, sent_survey, score, reason, message):
    survey, _, _ = sent_survey()
    with pytest.raises(Refusal, match=message):
        service.answer(session, survey=survey, score=score, comment="", reason=reason,
                       now=utcnow())
    assert survey.status == SurveyStatus.SENT and survey.score is None


def test_a_low_score_on_a_case_gives_the_admin_a_task(session, sent_survey):
    survey, _, case = sent_survey()
    service.answer(session, survey=survey, score=2, comment="Nadie me llamó",
                   reason="not_solved", now=utcnow())
    task = session.scalar(sa.select(Task).where(Task.kind == "csat_low"))
    assert (task.role, task.entity, task.entity_id) == ("admin", "case", str(case.id))
    assert case.number in task.title
    assert "Nadie me llamó" in task.details and "My problem was not solved" in task.details
    assert task.dedup_key == f"csat_low:survey{survey.id}"


def test_a_low_score_on_a_service_gives_vetting_a_task_about_the_professional(
        session, done_service, run_job, factories):
    pro = factories.professional(name="Marta Gil")
    row = done_service(professional=pro)
    run_job(utcnow() + timedelta(hours=25))
    survey = _surveys(session)[0]
    service.answer(session, survey=survey, score=1, comment="", reason="damage", now=utcnow())
    task = session.scalar(sa.select(Task).where(Task.kind == "csat_low"))
    assert (task.role, task.entity, task.entity_id) == ("vetting", "professional", str(pro.id))
    assert f"#{row.id}" in task.title and "Marta Gil" in task.title


def test_a_good_score_opens_no_task(session, sent_survey):
    survey, _, _ = sent_survey()
    service.answer(session, survey=survey, score=3, comment="", reason=None, now=utcnow())
    assert session.scalar(sa.select(sa.func.count()).select_from(Task).where(
        Task.kind == "csat_low")) == 0


def test_the_demo_answers_no_survey_in_the_future(session, factories, monkeypatch):
    import random

    from surveys import demo

    service = factories.request(client=factories.client(), professional=factories.professional(),
                                day=date.today() - timedelta(days=2))
    service.status, service.end_at = RequestStatus.DONE, datetime.combine(
        date.today() - timedelta(days=2), datetime.min.time()) + timedelta(hours=20)
    session.flush()
    early = datetime.combine(date.today(), datetime.min.time()) + timedelta(hours=2)
    monkeypatch.setattr(demo, "utcnow", lambda: early)  # the demo opens at two in the morning

    demo.seed_demo(session, today=date.today(), rng=random.Random(1), config={})

    answered = session.scalars(sa.select(Survey.answered_at)).all()
    assert answered and max(answered) <= early
