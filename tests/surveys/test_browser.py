"""A client answers a survey about their service in Spanish in a real browser, then finds the
link used."""

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backoffice import i18n
from backoffice.db import utcnow
from backoffice.models import Task
from backoffice.services import requests
from surveys import jobs
from surveys.models import Survey, SurveyStatus
from tests.factories import Factories
from tests.surveys.conftest import aware, link_of

pytestmark = pytest.mark.browser


def test_a_client_answers_in_spanish_and_the_link_then_is_used(live_server, page):
    config = {**live_server.app.config, "PUBLIC_URL": live_server.url}
    with live_server.session() as s, i18n.speaking(config):
        made = Factories(s)
        pro = made.professional(name="Rosa Navarro")
        row = made.request(client=made.client(name="Carmen Soler", language="es"),
                           professional=pro, day=date.today() - timedelta(days=1))
        requests.complete(s, request=row, now=datetime.now())
        jobs.send_surveys(session=s, now=aware(utcnow() + timedelta(hours=25)), config=config)
        survey = s.scalar(sa.select(Survey).where(Survey.service_request_id == row.id))
        link, _ = link_of(s, survey)
        survey_id = survey.id

    page.goto(link)  # the browser reads English (en-GB): the page speaks the survey's Spanish
    expect(page.locator("h1")).to_have_text("Encuesta de satisfacción")
    expect(page.locator("legend").first).to_contain_text("su servicio de limpieza del")
    expect(page.locator("a")).to_have_count(0)
    page.check("input[name=score][value='2']")
    page.fill("#comment", "Llegó una hora tarde")
    page.click("button[type=submit]")
    expect(page.locator(".alert")).to_contain_text(
        "motivo: elija un motivo cuando la puntuación es 2 o menos")
    expect(page.locator("#comment")).to_have_value("Llegó una hora tarde")
    page.get_by_label("El profesional llegó tarde").check()
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Gracias por su respuesta")

    page.goto(link)
    expect(page.locator("h1")).to_have_text("Ya ha respondido")
    expect(page.locator("form")).to_have_count(0)

    with live_server.session() as s:
        survey = s.get(Survey, survey_id)
        assert (survey.status, survey.score, survey.reason, survey.comment) == (
            SurveyStatus.ANSWERED, 2, "late", "Llegó una hora tarde")
        task = s.scalar(sa.select(Task).where(Task.dedup_key == f"csat_low:survey{survey_id}"))
        assert (task.role, task.entity, task.entity_id) == ("vetting", "professional",
                                                            str(pro.id))
