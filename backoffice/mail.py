"""Mail through an outbox table: written in the cause's transaction, delivered over SMTP later."""

import functools
import smtplib
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.db import utcnow
from backoffice.models import Client, OutboxMessage, Professional

ROOT = Path(__file__).resolve().parent.parent
# Each domain keeps its templates in <package>/mail_templates/<name>.<lang>.txt;
# the first line is "Subject: ...", the rest the body.
TEMPLATE_PACKAGES = ("backoffice", "vetting", "billing", "cases", "notifications")


@functools.cache
def _templates():
    import jinja2  # loaded on the first mail: a job that writes none never pays for it

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(
            [str(ROOT / pkg / "mail_templates") for pkg in TEMPLATE_PACKAGES]
        ),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(template: str, lang: str, context: dict) -> tuple[str, str]:
    """Render a mail template in lang (falling back to Spanish) into subject and body."""
    import jinja2

    env = _templates()
    try:
        tpl = env.get_template(f"{template}.{lang}.txt")
    except jinja2.TemplateNotFound:
        tpl = env.get_template(f"{template}.es.txt")
    text = tpl.render(**context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"mail template {template}: first line must be 'Subject: ...'")
    return first[len("Subject:") :].strip(), body.lstrip("\n")


def enqueue(
    session: Session,
    *,
    to: str,
    template: str,
    lang: str = "es",
    context: dict | None = None,
    entity: str | None = None,
    entity_id=None,
    dedup_key: str | None = None,
) -> OutboxMessage | None:
    """Put a mail in the outbox; a dedup_key already there means it was queued before: None."""
    if dedup_key is not None and _queued(session, dedup_key):
        return None  # rendered only when it will be sent
    subject, body = render(template, lang, context or {})
    return enqueue_message(session, to=to, subject=subject, body=body, entity=entity,
                           entity_id=entity_id, dedup_key=dedup_key, template=template)


def enqueue_many(session: Session, mails: list[dict]) -> int:
    """Put template mails in the outbox in one statement; return how many were new.

    Each mail is a dict of enqueue's keywords (to, template, lang, context, entity, entity_id,
    dedup_key), and optionally calendar (a text/calendar part, see calendar_text). For a
    job that mails hundreds at once, where a query and a flush per mail would cost seconds."""
    keys = [m["dedup_key"] for m in mails if m.get("dedup_key")]
    queued: set[str] = set()
    for i in range(0, len(keys), 1000):
        queued.update(session.scalars(sa.select(OutboxMessage.dedup_key)
                                      .where(OutboxMessage.dedup_key.in_(keys[i:i + 1000]))))
    rows = []
    for m in mails:
        key = m.get("dedup_key")
        if key is not None and key in queued:
            continue
        queued.add(key)
        subject, body = render(m["template"], m.get("lang", "es"), m.get("context") or {})
        rows.append({"to_address": m["to"], "subject": subject, "body": body,
                     "template": m["template"], "entity": m.get("entity"),
                     "entity_id": None if m.get("entity_id") is None else str(m["entity_id"]),
                     "dedup_key": key, "calendar": m.get("calendar")})
    if rows:
        session.execute(sa.insert(OutboxMessage), rows)
    return len(rows)


def _queued(session: Session, dedup_key: str) -> bool:
    return session.scalar(sa.select(OutboxMessage.id)
                          .where(OutboxMessage.dedup_key == dedup_key)) is not None


# The headers a queued mail may carry (OutboxMessage.headers): a conversation's ids and the
# marks that keep auto-responders from answering our automatic mails.
HEADERS = ("Message-ID", "In-Reply-To", "References", "Auto-Submitted", "X-Loop", "Reply-To",
           "X-Auto-Response-Suppress", "Precedence")


def enqueue_message(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    headers: dict | None = None,
    entity: str | None = None,
    entity_id=None,
    dedup_key: str | None = None,
    template: str = "cases/reply",
) -> OutboxMessage | None:
    """Put an already written mail in the outbox, with conversation headers (see HEADERS)."""
    if dedup_key is not None and _queued(session, dedup_key):
        return None
    unknown = set(headers or ()) - set(HEADERS)
    if unknown:
        raise ValueError(f"headers: not sent from the outbox: {', '.join(sorted(unknown))}")
    msg = OutboxMessage(
        to_address=to,
        subject=" ".join(subject.split())[:255],
        body=body,
        template=template,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        dedup_key=dedup_key,
        headers=dict(headers) if headers else None,
    )
    session.add(msg)
    session.flush()
    return msg


def build(m: OutboxMessage, *, sender: str) -> EmailMessage:
    """Return the mail an outbox row stands for."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = m.to_address
    mail["Subject"] = m.subject
    mail["Date"] = formatdate(localtime=False)
    extra = {k: v for k, v in (m.headers or {}).items() if k in HEADERS and v}
    mail["Message-ID"] = extra.pop("Message-ID", None) or f"<outbox-{m.id}@backoffice>"
    for name, value in extra.items():
        mail[name] = value
    mail.set_content(m.body)
    if m.calendar:
        mail.add_attachment(calendar_text(m.calendar), subtype="calendar",
                            filename="booking.ics", params={"method": m.calendar["method"]})
    return mail


def calendar_text(part: dict) -> str:
    """Return the iCalendar text of a calendar part: {"method": ..., "events": [{"uid",
    "dtstamp", "dtstart", "dtend" (ISO, with offset), "sequence", "summary", and optionally
    "location", "status", "organizer", "attendee"}]}. Made when the mail is sent: a job that
    queues a thousand notices does not wait for a thousand calendars."""
    import icalendar  # loaded by the sender of a mail that carries one

    cal = icalendar.Calendar()
    for name, value in (("prodid", "-//backoffice//outbox//EN"), ("version", "2.0"),
                        ("method", part["method"])):
        cal.add(name, value)
    for e in part["events"]:
        event = icalendar.Event()
        for name, value in e.items():
            if value is not None:
                event.add(name, datetime.fromisoformat(value) if name.startswith("dt") else value)
        cal.add_component(event)
    return cal.to_ical().decode()


def _refused_for_good(exc: smtplib.SMTPException) -> bool:
    """Tell whether the server refused the recipient permanently (5xx): the address bounces."""
    codes = [code for code, _ in getattr(exc, "recipients", {}).values()]
    return isinstance(exc, smtplib.SMTPRecipientsRefused) and bool(codes) and min(codes) >= 500


def mark_failing(session: Session, address: str) -> None:
    """Mark the clients and professionals at address as failing since now: no more reminders."""
    for model in (Client, Professional):  # through the ORM: the audit trail records it
        for person in session.scalars(sa.select(model).where(
                model.email == address, model.email_failing_since.is_(None))):
            person.email_failing_since = utcnow()


def deliver(session: Session, *, host: str, port: int, sender: str, limit: int = 200) -> int:
    """Send unsent outbox mails over SMTP; a failure is recorded and retried on the next call."""
    query = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < 10)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    messages = list(session.scalars(query))
    if not messages:
        return 0
    sent = 0
    try:
        smtp = smtplib.SMTP(host, port, timeout=10)
    except OSError as exc:
        for m in messages:
            m.attempts += 1
            m.last_error = f"connect: {exc}"
        session.flush()
        return 0
    with smtp:
        for m in messages:
            mail = build(m, sender=sender)
            try:
                smtp.send_message(mail)
            except smtplib.SMTPException as exc:
                m.attempts += 1
                m.last_error = str(exc)
                if _refused_for_good(exc):  # retrying a 5xx cannot help
                    m.attempts = max(m.attempts, 10)
                    mark_failing(session, m.to_address)
                continue
            m.attempts += 1
            m.sent_at = utcnow()
            sent += 1
    session.flush()
    return sent
