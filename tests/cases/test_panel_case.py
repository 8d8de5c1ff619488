"""A case's page in the panel: the conversation, its forms, merge and link, the attachments."""

import html
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backoffice.audit import AuditEvent
from backoffice.db import utcnow
from cases import attachments, service
from cases.models import Article, ArticleKind, Case, CaseState, Macro
from tests.conftest import post_from


def page_of(client, case) -> str:
    resp = client.get(f"/admin/cases/{case.id}")
    assert resp.status_code == 200
    return html.unescape(resp.get_data(as_text=True))


def send(client, case, action: str, data: dict) -> str:
    return html.unescape(post_from(client, f"/admin/cases/{case.id}",
                                   f"/admin/cases/{case.id}/{action}", data))


@pytest.fixture()
def counted(app):
    """Count the statements the app runs while the block is open."""
    from backoffice.db import db

    statements = []

    def listen(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", listen)
    yield statements
    sa.event.remove(engine, "before_cursor_execute", listen)


def test_the_conversation_reads_newest_last_with_quotes_folded(client, session, logged_in,
                                                               make_case, app, counted):
    agent = logged_in("ops_agent")
    case = make_case(subject="Cambio de hora")
    start = utcnow() - timedelta(hours=50)
    for n in range(50):
        article = service.add_article(
            session, case=case, kind=ArticleKind.MAIL_IN if n % 2 == 0 else ArticleKind.NOTE,
            body=f"Mensaje {n}\n\nEl lunes escribió:\n> antiguo {n}", sender="ana@example.com",
            user=None if n % 2 == 0 else agent, now=start + timedelta(hours=n))
        if n == 0:
            session.add(attachments.keep(article=article, name="factura.pdf",
                                         data=b"%PDF-1.4 test", declared_type="application/pdf",
                                         upload_dir=app.config["UPLOAD_DIR"]))
    session.commit()
    counted.clear()
    text = page_of(client, case)
    assert text.index("Mensaje 0") < text.index("Mensaje 49")
    assert "<summary>Quoted text</summary>" in text
    assert "factura.pdf" in text
    # The conversation's articles, authors and attachments: a handful of statements in all.
    touching = [s for s in counted if "case_article" in s or "case_attachment" in s]
    assert len(touching) <= 3, touching


def test_a_form_with_a_bad_value_names_the_field_and_changes_nothing(client, session,
                                                                      logged_in, make_case):
    logged_in("ops_agent")
    case = make_case(subject="Original")
    session.commit()
    text = send(client, case, "update", {"subject": "Nuevo", "priority": "extreme"})
    assert "priority: unknown priority extreme" in text
    session.expire_all()
    assert case.subject == "Original"
    text = send(client, case, "call", {"direction": "in", "call_seconds": "mucho"})
    assert "call_seconds: give the duration in seconds or as m:ss" in text
    assert session.scalar(sa.select(sa.func.count()).select_from(Article)) == 0
    text = send(client, case, "link", {"entity": "invoice", "number": "999999"})
    assert "Record: there is no invoice 999999" in text  # the field named (#18)


def test_state_buttons_follow_the_workflow(client, session, logged_in, make_case, category):
    logged_in("ops_agent")
    case = make_case()
    session.commit()
    text = page_of(client, case)
    assert 'data-to="pending"' in text and 'data-to="solved"' not in text  # no category yet
    send(client, case, "update", {"subject": case.subject, "priority": "high",
                                  "category_id": str(category("other").id)})
    assert 'data-to="solved"' in page_of(client, case)
    send(client, case, "state", {"to": "solved"})
    session.expire_all()
    assert case.state == CaseState.SOLVED and case.priority.value == "high"
    text = send(client, case, "state", {"to": "merged"})
    assert "state: a solved case cannot become merged" in text


def test_note_call_and_reply(client, session, logged_in, make_case):
    logged_in("ops_agent")
    case = make_case()
    session.commit()
    send(client, case, "note", {"body": "Llamar mañana"})
    send(client, case, "call", {"direction": "out", "number": "600112233",
                                "call_seconds": "2:05", "outcome": "no_answer", "body": "Nada"})
    send(client, case, "reply", {"body": "Hola, ya está cambiado."})
    session.expire_all()
    kinds = [(a.kind.value, a.public) for a in case.articles]
    assert kinds == [("note", False), ("call_out", True), ("mail_out", True)]
    call = case.articles[1]
    assert (call.call_to, call.call_seconds, call.call_outcome) == ("600112233", 125, "no_answer")
    text = page_of(client, case)
    assert "2:05" in text and "no answer" in text and "Llamar mañana" in text


def test_a_macro_fills_the_reply_and_its_changes_apply_on_send(client, session, logged_in,
                                                               make_case, factories, category):
    logged_in("ops_agent")
    case = make_case(requester=factories.client(name="Lucía Sanz"))
    macro = Macro(name="Gracias", body_es="Hola {{ first_name }}, caso {{ case_number }}.",
                  body_en="Hi {{ first_name }}.", set_state="pending", add_tags="respondido",
                  set_category=category("other"))
    bad = Macro(name="Rota", body_es="{{ nadie }}", body_en="x")
    session.add_all([macro, bad])
    session.commit()
    resp = client.get(f"/admin/cases/{case.id}/macro/{macro.id}")
    assert resp.get_json() == {"body": f"Hola Lucía, caso {case.number}."}
    resp = client.get(f"/admin/cases/{case.id}/macro/{bad.id}")
    assert resp.status_code == 422 and "nadie" in resp.get_json()["error"]
    send(client, case, "reply", {"body": "Hola Lucía, editado.", "macro_id": str(macro.id)})
    session.expire_all()
    assert case.state == CaseState.PENDING and case.tag_names == ["respondido"]
    assert case.articles[-1].body == "Hola Lucía, editado."


def test_a_refused_reply_keeps_the_agents_text_and_sends_nothing(client, session, logged_in,
                                                                 make_case):
    """A macro that solves a case without a category was refused and the typed reply lost."""
    from backoffice.models import OutboxMessage

    logged_in("ops_agent")
    case = make_case()
    solve = Macro(name="Cerrar", body_es="Hola.", body_en="Hi.", set_state="solved")
    session.add(solve)
    session.commit()
    outbox = session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    text = send(client, case, "reply", {"body": "Texto largo que escribí con cuidado.",
                                        "macro_id": str(solve.id)})
    assert "choose what the case is about before solving it" in text
    assert "Texto largo que escribí con cuidado.</textarea>" in text
    session.expire_all()
    assert case.state == CaseState.NEW and case.articles == []
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == outbox


def test_merge_same_requester_only(client, session, logged_in, make_case, factories):
    logged_in("ops_agent")
    ana = factories.client()
    source = make_case(requester=ana, subject="Primera")
    target = make_case(requester=ana, subject="Segunda")
    stranger = make_case(subject="Otra persona")
    service.add_article(session, case=source, kind="mail_in", body="hola")
    session.commit()
    text = send(client, source, "merge", {"target": stranger.number})
    assert "only cases of the same requester are merged" in text
    send(client, source, "merge", {"target": target.number})
    session.expire_all()
    assert source.state == CaseState.MERGED and source.merged_into_id == target.id
    assert [a.body for a in target.articles] == ["hola"]
    assert f"C-{target.id:06d}" in page_of(client, source)


def test_link_and_unlink(client, session, logged_in, make_case, factories):
    logged_in("ops_agent")
    case = make_case()
    other = make_case(subject="Relacionada")
    booking = factories.request()
    session.commit()
    send(client, case, "link", {"entity": "service_request", "number": str(booking.id)})
    send(client, case, "link", {"entity": "case", "number": other.number})
    text = page_of(client, case)
    assert f"/admin/service_request/details/?id={booking.id}" in text
    assert f"/admin/cases/{other.id}" in text
    assert f"{other.number} Relacionada</a>" in text  # named, not numbered only
    assert case.number in page_of(client, other)  # shown both ways: a related case
    send(client, case, "unlink", {"entity": "service_request", "entity_id": str(booking.id)})
    assert [(ln.entity, ln.entity_id) for ln in service.links_of(session, case)] == [
        ("case", str(other.id))]


def test_a_contact_is_linked_to_the_person_suggested(client, session, logged_in, make_case,
                                                     factories):
    logged_in("ops_agent")
    contact = service.contact_for(session, email="pepa@example.org")
    case = make_case(requester=contact)
    pepa = factories.client(name="Pepa Llorens", email="pepa@example.org")
    session.commit()
    assert "Pepa Llorens" in page_of(client, case)
    send(client, case, "requester", {"person": f"client:{pepa.id}"})
    session.expire_all()
    assert case.client_id == pepa.id


def test_an_attachment_downloads_as_a_file_and_is_audited(client, session, logged_in,
                                                          make_case, app):
    logged_in("ops_agent")
    case = make_case()
    article = service.add_article(session, case=case, kind="mail_in", body="adjunto")
    row = attachments.keep(article=article, name="<script>.pdf", data=b"%PDF-1.4 hola",
                           declared_type="text/html", upload_dir=app.config["UPLOAD_DIR"])
    session.add(row)
    session.commit()
    resp = client.get(f"/admin/cases/attachment/{row.id}")
    assert resp.status_code == 200 and resp.data == b"%PDF-1.4 hola"
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "case_attachment", AuditEvent.action == "download")) == 1


def test_attachments_and_pages_of_hidden_cases_are_not_found(client, session, logged_in,
                                                              make_case, app):
    case = make_case()
    article = service.add_article(session, case=case, kind="mail_in", body="adjunto")
    row = attachments.keep(article=article, name="a.pdf", data=b"%PDF-1.4",
                           declared_type="application/pdf", upload_dir=app.config["UPLOAD_DIR"])
    session.add(row)
    session.commit()
    logged_in("finance")
    assert client.get(f"/admin/cases/attachment/{row.id}").status_code == 404
    assert client.get(f"/admin/cases/{case.id}/macro/1").status_code == 404


def test_a_case_opened_by_hand_from_an_escalation(client, session, logged_in, category):
    me = logged_in("ops_agent")
    text = html.unescape(post_from(client, "/admin/cases/new", "/admin/cases/new", {
        "channel": "escalation", "subject": "", "phone": "600 99 88 77"}))
    assert "subject: say what the case is about" in text
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    text = html.unescape(post_from(client, "/admin/cases/new", "/admin/cases/new", {
        "channel": "escalation", "subject": "No vino la profesional", "phone": "600 99 88 77",
        "level1_agent": "Marta (call center)", "summary": "La clienta espera desde las 9.",
        "category_id": str(category("no_show").id), "assign_me": "1"}))
    case = session.scalars(sa.select(Case)).one()
    assert f"Case {case.number} opened." in text
    assert case.assignee_id == me.id and case.level1_agent == "Marta (call center)"
    assert [(a.kind.value, a.public) for a in case.articles] == [("summary", False)]
    assert case.contact.phone == "+34600998877"


@pytest.mark.parametrize("locale, said", [
    ("es", "no guardado: demasiado grande: 28,6 MB, el límite es 10 MB"),
    ("en", "not kept: too large: 28.6 MB, the limit is 10 MB"),
])
def test_a_part_not_kept_says_why_in_the_readers_language(client, session, make_user, login,
                                                           make_case, app, locale, said):
    login(make_user("ops_agent", locale=locale))
    case = make_case(subject="Vídeo")
    article = service.add_article(session, case=case, kind=ArticleKind.MAIL_IN, body="Mirad",
                                  sender="ana@example.com", now=utcnow())
    session.add(attachments.keep(article=article, name="video.pdf",
                                 data=b"%PDF-1.4" + b"0" * 30_000_000,
                                 declared_type="application/pdf",
                                 upload_dir=app.config["UPLOAD_DIR"]))
    session.commit()

    assert said in page_of(client, case)
