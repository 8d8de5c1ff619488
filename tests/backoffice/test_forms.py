"""The panel's forms: in the reader's language, and showing what is stored."""

import html
import re
from datetime import date

import sqlalchemy as sa

from backoffice.geo import zone_for
from backoffice.models import (
    Client,
    ClientStatus,
    Professional,
    RequestStatus,
    ServiceRequest,
    StaffUser,
)
from tests.conftest import csrf_from

LABEL_RE = re.compile(r"<label\b[^>]*>(.*?)</label>", re.S)
OPTION_RE = re.compile(r"<option\b([^>]*)>(.*?)</option>", re.S)
PLACEHOLDER_RE = re.compile(r'data-placeholder="([^"]*)"')
ADD_RE = re.compile(r'class="btn btn-primary"[^>]*addInlineField[^>]*>(.*?)</a>', re.S)
# Words that are the same in both languages, and values that are data, not interface.
SAME_IN_BOTH = {"Id", "Roles", "—", ""}
# A language is offered by its own name in the language switch, whatever the reader's language.
SAME_IN_BOTH |= {"English", "Español"}
# A case's priority "normal" is the same word in Spanish.
SAME_IN_BOTH |= {"normal"}


def _texts(page: str) -> set[str]:
    found = [*LABEL_RE.findall(page), *(text for _, text in OPTION_RE.findall(page)),
             *PLACEHOLDER_RE.findall(page), *ADD_RE.findall(page)]
    plain = (re.sub(r"<[^>]+>", "", html.unescape(text)).replace("*", "") for text in found)
    return {" ".join(text.split()) for text in plain}


def _form_pages(app) -> list[str]:
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if rule.rule.startswith("/admin/") and rule.rule.endswith(("/new/", "/edit/")))


def test_every_form_speaks_the_readers_language(app, client, session, make_user, login,
                                                factories):
    """Each create and edit form, read in Spanish, has no label, option or hint left in the
    English it has for an English reader (names of fields, enum codes, weekdays, languages)."""
    request = factories.request(professional=factories.professional())
    session.flush()
    ids = {}
    for rule in _form_pages(app):
        ids[rule] = request.id if rule.startswith("/admin/service_request/") else None
    user = make_user("admin")
    assert login(user).status_code == 302
    pages = {}
    for locale in ("en", "es"):
        session.execute(sa.update(StaffUser).where(StaffUser.id == user.id).values(locale=locale))
        session.flush()
        for rule in _form_pages(app):
            url = rule if ids[rule] is None else f"{rule}?id={ids[rule]}"
            if rule.endswith("/edit/") and ids[rule] is None:
                continue  # an edit form needs a record of that kind: the create form has its fields
            resp = client.get(url)
            if resp.status_code != 200:
                continue  # views without a create or edit form redirect
            pages.setdefault(url, {})[locale] = _texts(resp.get_data(as_text=True))
    assert len(pages) >= 7, sorted(pages)
    # A person offered by name and email (a task's assignee) is data, not interface.
    left = {url: sorted(t for t in texts["en"] & texts["es"] if t not in SAME_IN_BOTH
                        and not t[:1].isdigit() and "@" not in t)
            for url, texts in pages.items()}
    untranslated = {url: words for url, words in left.items() if words}
    assert not untranslated, "\n".join(f"{u}: {w}" for u, w in untranslated.items())


def test_edit_form_shows_the_stored_status(logged_in, client, factories, session):
    """An enum stored by its value ('blocked') is the selected option of the edit form, so
    saving the form untouched keeps it; it used to show the first option ('active') and save
    that. (A service request's state is no form field: it moves by its actions.)"""
    person = factories.client(status=ClientStatus.BLOCKED)
    logged_in("ops_agent")
    page = client.get(f"/admin/client/edit/?id={person.id}").get_data(as_text=True)
    status_select = re.search(r'<select[^>]*name="status".*?</select>', page, re.S).group(0)
    selected = [value for attrs, value in OPTION_RE.findall(status_select) if "selected" in attrs]
    assert selected == ["blocked"]

    # Submit the form with every value as the page shows it: nothing changes.
    data = _form_values(page)
    data["csrf_token"] = csrf_from(page)
    resp = client.post(f"/admin/client/edit/?id={person.id}", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    session.expire_all()
    assert session.get(Client, person.id).status == ClientStatus.BLOCKED


def test_professional_form_names_weekdays_and_skills(logged_in, client, factories, session):
    pro = factories.professional(skills=("cleaning", "ironing"))
    session.flush()
    user = logged_in("ops_agent")
    session.execute(sa.update(StaffUser).where(StaffUser.id == user.id).values(locale="es"))
    session.flush()
    page = client.get(f"/admin/professional/edit/?id={pro.id}").get_data(as_text=True)
    options = {html.unescape(text): attrs for attrs, text in OPTION_RE.findall(page)}
    assert "selected" in options["limpieza"] and "selected" in options["plancha"]
    assert "selected" not in options["jardinería"]
    assert {"lunes", "domingo", "español", "valenciano"} <= {t.lower() for t in options}
    assert session.get(Professional, pro.id).skills == "cleaning,ironing"


def _form_values(page: str) -> dict:
    """Return what a browser would submit for the form as shown (inputs, selected options)."""
    forms = re.findall(r"<form\b[^>]*>(.*?)</form>", page, re.S | re.I)
    form = max(forms, key=lambda f: f.count("name="))  # the record's, not the menu's forms
    data = {}
    for tag in re.findall(r"<input\b[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="submit"' in tag:
            continue
        if 'type="checkbox"' in tag:
            if "checked" in tag:
                data[name.group(1)] = "y"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for attrs, body in re.findall(r"<select\b([^>]*)>(.*?)</select>", form, re.S):
        name = re.search(r'name="([^"]+)"', attrs).group(1)
        chosen = [re.search(r'value="([^"]*)"', attrs).group(1)
                  for attrs, _ in OPTION_RE.findall(body) if "selected" in attrs]
        first = OPTION_RE.search(body)
        if chosen:
            data[name] = chosen if "multiple" in attrs else chosen[0]
        elif first:  # what a browser submits for a select with nothing selected
            data[name] = re.search(r'value="([^"]*)"', first.group(1)).group(1)
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form,
                                 re.S):
        data[name] = html.unescape(body.strip("\r\n"))
    return data



def _columns(session, model, pk) -> dict:
    """Return a row's stored values, leaving out what every save stamps."""
    session.expire_all()
    row = session.get(model, pk)
    return {c.key: getattr(row, c.key) for c in sa.inspect(model).column_attrs
            if c.key not in ("updated_at", "version")}


def test_every_edit_form_saved_untouched_keeps_its_record(app, client, session, make_user,
                                                          login, factories):
    """Open each edit form of the panel and save it as shown: the save succeeds and the record
    is unchanged. A unique column's own value used to read as "Already exists", so no staff
    user or dunning step could be edited; an applicant's zone, stated without coordinates,
    was wiped."""
    from backoffice.models import Client, Task
    from billing.models import DunningStep

    pro = factories.professional(skills=("cleaning", "ironing"))
    applicant = factories.professional(lat=None, lon=None, zone="Jesús")
    request = factories.request(professional=pro, status=RequestStatus.CONFIRMED,
                                recurrence="weekly")
    for row in (pro, request, request.client):  # the zone a save derives from lat/lon
        row.zone = zone_for(row.lat, row.lon)
    task = Task(role="admin", kind="call", title="Call back")
    step = DunningStep(day=99, retry=False, call_task=True, hold_bookings=False,
                       close_uncollectible=False, active=False)
    session.add_all([task, step])
    other = make_user("vetting", email="someone.else@staff.example.com")
    session.flush()
    from cases.models import BusinessHours, CaseCategory, ClosedDay, Macro, SlaPolicy

    macro = Macro(name="Gracias", kind="reply", body_es="Hola {{ first_name }}",
                  body_en="Hi {{ first_name }}", set_state="solved", add_tags="gracias")
    closed = ClosedDay(day=date(2026, 12, 24), note="Nochebuena")
    session.add_all([macro, closed])
    session.flush()
    seeded = [(endpoint, model, session.scalar(sa.select(model.id).order_by(model.id).limit(1)))
              for endpoint, model in (("case_category", CaseCategory),
                                      ("case_sla_policy", SlaPolicy),
                                      ("case_business_hours", BusinessHours))]
    records = [*seeded, ("case_macro", Macro, macro.id), ("case_closed_day", ClosedDay, closed.id),
               ("client", Client, request.client_id), ("professional", Professional, pro.id),
               ("professional", Professional, applicant.id),
               ("service_request", ServiceRequest, request.id),
               ("staff_user", StaffUser, other.id), ("task", Task, task.id),
               ("billing_dunning_step", DunningStep, step.id)]
    edit_forms = {rule.rule.split("/")[2] for rule in app.url_map.iter_rules()
                  if rule.rule.startswith("/admin/") and rule.rule.endswith("/edit/")}
    assert login(make_user("admin")).status_code == 302
    for endpoint in sorted(edit_forms - {endpoint for endpoint, _, _ in records}):
        page = client.get(f"/admin/{endpoint}/")
        assert b"/edit/?" not in page.data, f"{endpoint}: an edit form this test leaves out"
    for endpoint, model, pk in records:
        before = _columns(session, model, pk)
        url = f"/admin/{endpoint}/edit/?id={pk}"
        page = client.get(url).get_data(as_text=True)
        resp = client.post(url, data=_form_values(page))
        assert resp.status_code == 302, (endpoint, re.findall(
            r'class="invalid-feedback">\s*<ul[^>]*>\s*<li>(.*?)</li>', resp.get_data(
                as_text=True)))
        assert _columns(session, model, pk) == before, (endpoint, pk)
