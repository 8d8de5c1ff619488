"""The public survey page: no login, the survey's language, one answer, polite pages for
links that cannot answer, a rate limit per address, CSRF, and nothing else reachable."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backoffice.db import utcnow
from backoffice.models import Task
from surveys.models import Survey, SurveyStatus
from tests.conftest import csrf_from


def _open(client, token, **kw):
    resp = client.get(f"/survey/{token}", **kw)
    return resp, resp.get_data(as_text=True)


def _answer(client, token, data, *, csrf=True, **kw):
    page = client.get(f"/survey/{token}", **kw).get_data(as_text=True)
    form = {"csrf_token": csrf_from(page)} if csrf else {}
    resp = client.post(f"/survey/{token}", data={**form, **data}, **kw)
    return resp, resp.get_data(as_text=True)


def test_a_client_answers_in_spanish_once(client, session, sent_survey):
    survey, token, case = sent_survey()
    resp, page = _open(client, token, headers={"Accept-Language": "en"})
    assert resp.status_code == 200
    assert '<html lang="es">' in page and "Encuesta de satisfacción" in page
    assert f"su consulta {case.number}" in page and "Muy satisfecho" in page
    resp, page = _answer(client, token, {"score": "4", "comment": "Rápidos y amables"})
    assert resp.status_code == 200 and "Gracias por su respuesta" in page
    session.refresh(survey)
    assert (survey.status, survey.score, survey.comment) == (SurveyStatus.ANSWERED, 4,
                                                             "Rápidos y amables")
    resp, page = _open(client, token)
    assert resp.status_code == 410 and "Ya ha respondido" in page
    assert "<form" not in page


def test_an_english_client_reads_english(client, factories, sent_survey):
    _, token, _ = sent_survey(requester=factories.client(language="en"))
    resp, page = _open(client, token, headers={"Accept-Language": "es"})
    assert '<html lang="en">' in page and "Satisfaction survey" in page
    assert "Very satisfied" in page


def test_a_second_answer_changes_nothing(client, session, sent_survey):
    survey, token, _ = sent_survey()
    page = client.get(f"/survey/{token}").get_data(as_text=True)
    csrf = csrf_from(page)
    first = client.post(f"/survey/{token}", data={"csrf_token": csrf, "score": "5"})
    second = client.post(f"/survey/{token}", data={"csrf_token": csrf, "score": "1",
                                                    "reason": "slow"})
    assert first.status_code == 200 and second.status_code == 410
    assert "Ya ha respondido" in second.get_data(as_text=True)
    session.refresh(survey)
    assert survey.score == 5
    assert session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_a_low_score_needs_a_reason_and_then_opens_the_admins_task(client, session, sent_survey):
    survey, token, case = sent_survey()
    resp, page = _answer(client, token, {"score": "2", "comment": "Lento"})
    assert resp.status_code == 400
    assert "motivo: elija un motivo cuando la puntuación es 2 o menos" in page
    assert 'value="2" checked' in page and "Lento" in page  # what was typed stays
    session.refresh(survey)
    assert survey.status == SurveyStatus.SENT
    resp, page = _answer(client, token, {"score": "2", "reason": "slow", "comment": "Lento"})
    assert resp.status_code == 200 and "Gracias por su respuesta" in page
    task = session.scalar(sa.select(Task).where(Task.kind == "csat_low"))
    assert (task.role, task.entity_id) == ("admin", str(case.id))


def test_a_bad_score_is_refused_naming_the_field(client, session, sent_survey):
    survey, token, _ = sent_survey()
    resp, page = _answer(client, token, {"score": "9"})
    assert resp.status_code == 400 and "puntuación: elija una puntuación del 1 al 5" in page
    resp, page = _answer(client, token, {"score": "5", "comment": "x" * 2001})
    assert resp.status_code == 400 and "comentario: como máximo 2000 caracteres" in page
    session.refresh(survey)
    assert survey.status == SurveyStatus.SENT


def test_the_form_needs_its_csrf_token(client, session, sent_survey):
    survey, token, _ = sent_survey()
    resp, page = _answer(client, token, {"score": "5"}, csrf=False)
    assert resp.status_code == 400 and "El formulario ha caducado" in page
    resp, page = _answer(client, token, {"score": "5", "csrf_token": "forged"}, csrf=False)
    assert resp.status_code == 400
    session.refresh(survey)
    assert survey.status == SurveyStatus.SENT


def test_an_altered_link_gets_a_polite_page_and_changes_nothing(client, session, sent_survey):
    survey, token, _ = sent_survey()
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (altered, survey.token_hash, "x" * 300, "..%2F..%2Fadmin", "a/b", ""):
        resp, page = _open(client, bad)
        assert resp.status_code == 404 and "Este enlace no es válido" in page, bad
    page = client.get(f"/survey/{token}").get_data(as_text=True)
    resp = client.post(f"/survey/{altered}", data={"csrf_token": csrf_from(page), "score": "1",
                                                   "reason": "slow"})
    assert resp.status_code == 404
    session.refresh(survey)
    assert survey.status == SurveyStatus.SENT and survey.score is None


def test_a_link_answers_only_its_own_survey(client, session, sent_survey):
    mine, token, _ = sent_survey()
    other, _, _ = sent_survey()
    _answer(client, token, {"score": "5", "survey_id": str(other.id), "id": str(other.id)})
    session.refresh(mine)
    session.refresh(other)
    assert (mine.status, mine.score) == (SurveyStatus.ANSWERED, 5)
    assert (other.status, other.score) == (SurveyStatus.SENT, None)


def test_an_expired_or_cancelled_link_gets_a_polite_page(client, session, sent_survey):
    expired, token, _ = sent_survey()
    session.execute(sa.update(Survey).where(Survey.id == expired.id)
                    .values(expires_at=utcnow() - timedelta(minutes=1)))
    resp, page = _open(client, token)
    assert resp.status_code == 410 and "Esta encuesta ha caducado" in page
    resp = client.post(f"/survey/{token}", data={"score": "5"})
    assert resp.status_code == 410
    cancelled, token, _ = sent_survey()
    session.execute(sa.update(Survey).where(Survey.id == cancelled.id)
                    .values(status=SurveyStatus.CANCELLED))
    resp, page = _open(client, token)
    assert resp.status_code == 410 and "Esta encuesta está cerrada" in page
    assert session.scalar(sa.select(Survey.score).where(Survey.id == expired.id)) is None


def test_the_page_shows_nothing_else(client, session, sent_survey, factories, make_user, login):
    pro = factories.client(name="Otra Persona Visible")
    other, _, other_case = sent_survey(requester=pro)
    survey, token, case = sent_survey()
    resp, page = _open(client, token)
    assert "href=" not in page and "<script" not in page and "/admin" not in page
    assert case.client.name not in page and case.client.email not in page
    assert survey.concerned_name not in page  # the agent is rated, not named
    assert other_case.number not in page and "Otra Persona Visible" not in page
    headers = resp.headers
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    # A staff member logged in to the panel who opens a link sees no more of the panel.
    assert login(make_user("admin")).status_code == 302
    resp, page = _open(client, token)
    assert resp.status_code == 200 and "href=" not in page and "Back office" not in page
    resp, page = _open(client, "nope")
    assert resp.status_code == 404 and "href=" not in page and "<form" not in page


def test_each_address_is_rate_limited(app, client, session, sent_survey, monkeypatch):
    survey, token, _ = sent_survey()
    monkeypatch.setitem(app.config, "SURVEY_MAX_HITS", 5)
    near = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
    codes = [client.get(f"/survey/guess{n}", **near).status_code for n in range(5)]
    assert codes == [404] * 5
    resp, page = _open(client, token, **near)  # the right link too, from that address
    assert resp.status_code == 429 and "Demasiadas solicitudes" in page
    assert "<form" not in page
    resp = client.post(f"/survey/{token}", data={"score": "5"}, **near)
    assert resp.status_code == 429
    session.refresh(survey)
    assert survey.status == SurveyStatus.SENT
    # Another address is not held back by this one.
    resp, _ = _open(client, token, environ_base={"REMOTE_ADDR": "198.51.100.2"})
    assert resp.status_code == 200
    # Once the window has passed, the address may try again.
    monkeypatch.setitem(app.config, "SURVEY_HIT_MINUTES", 0)
    assert client.get(f"/survey/{token}", **near).status_code == 200


@pytest.mark.parametrize("method", ["put", "delete"])
def test_other_methods_are_refused(client, sent_survey, method):
    _, token, _ = sent_survey()
    assert getattr(client, method)(f"/survey/{token}").status_code == 405


def test_the_page_lists_only_its_choices(client, sent_survey):
    _, token, _ = sent_survey()
    page = _open(client, token)[1]
    assert re.findall(r'name="score" value="(\d)"', page) == ["1", "2", "3", "4", "5"]
    assert "Tardaron demasiado" in page and "El profesional llegó tarde" not in page
