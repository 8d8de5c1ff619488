"""The panel's forms: in the reader's language, and showing what is stored."""

import html
import re

import sqlalchemy as sa

from backoffice.models import Professional, RequestStatus, ServiceRequest, StaffUser
from tests.conftest import csrf_from

LABEL_RE = re.compile(r"<label\b[^>]*>(.*?)</label>", re.S)
OPTION_RE = re.compile(r"<option\b([^>]*)>(.*?)</option>", re.S)
PLACEHOLDER_RE = re.compile(r'data-placeholder="([^"]*)"')
ADD_RE = re.compile(r'class="btn btn-primary"[^>]*addInlineField[^>]*>(.*?)</a>', re.S)
# Words that are the same in both languages, and values that are data, not interface.
SAME_IN_BOTH = {"Id", "Roles", "—", ""}
# A language is offered by its own name in the language switch, whatever the reader's language.
SAME_IN_BOTH |= {"English", "Español"}


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
    left = {url: sorted(t for t in texts["en"] & texts["es"] if t not in SAME_IN_BOTH
                        and not t[:1].isdigit())
            for url, texts in pages.items()}
    untranslated = {url: words for url, words in left.items() if words}
    assert not untranslated, "\n".join(f"{u}: {w}" for u, w in untranslated.items())


def test_edit_form_shows_the_stored_status(logged_in, client, factories, session):
    """An enum stored by its value ('confirmed') is the selected option of the edit form, so
    saving the form untouched keeps it; it used to show the first option ('new') and save that."""
    request = factories.request(professional=factories.professional())
    request.status = RequestStatus.CONFIRMED
    session.flush()
    logged_in("ops_agent")
    page = client.get(f"/admin/service_request/edit/?id={request.id}").get_data(as_text=True)
    status_select = re.search(r'<select[^>]*name="status".*?</select>', page, re.S).group(0)
    selected = [value for attrs, value in OPTION_RE.findall(status_select) if "selected" in attrs]
    assert selected == ["confirmed"]

    # Submit the form with every value as the page shows it: nothing changes.
    data = _form_values(page)
    data["csrf_token"] = csrf_from(page)
    resp = client.post(f"/admin/service_request/edit/?id={request.id}", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    session.expire_all()
    saved = session.get(ServiceRequest, request.id)
    assert saved.status == RequestStatus.CONFIRMED
    assert saved.professional_id == request.professional_id


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
    form = next(f for f in forms if 'name="status"' in f)  # not the menu's small forms
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
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = [re.search(r'value="([^"]*)"', attrs).group(1)
                  for attrs, _ in OPTION_RE.findall(body) if "selected" in attrs]
        first = OPTION_RE.search(body)
        if chosen:
            data[name] = chosen[0]
        elif first:  # what a browser submits for a select with nothing selected
            data[name] = re.search(r'value="([^"]*)"', first.group(1)).group(1)
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form,
                                 re.S):
        data[name] = html.unescape(body.strip("\r\n"))
    return data
