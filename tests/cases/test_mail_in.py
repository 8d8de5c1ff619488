"""Mail in through a real Dovecot: cases from mail, threading, the loop guard, bad input."""

import os
import stat
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice.models import OutboxMessage
from cases import attachments, mail_in
from cases.models import (
    Article,
    ArticleKind,
    Attachment,
    Case,
    CaseState,
    Mailbox,
    RawMail,
    RawMailStatus,
)
from tests.cases.dovecot import PDF, address, dovecot_fixture, imap_box_fixture, mail  # noqa: F401

NOW = datetime(2026, 12, 7, 10, 0)


@pytest.fixture()
def config(imap_box, tmp_path):
    return {"MAIL_IMAP_URL": imap_box.url, "MAIL_FROM": "Desk <desk@backoffice.example>",
            "UPLOAD_DIR": str(tmp_path / "uploads"), "MAIL_FETCH_BATCH": 3}


def fetch(session, config, now=NOW):
    return mail_in.fetch(session, now=now, config=config)


def raws(session) -> list[RawMail]:
    return list(session.scalars(sa.select(RawMail).order_by(RawMail.id)))


def case_of(session, raw: RawMail) -> Case:
    return session.get(Case, raw.case_id)


def acks(session, to: str) -> list[OutboxMessage]:
    return list(session.scalars(sa.select(OutboxMessage).where(
        OutboxMessage.to_address == to, OutboxMessage.template == "cases/ack")))


def test_a_mail_becomes_a_case_of_the_client_it_came_from(session, factories, imap_box,
                                                          config):
    client = factories.client(email=address("lucia"))
    imap_box.append(mail(sender=f"Lucía <{client.email.upper()}>", subject="Cambio de hora",
                         html="<p>Hola</p><script>alert(1)</script>"))

    counts = fetch(session, config)

    assert counts["new_cases"] == 1 and counts["threaded"] == 1 and counts["errors"] == 0
    [raw] = raws(session)
    case = case_of(session, raw)
    assert raw.status == RawMailStatus.THREADED
    assert case.client_id == client.id and case.channel == "mail"
    assert case.subject == "Cambio de hora" and case.state == CaseState.NEW
    [article] = case.articles[:1]
    assert article.kind == ArticleKind.MAIL_IN and article.sender == client.email.lower()
    assert "jueves" in article.body and article.raw_mail_id == raw.id
    [ack] = acks(session, client.email.lower())
    assert case.number in ack.subject
    assert ack.headers["Auto-Submitted"] == "auto-replied"
    assert ack.headers["X-Loop"] == "desk@backoffice.example"
    assert ack.headers["In-Reply-To"] == raw.message_id
    box = session.scalar(sa.select(Mailbox).where(Mailbox.source == imap_box.source))
    assert box.last_ok_at == NOW and box.failures == 0 and box.last_uid == 1


def test_an_unknown_sender_is_kept_as_a_contact(session, imap_box, config):
    sender = address("nuevo")
    imap_box.append(mail(sender=f"Pepe Nuevo <{sender}>", headers={"Content-Language": "en"}))
    fetch(session, config)
    case = case_of(session, raws(session)[0])
    assert case.contact.email == sender and case.contact.name == "Pepe Nuevo"
    assert case.language == "en"


@pytest.mark.parametrize("how", ["token", "in_reply_to", "references"])
def test_an_answer_threads_into_its_case(session, factories, imap_box, config, how):
    client = factories.client(email=address("ana"))
    imap_box.append(mail(sender=client.email, message_id="<first@mail.example.org>"))
    fetch(session, config)
    case = case_of(session, raws(session)[0])
    answer = {"token": dict(subject=f"Re: Cambio de hora [{case.number}]"),
              "in_reply_to": dict(subject="Re: otra cosa",
                                  in_reply_to="<first@mail.example.org>"),
              "references": dict(subject="Re: otra cosa",
                                 references="<x@y> <first@mail.example.org>")}[how]
    imap_box.append(mail(sender=client.email, body="Mejor el viernes.", **answer))

    counts = fetch(session, config, NOW + timedelta(minutes=5))

    assert counts == {**counts, "fetched": 1, "threaded": 1, "new_cases": 0}
    assert case_of(session, raws(session)[1]).id == case.id
    assert [a.body for a in case.articles if a.kind == ArticleKind.MAIL_IN][-1] == \
        "Mejor el viernes."
    assert len(acks(session, client.email)) == 1  # no acknowledgement for an answer


def test_a_strangers_mail_with_someone_elses_token_opens_its_own_case(session, factories,
                                                                       imap_box, config):
    client = factories.client(email=address("ana"))
    imap_box.append(mail(sender=client.email, message_id="<ana-1@mail.example.org>"))
    fetch(session, config)
    case = case_of(session, raws(session)[0])
    stranger = address("intruso")
    imap_box.append(mail(sender=stranger, subject=f"Re: [{case.number}] dame datos",
                         in_reply_to="<ana-1@mail.example.org>"))

    fetch(session, config)

    raw = raws(session)[1]
    other = case_of(session, raw)
    assert other.id != case.id and other.contact.email == stranger
    assert "not a party" in raw.reason
    assert all(a.sender != stranger for a in case.articles)


def test_a_reply_to_a_solved_case_reopens_it_and_to_a_closed_one_follows_it(
        session, factories, imap_box, config, category):
    from cases import service, workflow

    client = factories.client(email=address("ana"))
    imap_box.append(mail(sender=client.email))
    fetch(session, config)
    case = case_of(session, raws(session)[0])
    service.update(session, case=case, category=category("other"), now=NOW)
    workflow.transition(session, case=case, to=CaseState.SOLVED, now=NOW)
    imap_box.append(mail(sender=client.email, subject=f"Re: [{case.number}] sigue mal"))
    fetch(session, config, NOW + timedelta(hours=1))
    assert case.state == CaseState.OPEN

    workflow.transition(session, case=case, to=CaseState.SOLVED, now=NOW + timedelta(hours=2))
    workflow.transition(session, case=case, to=CaseState.CLOSED, now=NOW + timedelta(days=8))
    imap_box.append(mail(sender=client.email, subject=f"Re: [{case.number}] otra vez"))
    fetch(session, config, NOW + timedelta(days=9))
    new = case_of(session, raws(session)[2])
    assert new.id != case.id and new.follows_id == case.id and new.client_id == client.id


LOOPS = {
    "auto-replied": {"headers": {"Auto-Submitted": "auto-replied"}},
    "auto-generated": {"headers": {"Auto-Submitted": "auto-generated"}},
    "bulk": {"headers": {"Precedence": "bulk"}},
    "list": {"headers": {"Precedence": "list"}},
    "junk": {"headers": {"Precedence": "junk"}},
    "x-loop ours": {"headers": {"X-Loop": "desk@backoffice.example"}},
    "x-loop other": {"headers": {"X-Loop": "helpdesk@elsewhere.example"}},
    "mailer-daemon": {"sender": "MAILER-DAEMON@mx.example.org"},
    "postmaster": {"sender": "postmaster@mx.example.org"},
    "noreply": {"sender": "no-reply@shop.example.org"},
    "ourselves": {"sender": "desk@backoffice.example"},
}


def dsn(to: str) -> bytes:
    return (b"From: Mail Delivery System <bounces@mx.example.org>\r\n"
            b"To: " + to.encode() + b"\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            b"Message-ID: <dsn-1@mx.example.org>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
            b"--B\r\nContent-Type: text/plain\r\n\r\nI could not deliver your mail.\r\n"
            b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            b"Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; x@y\r\n"
            b"Action: failed\r\nStatus: 5.1.1\r\n--B--\r\n")


@pytest.mark.parametrize("kind", [*LOOPS, "dsn"])
def test_the_loop_guard_opens_nothing_and_answers_nothing(session, imap_box, config, kind):
    cases_before = session.scalar(sa.select(sa.func.count()).select_from(Case))
    outbox_before = session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    if kind == "dsn":
        imap_box.append(dsn("desk@backoffice.example"))
    else:
        kw = {"sender": address("persona"), **LOOPS[kind]}
        imap_box.append(mail(**kw))

    counts = fetch(session, config)

    assert counts["ignored"] == 1 and counts["new_cases"] == 0
    [raw] = raws(session)
    assert raw.status == RawMailStatus.IGNORED and raw.reason.startswith("loop guard: ")
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == cases_before
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == \
        outbox_before


def dsn_for(failed: str, delayed: str) -> bytes:
    return (b"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
            b"To: desk@backoffice.example\r\nSubject: Delivery Status Notification\r\n"
            b"Message-ID: <dsn-2@mx.example.org>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
            b"--B\r\nContent-Type: text/plain\r\n\r\nDelivery to these recipients failed.\r\n"
            b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            b"Reporting-MTA: dns; mx.example.org\r\n\r\n"
            b"Final-Recipient: rfc822; " + failed.upper().encode() + b"\r\n"
            b"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 user unknown\r\n\r\n"
            b"Final-Recipient: rfc822; " + delayed.encode() + b"\r\n"
            b"Action: delayed\r\nStatus: 4.4.1\r\n--B--\r\n")


def test_a_returned_mail_marks_the_address_that_failed_for_good(session, factories, imap_box,
                                                                config):
    gone = factories.client(email=address("gone"))
    pro = factories.professional(email=gone.email)  # the same address: both stop hearing
    slow = factories.client(email=address("slow"))
    imap_box.append(dsn_for(gone.email, slow.email))

    counts = fetch(session, config)

    assert counts["ignored"] == 1 and counts["new_cases"] == 0
    [raw] = raws(session)
    assert raw.reason == f"loop guard: delivery status notification; bounced: {gone.email}"
    session.refresh(gone), session.refresh(pro), session.refresh(slow)
    assert gone.email_failing_since is not None and pro.email_failing_since is not None
    assert slow.email_failing_since is None  # a delay is not a bounce


def test_auto_submitted_no_is_a_person(session, imap_box, config):
    imap_box.append(mail(sender=address(), headers={"Auto-Submitted": "no"}))
    assert fetch(session, config)["new_cases"] == 1


def test_at_most_one_acknowledgement_per_sender_per_hour(session, imap_box, config):
    sender = address("prisa")
    imap_box.append(mail(sender=sender, subject="Uno"))
    fetch(session, config, NOW)
    imap_box.append(mail(sender=sender, subject="Dos"))
    fetch(session, config, NOW + timedelta(minutes=59))
    assert len(acks(session, sender)) == 1
    imap_box.append(mail(sender=sender, subject="Tres"))
    counts = fetch(session, config, NOW + timedelta(minutes=61))
    assert counts["new_cases"] == 1 and counts["acknowledged"] == 1
    assert len(acks(session, sender)) == 2


BROKEN_MIME = (b"From: roto@mail.example.org\r\nSubject: Factura\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed\r\n\r\n--nothing\r\nhello\r\n")
UNKNOWN_CHARSET = (b"From: raro@mail.example.org\r\nSubject: =?x-klingon?q?Qapla?=\r\n"
                   b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=x-klingon\r\n"
                   b"Content-Transfer-Encoding: 8bit\r\n\r\nNecesito cambiar la cita \xf1\r\n")
NO_FROM = b"To: desk@backoffice.example\r\nSubject: sin remitente\r\n\r\nHola\r\n"
GARBAGE = b"\x00\xff\xfe" * 100


def nested(sender: str) -> bytes:
    inner = mail(sender="jefe@empresa.example", subject="Presupuesto", body="Adjunto la oferta",
                 files=(("oferta.pdf", "application/pdf", PDF),))
    return (b"From: " + sender.encode() + b"\r\nSubject: Fwd: Presupuesto\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"X\"\r\n\r\n"
            b"--X\r\nContent-Type: text/plain\r\n\r\nMirad esto.\r\n"
            b"--X\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--X--\r\n")


def test_bad_mail_becomes_what_can_be_read_or_quarantine_and_never_blocks(
        session, imap_box, config):
    config["MAIL_ATTACHMENT_MAX_BYTES"] = 100_000
    big = os.urandom(300_000)
    sender = address("nested")
    imap_box.append(BROKEN_MIME, UNKNOWN_CHARSET, NO_FROM, GARBAGE, nested(sender),
                    mail(sender=address("big"), files=(("scan.pdf", "application/pdf",
                                                        PDF + big),)),
                    mail(sender=address("fine"), subject="Todo bien"))

    counts = fetch(session, config)

    assert counts["fetched"] == 7 and counts["errors"] == 0
    broken, charset, no_from, garbage, fwd, oversized, fine = raws(session)
    assert broken.status == RawMailStatus.THREADED
    assert "hello" in case_of(session, broken).articles[0].body
    assert charset.status == RawMailStatus.THREADED
    assert "cambiar la cita" in case_of(session, charset).articles[0].body
    assert no_from.status == RawMailStatus.QUARANTINED and no_from.reason.startswith("from:")
    assert no_from.raw.startswith(b"To: desk")
    assert garbage.status == RawMailStatus.QUARANTINED and garbage.reason
    body = case_of(session, fwd).articles[0]
    assert "Mirad esto." in body.body and "Adjunto la oferta" in body.body
    assert "From: jefe@empresa.example" in body.body
    assert [a.content_type for a in body.attachments] == ["application/pdf"]
    [att] = case_of(session, oversized).articles[0].attachments
    assert att.stored_name is None and att.size > 100_000
    assert attachments.refused_reason(att.note)[0] == attachments.REFUSED["too_large"]
    assert big in oversized.raw.replace(b"\r\n", b"") or len(oversized.raw) > 300_000
    assert fine.status == RawMailStatus.THREADED
    assert session.scalar(sa.select(Mailbox.last_uid).where(
        Mailbox.source == imap_box.source)) == 7


def test_a_thirty_megabyte_attachment_is_noted_not_stored(session, imap_box, config):
    imap_box.append(mail(sender=address("huge"),
                         files=(("video.pdf", "application/pdf", PDF + b"0" * 30_000_000),)))
    fetch(session, config)
    [raw] = raws(session)
    [att] = case_of(session, raw).articles[0].attachments
    assert raw.status == RawMailStatus.THREADED and len(raw.raw) > 30_000_000
    assert att.stored_name is None
    assert attachments.refused_reason(att.note) == (attachments.REFUSED["too_large"],
                                                    {"size": 28.6, "limit": 10})


def test_attachments_are_stored_privately_by_their_content_type(session, imap_box, config):
    imap_box.append(mail(sender=address("docs"), files=(
        ("factura.exe", "application/octet-stream", PDF),
        ("../../etc/passwd", "text/plain", b"root:x:0:0\n"),
        ("virus.bin", "application/octet-stream", b"MZ\x90\x00\x03\x00\x00\x00" * 10))))
    fetch(session, config)
    article = case_of(session, raws(session)[0]).articles[0]
    pdf, text, exe = article.attachments
    assert (pdf.original_name, pdf.content_type) == ("factura.exe", "application/pdf")
    path = attachments.stored_path(config["UPLOAD_DIR"], pdf.stored_name)
    assert path.parent.name == "cases" and path.read_bytes() == PDF
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert text.original_name == "passwd" and text.content_type == "text/plain"
    assert exe.stored_name is None
    assert attachments.refused_reason(exe.note) == (attachments.REFUSED["type"], {})
    with pytest.raises(ValueError):
        attachments.stored_path(config["UPLOAD_DIR"], "../../etc/passwd")


def test_each_message_is_fetched_once(session, imap_box, config):
    imap_box.append(*(mail(sender=address(), subject=f"Mail {i}") for i in range(5)))
    assert fetch(session, config)["new_cases"] == 5
    assert fetch(session, config)["fetched"] == 0
    # A second scheduler that has not seen the first one's progress reads the same UIDs.
    session.execute(sa.update(Mailbox).where(Mailbox.source == imap_box.source)
                    .values(last_uid=0))
    counts = fetch(session, config)
    assert counts["fetched"] == 5 and counts["duplicate"] == 5 and counts["new_cases"] == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(RawMail)) == 5


def test_an_unreachable_mailbox_is_recorded_and_retried(session, config):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config["MAIL_IMAP_URL"] = f"imap://desk:pw@127.0.0.1:{port}/INBOX"
    assert fetch(session, config)["errors"] == 1
    counts = fetch(session, config, NOW + timedelta(minutes=1))
    assert counts["errors"] == 1
    box = session.scalar(sa.select(Mailbox).where(Mailbox.source == "imap:desk@127.0.0.1/INBOX"))
    assert box.failures == 2 and box.last_ok_at is None
    assert box.last_attempt_at == NOW + timedelta(minutes=1)
    assert "Connection refused" in box.last_error or "Errno" in box.last_error


def test_a_wrong_password_is_recorded(session, imap_box, config):
    config["MAIL_IMAP_URL"] = imap_box.url.replace(":imap-secret@", ":wrong@")
    assert fetch(session, config)["errors"] == 1
    box = session.scalar(sa.select(Mailbox).where(Mailbox.source == imap_box.source))
    assert box.failures == 1 and box.last_error


def test_a_maildir_is_read_and_its_files_filed_as_seen(session, tmp_path, config):
    import mailbox

    folder = tmp_path / "inbox"
    box = mailbox.Maildir(str(folder))
    for i in range(3):
        box.add(mail(sender=address(), subject=f"Maildir {i}"))
    config = {**config, "MAIL_IMAP_URL": "", "MAIL_INBOX_MAILDIR": str(folder)}

    assert fetch(session, config)["new_cases"] == 3
    assert not os.listdir(folder / "new")
    assert all(name.endswith(":2,S") for name in os.listdir(folder / "cur"))
    assert fetch(session, config)["fetched"] == 0
    keys = set(session.scalars(sa.select(RawMail.source_key)))
    assert keys == {name.split(":")[0] for name in os.listdir(folder / "cur")}


def test_a_missing_maildir_is_recorded(session, tmp_path, config):
    config = {**config, "MAIL_IMAP_URL": "", "MAIL_INBOX_MAILDIR": str(tmp_path / "nope")}
    assert fetch(session, config)["errors"] == 1
    assert session.scalar(sa.select(Mailbox.failures)) == 1


def test_a_backlog_is_drained_in_one_fetch(session, imap_box, config):
    config["MAIL_FETCH_BATCH"] = 50
    imap_box.append(*(mail(sender=address(), subject=f"Atraso {i}") for i in range(120)))
    counts = fetch(session, config)
    assert counts["new_cases"] == 120 and counts["fetched"] == 120
    assert session.scalar(sa.select(sa.func.count()).select_from(Article).where(
        Article.kind == ArticleKind.MAIL_IN)) >= 120
    assert session.scalar(sa.select(sa.func.count()).select_from(Attachment)) >= 0


@pytest.fixture()
def own_database(database_url, tmp_path):
    """Yield the URL of a migrated database of this test's own, whose commits stay there."""
    from backoffice import migrate
    from backoffice.db import make_engine

    if not database_url.startswith("postgresql"):
        url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
        migrate.upgrade(url)
        yield url
        return
    base, name = database_url.rsplit("/", 1)
    url = f"{base}/{name}_mailrace"
    admin = make_engine(f"{base}/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}_mailrace" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}_mailrace"'))
    migrate.upgrade(url)
    yield url
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}_mailrace" WITH (FORCE)'))
    admin.dispose()


def test_two_schedulers_racing_store_and_thread_each_mail_once(own_database, imap_box,
                                                               config):
    import threading

    from backoffice import audit
    from backoffice.db import make_engine, make_sessionmaker

    imap_box.append(*(mail(sender=address(), subject=f"Carrera {i}") for i in range(8)))
    config["MAIL_FETCH_BATCH"] = 2
    engine = make_engine(own_database)
    factory = make_sessionmaker(engine)
    start, results, failures = threading.Barrier(2), [], []

    def scheduler(n: int) -> None:
        try:
            with factory() as s, audit.acting_as(audit.Actor(None, f"system:fetch{n}")):
                start.wait()
                results.append(mail_in.fetch(s, now=NOW, config=config))
                s.commit()
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=scheduler, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert not failures, failures
        assert sum(r["new_cases"] for r in results) == 8
        assert sum(r["fetched"] - r["duplicate"] for r in results) == 8
        with factory() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(RawMail)) == 8
            assert s.scalar(sa.select(sa.func.count()).select_from(Case)) == 8
            assert s.scalar(sa.select(sa.func.count()).select_from(Mailbox)) == 1
            assert s.scalar(sa.select(Mailbox.last_uid)) == 8
    finally:
        engine.dispose()


def test_the_same_mail_twice_is_threaded_once(session, imap_box, config):
    sender = address("doble")
    same = mail(sender=sender, message_id="<twice@mail.example.org>")
    imap_box.append(same, same)
    counts = fetch(session, config)
    first, second = raws(session)
    assert counts["new_cases"] == 1 and counts["ignored"] == 1
    assert second.status == RawMailStatus.IGNORED and second.case_id == first.case_id
    assert second.reason.startswith("already received")


def test_handed_over_mails_are_flagged_seen_on_the_server(session, imap_box, config):
    """A person who opens the desk's mailbox sees which mails the back office has taken."""
    from imap_tools import AND, MailBoxUnencrypted

    imap_box.append(*(mail(sender=address(), subject=f"Mail {i}") for i in range(4)))
    assert fetch(session, config)["new_cases"] == 4
    from tests.cases.dovecot import PASSWORD

    server = imap_box.server
    with MailBoxUnencrypted(server.host, server.port).login(imap_box.user, PASSWORD) as box:
        assert len(list(box.uids(AND(seen=True)))) == 4
        assert list(box.uids(AND(seen=False))) == []
