"""Mail from the desk to a requester: an agent's reply and the acknowledgement of a new case.

Both go through the outbox (backoffice.mail) in the case's transaction, with our own Message-ID
and the conversation's In-Reply-To / References, so the requester's answer threads back by its
headers as well as by the [C-000123] token in the subject. Internal notes never become mail.
"""

import functools
import hashlib
import os
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import mail
from backoffice.db import utcnow
from backoffice.i18n import Refusal
from backoffice.models import OutboxMessage, StaffUser
from cases import service
from cases.mail_parse import clean_subject
from cases.models import Article, ArticleKind, Case

ACK_TEMPLATE = "cases/ack"
REPLY_TEMPLATE = "cases/reply"
ACK_EVERY = timedelta(hours=1)  # at most one acknowledgement per sender in this window
MAX_REFERENCES = 10


def reply(session: Session, *, case: Case, body: str, user: StaffUser | None,
          now: datetime | None = None, public: bool = True, mail_from: str | None = None
          ) -> Article:
    """Send an agent's reply to the requester through the outbox; not public: a note, no mail."""
    now = now or utcnow()
    body = (body or "").strip()
    if not body:
        raise Refusal("body: write the reply")
    if not public:
        return service.add_article(session, case=case, kind=ArticleKind.NOTE, body=body,
                                   public=False, user=user, now=now)
    to = requester_address(case)
    mail_from = mail_from or _default_from()
    in_reply_to, references = _thread_headers(session, case)
    subject, text = mail.render(REPLY_TEMPLATE, case.language, {
        "subject": clean_subject(case.subject), "number": case.number, "body": body})
    article = service.add_article(
        session, case=case, kind=ArticleKind.MAIL_OUT, body=body, public=True, user=user,
        now=now, sender=mail_from, recipients=to, subject=subject[:255],
        in_reply_to=in_reply_to, references=" ".join(references) or None)
    article.message_id = message_id(case.id, f"article-{article.id}", mail_from)
    headers = {"Message-ID": article.message_id}
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
        headers["References"] = " ".join(references)
    outbox = mail.enqueue_message(session, to=to, subject=subject, body=text, headers=headers,
                                  entity="case", entity_id=case.id, template=REPLY_TEMPLATE)
    outbox.created_at = now
    article.outbox_id = outbox.id
    session.flush()
    return article


def acknowledge(session: Session, *, case: Case, to: str, now: datetime,
                in_reply_to: str | None = None, mail_from: str | None = None,
                audit_rows: list[dict] | None = None) -> int | None:
    """Acknowledge a new case to its sender, unless they had one within the hour: None then.

    Return the id of the conversation's article that records it. The case must be flushed (the
    mail names its number). audit_rows: collect the article's audit row there for the caller's
    service.record_articles instead of writing it now."""
    to = to.strip().lower()
    if recently_acknowledged(session, to=to, now=now):
        return None
    mail_from = mail_from or _default_from()
    subject, text = mail.render(ACK_TEMPLATE, case.language, {
        "subject": clean_subject(case.subject), "number": case.number})
    mid = message_id(case.id, "ack", mail_from)
    headers = {"Message-ID": mid, "Auto-Submitted": "auto-replied",
               "X-Loop": _address(mail_from), "X-Auto-Response-Suppress": "All"}
    if in_reply_to:
        headers["In-Reply-To"] = headers["References"] = in_reply_to
    # Two schedulers acking one sender: the outbox's unique key decides, and the loser's
    # insert does nothing instead of failing (no savepoint to pay for on every mail).
    outbox_id = session.execute(_ACK_INSERT, {
        "created_at": now, "to_address": to, "subject": " ".join(subject.split())[:255],
        "body": text, "template": ACK_TEMPLATE, "entity": "case", "entity_id": str(case.id),
        "dedup_key": _ack_key(to, now), "headers": headers}).scalar()
    if outbox_id is None:
        return None
    # Recorded in the conversation as the desk's (no user: not a response for the SLA).
    rows = audit_rows if audit_rows is not None else []
    article_id = service.add_desk_mail(
        session, case=case, now=now, audit_rows=rows, body=text, sender=mail_from,
        recipients=to, subject=subject[:255], message_id=mid, in_reply_to=in_reply_to,
        references=in_reply_to, outbox_id=outbox_id)
    if audit_rows is None:
        service.record_articles(session, rows)
    return article_id


# Text, not the dialects' insert(): their ON CONFLICT statements are never cached, and compiling
# one per mail costs more than the rest of the insert. The same SQL for SQLite and PostgreSQL.
_ACK_INSERT = sa.text(
    "INSERT INTO outbox_message (created_at, to_address, subject, body, template, entity,"
    " entity_id, dedup_key, attempts, headers) VALUES (:created_at, :to_address, :subject,"
    " :body, :template, :entity, :entity_id, :dedup_key, 0, :headers)"
    " ON CONFLICT (dedup_key) DO NOTHING RETURNING id"
).bindparams(sa.bindparam("created_at", type_=sa.DateTime()),
             sa.bindparam("headers", type_=sa.JSON())).columns(id=sa.Integer)


def recently_acknowledged(session: Session, *, to: str, now: datetime) -> bool:
    """Tell whether this address got an acknowledgement in the last hour."""
    keys = [_ack_key(to, now), _ack_key(to, now - ACK_EVERY)]
    last = session.scalar(_LAST_ACK, {"keys": keys})
    return last is not None and now - last < ACK_EVERY


_LAST_ACK = sa.select(sa.func.max(OutboxMessage.created_at)).where(
    OutboxMessage.dedup_key.in_(sa.bindparam("keys", expanding=True)))


def requester_address(case: Case) -> str:
    """Return the address replies go to, or refuse when the requester has none."""
    requester = case.requester
    for person in (requester, case.contact):
        email = (getattr(person, "email", None) or "").strip()
        if email:
            return email
    raise Refusal("requester: %(name)s has no email address; call them or add one",
                  name=str(requester or "?"))


def message_id(case_id: int, what: str, mail_from: str) -> str:
    """Return a new Message-ID of ours: <case-123-article-456.random@our domain>."""
    domain = _address(mail_from).rpartition("@")[2] or "backoffice.invalid"
    return f"<case-{case_id}-{what}.{secrets.token_hex(6)}@{domain}>"


def _thread_headers(session: Session, case: Case) -> tuple[str | None, list[str]]:
    """Return In-Reply-To and References: the requester's last mail, else our last one."""
    last = session.execute(
        sa.select(Article.message_id, Article.references)
        .where(Article.case_id == case.id, Article.message_id.is_not(None))
        .order_by((Article.kind == ArticleKind.MAIL_IN).desc(), Article.id.desc()).limit(1)
    ).first()
    if last is None:
        return None, []
    refs = [r for r in (last.references or "").split() if r != last.message_id]
    return last.message_id, [*refs, last.message_id][-MAX_REFERENCES:]


def _ack_key(to: str, when: datetime) -> str:
    # Indexed (the outbox's unique dedup_key) and one per clock hour; recently_acknowledged
    # reads this hour's and the last hour's to make it a sliding hour.
    digest = hashlib.sha256(to.encode()).hexdigest()[:32]
    return f"cases-ack:{digest}:{when:%Y%m%d%H}"


@functools.lru_cache(maxsize=16)  # the desk's own address, parsed for every acknowledgement
def _address(value: str) -> str:
    from email.utils import parseaddr

    return parseaddr(value)[1] or value


def _default_from() -> str:
    return os.environ.get("MAIL_FROM", "backoffice@example.com")
