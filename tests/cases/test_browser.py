"""An agent's whole path in a real browser, in Spanish: a mail becomes a case in the queue, the
agent replies with a macro, the client's answer threads into the conversation, the agent solves
it; and the phone page's running timer logging a call."""

import re
import secrets
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backoffice.auth import create_user
from backoffice.db import utcnow
from cases.mail_in import Inbox
from cases.models import Article, ArticleKind, Case, CaseCategory, CaseState, Macro
from tests.browser_support import log_in
from tests.factories import Factories

pytestmark = pytest.mark.browser


def _mail(*, sender: str, subject: str, body: str, in_reply_to: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Carmen Soler <{sender}>"
    msg["To"] = "atencion@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg["Date"] = datetime.now().strftime("%a, %d %b %Y %H:%M:%S +0100")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes()


def _deliver(live_server, raw: bytes) -> None:
    """Hand a mail to the desk's inbound processing, as a fetch from the mailbox would."""
    with live_server.session() as s:
        Inbox(s, now=utcnow(), config=live_server.app.config).handle(
            source="browser-test", key=secrets.token_hex(8), raw=raw)


def test_an_agent_answers_a_mail_with_a_macro_and_solves_the_case(live_server, page):
    token = secrets.token_hex(3)
    email = f"carmen.{token}@example.org"
    subject = f"Cambiar la hora del martes {token}"
    with live_server.session() as s:
        create_user(s, email=f"agente.{token}@example.com", name="Agente Casos",
                    password="browser-pass-789", roles=["ops_agent"], locale="es")
        Factories(s).client(name="Carmen Soler", email=email, language="es")
        category = s.scalar(sa.select(CaseCategory).where(CaseCategory.code == "booking_change"))
        s.add(Macro(name=f"Cambio hecho {token}", body_es="Hola {{ first_name }}, hemos "
                    "cambiado la hora. Tu caso es el {{ case_number }}.",
                    body_en="Hi {{ first_name }}, done.", set_category_id=category.id,
                    add_tags="cambio-hora"))
    _deliver(live_server, _mail(sender=email, subject=subject,
                                body="Hola, ¿podéis venir a las 11 en vez de a las 9?"))

    log_in(page, live_server, f"agente.{token}@example.com", "browser-pass-789")
    page.goto(f"{live_server.url}/admin/cases/?tab=all&q={token}")
    row = page.locator("#case-queue tbody tr", has_text=subject)
    expect(row).to_have_count(1)
    expect(row.locator("[data-state]")).to_have_text("nuevo")
    row.locator("a", has_text=subject).click()
    page.wait_for_url(re.compile(r".*/admin/cases/\d+$"))
    expect(page.locator("#conversation")).to_have_text("Conversación")
    expect(page.locator("[data-kind=mail_in]").first).to_contain_text("venir a las 11")

    page.select_option("#macro-picker", label=f"Cambio hecho {token}")
    expect(page.locator("#reply-body")).to_have_value(re.compile(r"^Hola Carmen, hemos"))
    page.locator("#reply-body").press("End")
    page.locator("#reply-body").type(" Un saludo.")
    page.click("#send-reply")
    expect(page.locator(".alert-success")).to_contain_text("Respuesta enviada.")
    outbound = page.locator("[data-kind=mail_out]").last  # after the acknowledgement
    expect(outbound).to_contain_text("hemos cambiado la hora")
    expect(outbound).to_contain_text("Un saludo.")
    expect(page.locator("#case-state")).to_have_text("abierto")

    with live_server.session() as s:
        case = s.scalar(sa.select(Case).where(Case.subject == subject))
        reply_id = s.scalar(sa.select(Article.message_id).where(
            Article.case_id == case.id, Article.kind == ArticleKind.MAIL_OUT)
            .order_by(Article.id.desc()).limit(1))
        number, case_id = case.number, case.id
        assert case.category.code == "booking_change" and case.tag_names == ["cambio-hora"]
    _deliver(live_server, _mail(sender=email, subject=f"Re: [{number}] {subject}",
                                body="¡Perfecto, gracias!\n\nEl martes escribió:\n> Hola Carmen",
                                in_reply_to=reply_id))

    page.reload()
    answers = page.locator("[data-kind=mail_in]")
    expect(answers).to_have_count(2)
    expect(answers.last).to_contain_text("¡Perfecto, gracias!")
    page.click("button[data-to=solved]")
    expect(page.locator(".alert-success")).to_contain_text("Estado cambiado.")
    expect(page.locator("#case-state")).to_have_text("resuelto")
    with live_server.session() as s:
        assert s.get(Case, case_id).state == CaseState.SOLVED


def test_the_phone_page_times_the_call_and_logs_it(live_server, page):
    token = secrets.token_hex(3)
    number = "6" + str(secrets.randbelow(10**8)).zfill(8)
    with live_server.session() as s:
        create_user(s, email=f"telefono.{token}@example.com", name="Agente Teléfono",
                    password="browser-pass-790", roles=["ops_agent"], locale="es")
        Factories(s).client(name=f"Vicent Llamada {token}", phone=number)
    log_in(page, live_server, f"telefono.{token}@example.com", "browser-pass-790")
    spaced = f"{number[:3]} {number[3:5]} {number[5:7]} {number[7:]}"
    page.goto(f"{live_server.url}/admin/cases/phone?number={spaced}")
    expect(page.locator("#caller")).to_contain_text(f"Vicent Llamada {token}")
    expect(page.locator("#call-timer")).to_have_text(re.compile(r"^0:0[2-9]$"), timeout=9000)
    assert int(page.input_value("#call-seconds")) >= 2
    page.fill("input[name=subject]", f"Pregunta por la factura {token}")
    page.select_option("select[name=category_id]", label="Consulta de facturación")
    page.select_option("#call-outcome", value="solved")
    page.fill("textarea[name=body]", "Le expliqué el importe.")
    page.click("#log-call")
    expect(page.locator(".alert-success")).to_contain_text("Llamada registrada en C-")
    call = page.locator("[data-kind=call_in]")
    expect(call).to_contain_text("llamada recibida")
    expect(call).to_contain_text("resuelto en la llamada")
    with live_server.session() as s:
        case = s.scalar(sa.select(Case).where(Case.subject == f"Pregunta por la factura {token}"))
        article = case.articles[0]
        assert article.call_from == f"+34{number}" and article.call_seconds >= 2
        assert case.client.name == f"Vicent Llamada {token}"
