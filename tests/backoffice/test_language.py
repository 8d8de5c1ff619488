"""Pages read in Spanish name things in Spanish: no stored code shows where a word should."""

import enum
import html
import re
import urllib.parse
from datetime import datetime, time

import pytest
import sqlalchemy as sa

import backoffice.models
from backoffice.models import LANGUAGES, ROLES, SKILLS, RequestStatus, StaffUser, Task
from tests.conftest import csrf_from, post_from
from vetting import service as vetting_service

HIDDEN = re.compile(r"<script.*?</script>|<select.*?</select>|<textarea.*?</textarea>"
                    r"|<table[^>]*audit-history.*?</table>", re.S)
CELL = re.compile(r"<(td|span|small|a)\b[^>]*>([^<>]*)</\1>")


def _codes() -> set[str]:
    """Return every stored code a page could show: enum values, skills, roles, languages."""
    codes = set(SKILLS) | set(ROLES) | set(LANGUAGES)
    for value in vars(backoffice.models).values():
        if isinstance(value, type) and issubclass(value, enum.Enum) and value is not enum.Enum:
            codes |= {str(member.value) for member in value}
    return codes


def test_no_page_read_in_spanish_shows_a_stored_code(app, client, session, make_user, login,
                                                     factories):
    """Walk the panel from the home page as an admin reading Spanish, following its links, and
    read every cell, badge and link text: none is a stored code (a skill, a status, a role),
    alone or in a list. The audit history shows stored values on purpose and is left out."""
    pro = factories.professional(skills=("cleaning", "elderly_care"))
    factories.request(professional=pro, status=RequestStatus.IN_PROGRESS, skill="elderly_care")
    factories.request(status=RequestStatus.NO_SHOW, skill="childcare", recurrence="weekly")
    session.add(Task(role="ops_agent", kind="service_at_risk", title="Re-cover #1"))
    vetting_service.new_applicant(session, name="Nuria Applicant", email="nuria@example.com",
                                  phone="+34 600 111 222", skills=["elderly_care", "ironing"],
                                  zone="Jesús", now=datetime.now())
    make_user("ops_agent", "finance")
    admin = make_user("admin", locale="es")
    session.flush()
    assert login(admin).status_code == 302
    codes = _codes()
    seen, queue, per_path, found = set(), ["/admin/"], {}, {}
    while queue and len(seen) < 400:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        resp = client.get(url)
        if resp.status_code != 200 or not resp.content_type.startswith("text/html"):
            continue
        page = resp.get_data(as_text=True)
        for _tag, text in CELL.findall(HIDDEN.sub("", page)):
            words = [w.strip() for w in re.split(r",|\(|\)", html.unescape(text))]
            shown = [w for w in words if w in codes]
            if shown:
                found.setdefault(urllib.parse.urlsplit(url).path, set()).update(shown)
        for href in re.findall(r'href="([^"#]+)"', page):
            link = urllib.parse.urlsplit(urllib.parse.urljoin(url, html.unescape(href)))
            if (link.netloc or not link.path.startswith("/admin") or "/static/" in link.path
                    or re.search(r"/export(/|$)", link.path)  # files, not pages
                    or per_path.get(link.path, 0) >= 3):
                continue
            per_path[link.path] = per_path.get(link.path, 0) + 1
            queue.append(link.path + ("?" + link.query if link.query else ""))
    assert len(seen) > 40
    assert found == {}


def test_the_user_menu_names_the_roles(client, session, make_user, login):
    user = make_user("ops_agent", "finance", locale="es")
    assert login(user).status_code == 302
    page = client.get("/admin/").get_data(as_text=True)
    assert "(Agente de operaciones, Finanzas)" in page
    session.execute(sa.update(StaffUser).where(StaffUser.id == user.id).values(locale="en"))
    session.flush()
    assert "(Operations agent, Finance)" in client.get("/admin/").get_data(as_text=True)


def _literal_messages(callee: str) -> set[str]:
    """Return every literal message the code passes first to callee (a function's name)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = set()
    for package in ("backoffice", "vetting", "billing", "assignment"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == callee
                        and node.args and isinstance(node.args[0], ast.Constant)):
                    found.add(node.args[0].value)
    return found


def _team_messages() -> set[str]:
    """Return every literal message the code stores for a team through for_team."""
    return _literal_messages("for_team") | _literal_messages("Keyed")


def test_every_fixed_refusal_of_a_service_has_its_spanish(app):
    """Services word their refusals in English (the CLI and the jobs read them too); the
    panel shows each fixed one in the reader's language (refusal)."""
    from backoffice.i18n import read_pairs

    internal = {"rows: write_many returns ids for one row per invoice only"}
    messages = {m for m in _literal_messages("ValueError") | _literal_messages("Refusal")
                if ": " in m} - internal
    assert len(messages) >= 30
    spanish = read_pairs("es")
    assert sorted(m for m in messages if m not in spanish) == []


def test_every_message_stored_for_a_team_has_its_spanish(app):
    from backoffice.i18n import read_pairs

    messages = _team_messages()
    assert len(messages) >= 15
    spanish = read_pairs("es")
    assert sorted(m for m in messages if m not in spanish) == []


def test_tasks_are_written_in_the_back_offices_language(app, session, factories, monkeypatch):
    """A job writes its task for the team in the back office's language, not the code's."""
    from datetime import date

    from vetting import service

    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "es")
    pro = factories.professional()
    request = factories.request(professional=pro, day=date(2026, 12, 2), start=time(9))
    service.on_professional_suspended(session, pro.id, datetime(2026, 12, 1))
    task = session.scalars(sa.select(Task).where(Task.kind == "service_at_risk")).one()
    assert task.title == (f"El servicio de {request.client.name} del 02/12 09:00 necesita otro "
                          "profesional")
    assert task.details.startswith(f"Selección suspendió a {pro.name};")


def test_the_coverage_board_names_its_days_in_the_readers_language(client, make_user, login):
    assert login(make_user("ops_agent", locale="es")).status_code == 302
    page = client.get("/admin/coverage/").get_data(as_text=True)
    days = re.findall(r"<th>(\w+) \d\d/\d\d</th>", page)
    assert len(days) == 14 and set(days) <= {"lun", "mar", "mié", "jue", "vie", "sáb", "dom"}


def test_each_word_has_one_translation_per_context():
    """A word translated twice (in two areas' files) would silently take the last file's
    translation everywhere; a word that reads differently somewhere says so by a context."""
    from backoffice.i18n import SOURCE

    seen, clashes = {}, []
    for path in sorted(SOURCE.glob("*.es.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            english, _, spanish = line.partition("\t")
            if english in seen and seen[english][0] != spanish:
                clashes.append((english, seen[english], (spanish, path.name)))
            seen.setdefault(english, (spanish, path.name))
    assert clashes == []


def test_an_application_and_a_professional_are_approved_each_in_its_gender(
        app, client, session, make_user, login, factories):
    from vetting.models import Stage

    applicant = vetting_service.new_applicant(session, name="Pau Aprobado", email=None,
                                              phone="+34 600 111 333", skills=["cleaning"])
    applicant.stage = Stage.APPROVED
    pro = factories.professional()
    session.flush()
    assert login(make_user("vetting", locale="es")).status_code == 302
    page = client.get(f"/admin/vetting/application/{applicant.id}").get_data(as_text=True)
    assert re.search(r'data-stage="approved">aprobada<', page)
    page = client.get(f"/admin/professional/details/?id={pro.id}").get_data(as_text=True)
    assert ">aprobado<" in page


def test_flask_admins_own_messages_are_in_spanish(client, session, make_user, login):
    """Flask-Admin's packaged catalogue lacks some of its own Spanish messages; the panel
    compiles them from its sources."""
    assert login(make_user("ops_agent", locale="es")).status_code == 302
    page = client.get("/admin/client/new/").get_data(as_text=True)
    resp = client.post("/admin/client/new/", data={"csrf_token": csrf_from(page),
                                                   "name": "", "email": "x"})
    text = resp.get_data(as_text=True)
    assert "No se pudo crear el registro." in text and "Failed to create record." not in text


def test_our_wording_of_flask_admins_messages_wins_over_its_packaged_one(client, session,
                                                                       make_user, login):
    assert login(make_user("ops_agent", locale="es")).status_code == 302
    page = client.get("/admin/client/new/").get_data(as_text=True)
    assert 'value="Guardar"' in page and "Salvar" not in page  # the package says "Salvar"


def test_a_refused_bulk_change_says_why_in_the_readers_language(client, session, make_user,
                                                                 login, factories):
    done = factories.request(status=RequestStatus.DONE)
    session.commit()
    assert login(make_user("ops_agent", locale="es")).status_code == 302
    text = html.unescape(post_from(client, "/admin/service_request/",
                                   "/admin/service_request/action/",
                                   {"action": "confirm", "rowid": [done.id]}))
    assert (f"#{done.id}: estado: solo se puede confirmar un servicio asignado (está hecho)"
            in text)


def test_a_service_refusal_reaches_the_reader_in_their_language(client, session, make_user,
                                                                login):
    assert login(make_user("vetting", locale="es")).status_code == 302
    text = html.unescape(post_from(client, "/admin/vetting/new", "/admin/vetting/new",
                                   {"name": "", "skills": ["cleaning"]}))
    assert "nombre: obligatorio" in text and "name: required" not in text


def test_a_refusal_keeps_its_english_and_reads_in_spanish_with_its_values(app):
    """The CLI and the jobs read a refusal in English; the panel words it, and names the codes
    among its values, in the reader's language."""
    from flask_babel import force_locale

    from backoffice.i18n import Code, Refusal, refusal_text
    from backoffice.models import ProfessionalStatus

    skill = Refusal("professional: %(name)s does not do %(skill)s", name="Ana",
                    skill=Code("ironing"))
    status = Refusal("professional: %(name)s is %(status)s, not approved", name="Ana",
                     status=ProfessionalStatus.SUSPENDED)
    assert (str(skill), str(status)) == ("professional: Ana does not do ironing",
                                         "professional: Ana is suspended, not approved")
    with app.test_request_context(), force_locale("es"):
        assert refusal_text(skill) == "profesional: Ana no hace plancha"
        assert refusal_text(status) == "profesional: Ana está suspendido, no aprobado"
        assert refusal_text(ValueError("name: required")) == "nombre: obligatorio"


@pytest.mark.parametrize(("utc", "spanish"), [
    ("2026-12-07T08:00", "Buenos días, Ana"),     # 09:00 in Madrid
    ("2026-12-07T14:40", "Buenas tardes, Ana"),   # 15:40: it said "Buenos días"
    ("2026-07-07T19:30", "Buenas noches, Ana"),   # 21:30 in summer time
    ("2026-12-07T23:30", "Buenas noches, Ana"),   # 00:30 the next day
])
def test_the_greeting_follows_the_hour_in_madrid(app, utc, spanish):
    from datetime import UTC, datetime

    from flask_babel import force_locale

    from backoffice.admin.home import greeting

    with app.test_request_context(), force_locale("es"):
        moment = datetime.fromisoformat(utc).replace(tzinfo=UTC)
        assert greeting("Ana", moment) == spanish


def test_an_error_page_is_titled_in_the_readers_language(client, session, make_user, login):
    assert login(make_user("finance", locale="es")).status_code == 302
    resp = client.get("/admin/no-such-page/")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 404 and "<title>404 · Administración</title>" in page
