"""Mail through an outbox table: written in the cause's transaction, delivered over SMTP later."""

import smtplib
from email.message import EmailMessage
from pathlib import Path

import jinja2
import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.db import utcnow
from backoffice.models import OutboxMessage

ROOT = Path(__file__).resolve().parent.parent
# Each domain keeps its templates in <package>/mail_templates/<name>.<lang>.txt;
# the first line is "Subject: ...", the rest the body.
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(
        [str(ROOT / pkg / "mail_templates") for pkg in ("backoffice", "vetting", "billing")]
    ),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def render(template: str, lang: str, context: dict) -> tuple[str, str]:
    """Render a mail template in lang (falling back to Spanish) into subject and body."""
    try:
        tpl = _env.get_template(f"{template}.{lang}.txt")
    except jinja2.TemplateNotFound:
        tpl = _env.get_template(f"{template}.es.txt")
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
    if dedup_key is not None:
        existing = session.scalar(
            sa.select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)
        )
        if existing is not None:
            return None
    subject, body = render(template, lang, context or {})
    msg = OutboxMessage(
        to_address=to,
        subject=subject,
        body=body,
        template=template,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        dedup_key=dedup_key,
    )
    session.add(msg)
    session.flush()
    return msg


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
            mail = EmailMessage()
            mail["From"] = sender
            mail["To"] = m.to_address
            mail["Subject"] = m.subject
            mail["Message-ID"] = f"<outbox-{m.id}@backoffice>"
            mail.set_content(m.body)
            try:
                smtp.send_message(mail)
            except smtplib.SMTPException as exc:
                m.attempts += 1
                m.last_error = str(exc)
                continue
            m.attempts += 1
            m.sent_at = utcnow()
            sent += 1
    session.flush()
    return sent
