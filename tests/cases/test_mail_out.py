"""Mail out: an agent's reply leaves through the outbox and SMTP with the conversation's headers,
and the requester's answer to it threads back; internal notes never leave the house."""

import mailbox
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice import mail
from backoffice.i18n import Refusal
from backoffice.mailsink import MailSink
from backoffice.models import OutboxMessage
from cases import mail_in, mail_out, service
from cases.models import ArticleKind, Case, RawMail
from tests.cases.dovecot import (  # noqa: F401  (fixtures)
    address,
    dovecot_fixture,
    imap_box_fixture,
)
from tests.cases.dovecot import mail as make_mail

NOW = datetime(2026, 12, 7, 10, 0)
FROM = "Desk <desk@backoffice.example>"


@pytest.fixture()
def sink(tmp_path):
    s = MailSink(maildir=tmp_path / "sink").start()
    yield s
    s.stop()


def delivered(session, sink, tmp_path) -> list:
    mail.deliver(session, host="127.0.0.1", port=sink.port, sender=FROM)
    return sorted(mailbox.Maildir(str(tmp_path / "sink")), key=lambda m: "-ack." not in
                  m["Message-ID"])


def test_a_reply_reaches_the_requester_and_the_answer_threads_back(
        session, factories, make_user, imap_box, sink, tmp_path):
    agent = make_user("ops_agent")
    client = factories.client(email=address("marta"), language="en")
    config = {"MAIL_IMAP_URL": imap_box.url, "MAIL_FROM": FROM,
              "UPLOAD_DIR": str(tmp_path / "up")}
    imap_box.append(make_mail(sender=client.email, subject="Broken dishwasher",
                              message_id="<q1@mail.example.org>"))
    mail_in.fetch(session, now=NOW, config=config)
    case = session.get(Case, session.scalar(sa.select(RawMail.case_id)))

    article = mail_out.reply(session, case=case, body="We send someone tomorrow.", user=agent,
                             now=NOW + timedelta(minutes=5), mail_from=FROM)

    assert article.kind == ArticleKind.MAIL_OUT and article.outbox_id
    assert case.first_response_at == NOW + timedelta(minutes=5)
    ack, sent = delivered(session, sink, tmp_path)
    assert ack["Auto-Submitted"] == "auto-replied" and ack["X-Loop"] == "desk@backoffice.example"
    assert sent["To"] == client.email
    assert sent["Subject"] == f"Re: Broken dishwasher [{case.number}]"
    assert sent["Message-ID"] == article.message_id
    assert article.message_id.startswith(f"<case-{case.id}-article-{article.id}.")
    assert article.message_id.endswith("@backoffice.example>")
    assert sent["In-Reply-To"] == "<q1@mail.example.org>"
    assert sent["References"] == "<q1@mail.example.org>"
    assert sent["Auto-Submitted"] is None
    text = sent.get_payload(decode=True).decode()
    assert "We send someone tomorrow." in text and "Operations team" in text  # in English

    # The client answers from a mail program that drops the token from the subject.
    imap_box.append(make_mail(sender=client.email, subject="Re: Broken dishwasher",
                              in_reply_to=sent["Message-ID"],
                              references=f"<q1@mail.example.org> {sent['Message-ID']}",
                              body="Thanks, 10:00 is fine."))
    counts = mail_in.fetch(session, now=NOW + timedelta(hours=1), config=config)
    assert counts["threaded"] == 1 and counts["new_cases"] == 0
    assert case.articles[-1].body == "Thanks, 10:00 is fine."


def test_a_reply_in_spanish_for_a_spanish_case(session, make_case, make_user):
    case = make_case(requester=service.contact_for(session, email=address("pepa")))
    mail_out.reply(session, case=case, body="Mañana vamos.", user=make_user("ops_agent"),
                   now=NOW, mail_from=FROM)
    row = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.entity_id == str(case.id)))
    assert "Equipo de operaciones" in row.body and row.subject.endswith(f"[{case.number}]")
    assert "In-Reply-To" not in row.headers  # nothing to answer yet: a conversation starts


def test_an_internal_note_never_leaves_the_house(session, make_case, make_user):
    case = make_case()
    before = session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    note = mail_out.reply(session, case=case, body="El cliente es difícil", public=False,
                          user=make_user("ops_agent"), now=NOW)
    assert note.kind == ArticleKind.NOTE and not note.public and note.outbox_id is None
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == before


def test_a_requester_without_email_is_refused(session, make_case, make_user):
    case = make_case(requester=service.contact_for(session, phone="+34 600 111 222"))
    with pytest.raises(Refusal, match="^requester: .* has no email"):
        mail_out.reply(session, case=case, body="Hola", user=make_user("ops_agent"), now=NOW)


def test_an_empty_reply_is_refused(session, make_case, make_user):
    with pytest.raises(Refusal, match="^body:"):
        mail_out.reply(session, case=make_case(), body="  ", user=make_user("ops_agent"))


def test_the_outbox_sends_only_known_headers(session):
    with pytest.raises(ValueError, match="headers"):
        mail.enqueue_message(session, to="a@b.example", subject="x", body="y",
                             headers={"Bcc": "spy@evil.example"})
