"""Forms that read as the team works (#18): fields grouped by what an agent changes together."""

import html
import re

import sqlalchemy as sa

from backoffice.models import StaffUser

FIELDSET_RE = re.compile(r"<fieldset\b[^>]*>\s*<legend\b[^>]*>(.*?)</legend>(.*?)</fieldset>",
                         re.S)
NAME_RE = re.compile(r'\bname="([^"]+)"')


def _speaks(session, user, locale: str) -> None:
    session.execute(sa.update(StaffUser).where(StaffUser.id == user.id).values(locale=locale))
    session.flush()


def _groups(page: str) -> dict[str, list[str]]:
    """Return each fieldset's heading and the names of the fields inside it, in order."""
    groups = {}
    for legend, body in FIELDSET_RE.findall(page):
        names = [n for n in NAME_RE.findall(body) if not n.startswith(("shifts-", "time_off-"))]
        groups[html.unescape(legend).strip()] = list(dict.fromkeys(names))
    return groups


def test_edit_forms_are_grouped_under_headings_in_the_readers_language(
        logged_in, client, session, factories):
    request = factories.request(professional=factories.professional())
    session.flush()
    user = logged_in("ops_agent")
    _speaks(session, user, "es")

    page = client.get(f"/admin/client/edit/?id={request.client_id}").get_data(as_text=True)
    assert _groups(page) == {
        "Contacto": ["name", "email", "phone", "language"],
        "Dirección": ["address", "lat", "lon"],
        "Preferencias y notas": ["notes"],
        "Cuenta": ["status"],
    }
    page = client.get("/admin/professional/new/").get_data(as_text=True)
    groups = _groups(page)
    assert list(groups) == ["Contacto", "Servicios y contrato", "Dirección", "Disponibilidad",
                            "Preferencias y notas"]
    assert groups["Servicios y contrato"] == ["skill_list", "max_minutes_per_week", "rating"]
    page = client.get(f"/admin/service_request/edit/?id={request.id}").get_data(as_text=True)
    groups = _groups(page)
    assert list(groups) == ["Quién y qué", "Cuándo", "Dónde", "Prioridad y precio"]
    assert groups["Cuándo"][:3] == ["service_date", "window_start", "window_end"]
    # The form still carries its token and the version a conflict check compares.
    assert 'name="csrf_token"' in page and 'name="loaded_version"' in page

    _speaks(session, user, "en")
    page = client.get(f"/admin/client/edit/?id={request.client_id}").get_data(as_text=True)
    assert list(_groups(page)) == ["Contact", "Address", "Preferences and notes", "Account"]

    assert "csrf_token" not in str(_groups(page))  # hidden fields are not drawn in a group


def test_settings_forms_are_grouped_too(logged_in, client, session):
    user = logged_in("admin")
    _speaks(session, user, "es")
    pages = {url: list(_groups(client.get(url).get_data(as_text=True)))
             for url in ("/admin/case_macro/new/", "/admin/case_sla_policy/new/",
                         "/admin/billing_dunning_step/new/", "/admin/staff_user/new/")}
    assert pages == {"/admin/case_macro/new/": ["Macro", "Texto", "Qué hace"],
                     "/admin/case_sla_policy/new/": ["A qué se aplica", "Plazos de respuesta"],
                     "/admin/billing_dunning_step/new/": ["Cuándo", "Qué hace"],
                     "/admin/staff_user/new/": ["Cuenta", "Acceso"]}


def test_a_plan_runs_notes_are_read_in_each_readers_language(logged_in, client, session,
                                                              factories):
    """What a worker notes on a run (not published, and why; who took it) is stored as a
    message key with its values, and each reader reads it in their language; a note written
    before as plain text still shows as it was written."""
    from datetime import date, datetime, time, timedelta

    from assignment import runs
    from assignment.models import PlanRun, RunStatus
    from assignment.service import plans
    from backoffice.models import AuditEvent, RequestStatus

    day = date.today() + timedelta(days=2)
    pro = factories.professional()
    row = factories.request(day=day)
    run, _ = runs.request_run(session, start=day, days=2, time_limit_s=1,
                              publish_when_done=True)
    assert runs.start(session, run=run, worker="plan-worker-1")
    plan, base = plans.solve_horizon(session, start=day, days=2, time_limit_s=1)
    # While it solved, an agent booked the service by hand: the plan cannot be published.
    row.professional_id, row.status = pro.id, RequestStatus.ASSIGNED
    row.start_at = datetime.combine(day, time(10))
    row.end_at = row.start_at + timedelta(minutes=row.duration_min)
    session.flush()
    runs.complete(session, run=run, plan=plan, base=base)
    assert run.status == RunStatus.DRAFT
    assert run.note.startswith('["not published: %(reason)s", {"reason": {"msg": ["plan: ')

    user = logged_in("admin")
    page = client.get(f"/admin/coverage/run/{run.id}").get_data(as_text=True)
    assert (f"not published: plan: 1 services changed since this plan was computed "
            f"(#{row.id}); run a new plan") in html.unescape(page)
    audit_en = client.get("/admin/audit_event/?search=" + str(run.id)).get_data(as_text=True)
    assert "taken by the worker plan-worker-1" in html.unescape(audit_en)

    _speaks(session, user, "es")
    page = html.unescape(client.get(f"/admin/coverage/run/{run.id}").get_data(as_text=True))
    assert (f"no se publicó: plan: 1 servicios cambiaron desde que se calculó este plan "
            f"(#{row.id}); calcule uno nuevo") in page
    assert "not published" not in page
    audit_es = client.get("/admin/audit_event/?search=" + str(run.id)).get_data(as_text=True)
    assert "lo tomó el proceso plan-worker-1" in html.unescape(audit_es)
    assert '["taken by' not in html.unescape(audit_es)  # the key is not what shows

    # A note kept as text before #18 reads as it was written.
    session.execute(sa.update(PlanRun).where(PlanRun.id == run.id).values(
        note="demo: re-planned by hand"))
    session.flush()
    page = html.unescape(client.get(f"/admin/coverage/run/{run.id}").get_data(as_text=True))
    assert "demo: re-planned by hand" in page
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "plan_run", AuditEvent.note.like('["taken by%'))) == 1


def test_a_day_is_typed_and_shown_as_the_reader_writes_it(logged_in, client, session,
                                                          factories):
    """A service's day reads 09/12/2026 in its form, not 2026-12-09 (nor the browser's
    12/09/2026), and is typed so; ISO still works; a day that is none is refused naming the
    field, and nothing is written."""
    from datetime import date

    from backoffice.models import ServiceRequest
    from tests.conftest import csrf_from

    user = logged_in("ops_agent")
    _speaks(session, user, "es")
    person = factories.client()
    page = client.get("/admin/service_request/new/").get_data(as_text=True)
    day_input = re.search(r'<input\b[^>]*name="service_date"[^>]*>', page).group(0)
    assert 'placeholder="dd/mm/aaaa"' in day_input and 'type="date"' not in day_input
    form = {"csrf_token": csrf_from(page), "client": str(person.id), "skill": "cleaning",
            "window_start": "09:00", "window_end": "11:00", "duration_min": "120",
            "priority": "1", "recurrence": "one_off"}

    def rows():
        return session.scalars(sa.select(ServiceRequest).where(
            ServiceRequest.client_id == person.id).order_by(ServiceRequest.id)).all()

    resp = client.post("/admin/service_request/new/", data={**form, "service_date": "09/12/2026"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert [r.service_date for r in rows()] == [date(2026, 12, 9)]
    resp = client.post("/admin/service_request/new/", data={**form, "service_date": "2026-12-10"})
    assert resp.status_code == 302
    assert [r.service_date for r in rows()] == [date(2026, 12, 9), date(2026, 12, 10)]

    edit = client.get(f"/admin/service_request/edit/?id={rows()[0].id}").get_data(as_text=True)
    assert re.search(r'name="service_date"[^>]*value="09/12/2026"|value="09/12/2026"[^>]*'
                     r'name="service_date"', edit)

    for typed in ("31/02/2026", "12/31/2026", "mañana"):
        resp = client.post("/admin/service_request/new/", data={**form, "service_date": typed})
        page = html.unescape(resp.get_data(as_text=True))
        assert resp.status_code == 200
        assert f"Fecha: “{typed}” no es una fecha; escríbela como dd/mm/aaaa" in page
    assert len(rows()) == 2

    _speaks(session, user, "en")
    resp = client.post("/admin/service_request/new/", data={**form, "service_date": "12/31/2026"})
    page = html.unescape(resp.get_data(as_text=True))
    assert "Date: “12/31/2026” is not a date; write it as dd/mm/yyyy" in page
    assert len(rows()) == 2


def test_the_panels_own_day_inputs_take_the_readers_format(app, logged_in, client, session,
                                                           factories):
    """The days typed outside Flask-Admin's forms (a payment received, a promise to pay, a
    document's expiry, what-if, reports) are text in dd/mm/yyyy, not the browser's date input;
    the server reads that format and ISO, and refuses a day that is none naming the field."""
    from datetime import date
    from pathlib import Path

    from backoffice.admin.validators import form_date
    from backoffice.i18n import Refusal, refusal_text

    templates = Path(app.root_path) / "templates"
    browser_inputs = [p.name for p in templates.rglob("*.html")
                      if re.search(r'type="date"', p.read_text())]
    assert browser_inputs == []

    assert form_date("05/12/2026", "received_on") == date(2026, 12, 5)
    assert form_date("5/1/2027", "until") == date(2027, 1, 5)
    assert form_date("2026-12-05", "received_on") == date(2026, 12, 5)
    assert form_date(" ", "until") is None
    # A day and a time (a task's due time, an interview, a pinned start) likewise.
    from datetime import datetime

    from backoffice.services.tasks import parse_local

    assert parse_local("09/12/2026 10:30", tz="Europe/Madrid") == datetime(2026, 12, 9, 9, 30)
    assert parse_local("2026-12-09T10:30", tz="Europe/Madrid") == datetime(2026, 12, 9, 9, 30)
    for typed in ("32/12/2026", "12/31/2026", "05/12/26", "ayer"):
        try:
            form_date(typed, "received_on")
        except Refusal as exc:
            refusal = exc
        else:
            raise AssertionError(typed)
    with app.test_request_context(headers={"Accept-Language": "es"}):
        from flask_babel import force_locale

        with force_locale("es"):
            assert refusal_text(refusal) == (
                "Recibido: “ayer” no es una fecha; escríbela como dd/mm/aaaa")
        with force_locale("en"):
            assert refusal_text(refusal) == (
                "Received: “ayer” is not a date; write it as dd/mm/yyyy")

    user = logged_in("ops_agent")
    _speaks(session, user, "es")
    pro = factories.professional()
    session.flush()
    page = html.unescape(client.get(
        f"/admin/coverage/what-if?professional={pro.id}&from=09/12/2026&to=31/12/20266"
    ).get_data(as_text=True))
    assert "Hasta: “31/12/20266” no es una fecha; escríbela como dd/mm/aaaa" in page
    start = re.search(r'<input\b[^>]*name="from"[^>]*>', page).group(0)
    assert 'value="09/12/2026"' in start and 'placeholder="dd/mm/aaaa"' in start


def test_a_published_plans_score_is_worded_for_each_reader(app):
    from assignment.service import plans
    from backoffice import notes

    note = plans._score_note({"covered": 1155, "requests": 1465, "moved": 3,
                              "travel_km": 1205.34, "covered_priority": 1300})
    for lang, said in (("es", "1155 de 1465 servicios cubiertos, 3 movidos, 1.205,3 km de "
                              "desplazamientos"),
                       ("en", "1155 of 1465 services covered, 3 moved, 1,205.3 km of travel")):
        with app.test_request_context(headers={"Accept-Language": lang}):
            assert notes.shown(note) == said
