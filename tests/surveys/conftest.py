"""Fixtures of the survey tests: a solved case, a done service, and a survey mailed with its
link, each made through the services the desk and the job use."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice.db import utcnow
from backoffice.models import OutboxMessage
from backoffice.services import requests
from cases import service as cases
from cases import workflow
from cases.models import CaseCategory, CaseState
from surveys import jobs
from surveys.models import Survey

LINK = re.compile(r"(https?://\S+/survey/([A-Za-z0-9_-]+))")


def aware(moment: datetime) -> datetime:
    """Return a naive UTC moment as the aware one a job is given."""
    return moment.replace(tzinfo=UTC)


@pytest.fixture()
def run_job(session, app):
    """Run the survey job at a naive UTC moment, as the scheduler would."""

    def run(at: datetime) -> dict:
        return jobs.send_surveys(session=session, now=aware(at), config=app.config)

    return run


@pytest.fixture()
def solved_case(session, factories, make_user):
    """Return a case of a client (or the requester given) solved at `at` by an agent."""

    def make(*, at: datetime, requester=None, agent=None, category: str = "other"):
        agent = agent or make_user("ops_agent")
        requester = requester if requester is not None else factories.client()
        kind = session.scalar(sa.select(CaseCategory).where(CaseCategory.code == category))
        case = cases.open_case(session, subject="Cambio de hora", channel="mail",
                               requester=requester, category=kind, assignee=agent, offer=False,
                               now=at - timedelta(hours=2))
        workflow.transition(session, case=case, to=CaseState.SOLVED, user=agent, now=at)
        return case

    return make


@pytest.fixture()
def done_service(session, factories):
    """Return a service of yesterday marked done now (the audit trail's clock)."""

    def make(*, client=None, professional=None):
        pro = professional or factories.professional()
        row = factories.request(client=client or factories.client(), professional=pro,
                                day=date.today() - timedelta(days=1))
        requests.complete(session, request=row, now=datetime.now())
        return row

    return make


def link_of(session, survey: Survey) -> tuple[str, str]:
    """Return the link of a survey's mail and its token."""
    body = session.scalar(sa.select(OutboxMessage.body).where(
        OutboxMessage.dedup_key == f"survey:{survey.id}"))
    found = LINK.search(body)
    assert found, body
    return found.group(1), found.group(2)


@pytest.fixture()
def sent_survey(session, solved_case, run_job):
    """Return (survey, token, case) of a case survey mailed now, open for 14 days."""

    def make(**kw):
        case = solved_case(at=utcnow() - timedelta(hours=25), **kw)
        run_job(utcnow())
        survey = session.scalar(sa.select(Survey).where(Survey.case_id == case.id))
        _, token = link_of(session, survey)
        return survey, token, case

    return make
