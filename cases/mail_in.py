"""Mail in: fetch the desk's mailbox, store each message raw once, then thread it into a case.

Dispatch as dj-stripe does with webhooks: store raw, then process once. Each message is inserted
into case_raw_mail keyed by (source, source_key) with INSERT ... ON CONFLICT DO NOTHING, so a
second scheduler fetching the same UIDs or files skips what the first one stored. Processing a
message runs in a savepoint: whatever goes wrong with one mail quarantines that mail (its raw
kept, its reason said) and the fetch goes on with the next.

fetch() commits the caller's session after every batch: MAIL_FETCH_BATCH mails (50), or fewer
once a batch has taken MAIL_FETCH_BATCH_SECONDS (0.25 s), so a backlog of a thousand mails
never holds its locks (on SQLite: the database's write lock) for longer than that and one mail,
and what is done stays done if the fetch stops half-way. It is meant for a job's own session.
"""

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.mail import mark_failing
from cases import attachments, deadlines, mail_out, mail_sources, mail_thread, service
from cases.mail_guard import machine_reason
from cases.mail_parse import Parsed, clean_subject, parse
from cases.models import (
    Article,
    ArticleKind,
    CaseState,
    Contact,
    RawMail,
    RawMailStatus,
    format_number,
)

log = logging.getLogger("cases.mail_in")
COUNTS = ("fetched", "duplicate", "threaded", "new_cases", "ignored", "quarantined",
          "acknowledged", "errors")
UNFINISHED = "not processed: the fetch stopped before this mail was done"


def fetch(session: Session, *, now: datetime, config) -> dict[str, int]:
    """Read new mail from MAIL_IMAP_URL and MAIL_INBOX_MAILDIR into cases; return the counts.

    Commits the session after each batch (see the module's doc); never raises for one bad mail
    or an unreachable mailbox: the Mailbox row says what went wrong and the next run retries."""
    counts = dict.fromkeys(COUNTS, 0)
    inbox = Inbox(session, now=now, config=config, counts=counts)
    batch = max(1, int(config.get("MAIL_FETCH_BATCH") or 50))
    seconds = float(config.get("MAIL_FETCH_BATCH_SECONDS") or 0.25)
    # The SLA calendar and policies are read once per fetch, not once per mail.
    with deadlines.fixed_settings(session, tz=config.get("BABEL_DEFAULT_TIMEZONE",
                                                         deadlines.DEFAULT_TZ)):
        if config.get("MAIL_IMAP_URL"):
            mail_sources.read_imap(session, url=config["MAIL_IMAP_URL"], handle=inbox.handle,
                                   batch=batch, seconds=seconds, now=now, counts=counts)
        if config.get("MAIL_INBOX_MAILDIR"):
            mail_sources.read_maildir(session, path=config["MAIL_INBOX_MAILDIR"],
                                      handle=inbox.handle, batch=batch, seconds=seconds,
                                      now=now, counts=counts)
    return counts


class Inbox:
    """Stores and processes one message at a time for fetch (and for the benchmark)."""

    def __init__(self, session: Session, *, now: datetime, config, counts: dict | None = None):
        self.session, self.now, self.config = session, now, config
        self.counts = counts if counts is not None else dict.fromkeys(COUNTS, 0)
        self.mail_from = config.get("MAIL_FROM") or "backoffice@example.com"
        self.our_address = _address(self.mail_from)
        self.upload_dir = config.get("UPLOAD_DIR") or "uploads"
        self.max_bytes = int(config.get("MAIL_ATTACHMENT_MAX_BYTES")
                             or attachments.DEFAULT_MAX_BYTES)
        self.cap = int(config.get("CASES_MAX_OPEN_PER_AGENT") or service.DEFAULT_CAP)
        self._done: list[str] = []

    def handle(self, *, source: str, key: str, raw: bytes) -> RawMailStatus | None:
        """Store one message raw (None if already stored) and process it; return its status."""
        self.counts["fetched"] += 1
        try:
            parsed, problem = parse(raw), None
        except Exception as exc:  # the email package could not take these bytes at all
            parsed, problem = Parsed(), f"unreadable: {type(exc).__name__}: {exc}"
        raw_id = self.session.execute(_RAW_INSERT, {
            "source": source[:120], "source_key": key[:255], "received_at": self.now,
            "raw": raw, "message_id": parsed.message_id, "from_address": parsed.from_address,
            "subject": parsed.subject[:255] or None, "status": RawMailStatus.QUARANTINED.value,
            "reason": UNFINISHED}).scalar()
        if raw_id is None:
            self.counts["duplicate"] += 1
            return None
        self._done = []
        if problem is not None:
            status, reason, case_id = RawMailStatus.QUARANTINED, problem, None
        else:
            try:
                with self.session.begin_nested():
                    status, reason, case_id = self.process(raw_id, parsed)
                for name in self._done:  # counted once the savepoint holds
                    self.counts[name] += 1
            except Exception as exc:
                log.warning("mail %s:%s quarantined", source, key, exc_info=True)
                status, reason, case_id = (RawMailStatus.QUARANTINED,
                                           f"{type(exc).__name__}: {exc}", None)
        self.session.execute(_RAW_DONE, {"raw_id": raw_id, "new_status": status.value,
                                          "new_reason": (reason or None) and reason[:255],
                                          "new_case_id": case_id})
        self.counts[status.value] += 1
        return status

    def process(self, raw_id: int, parsed: Parsed) -> tuple[RawMailStatus, str | None,
                                                               int | None]:
        """Thread a stored mail into a case; return (status, reason, case id)."""
        session = self.session
        loop = machine_reason(parsed, our_address=self.our_address)
        if loop is not None:
            for address in parsed.bounced:  # mail to them bounces: no more reminders
                mark_failing(session, address)
            said = f"; bounced: {', '.join(parsed.bounced)}" if parsed.bounced else ""
            return (RawMailStatus.IGNORED, f"loop guard: {loop}{said}",
                    mail_thread.referenced_case(session, parsed))
        if not parsed.from_address:
            return RawMailStatus.QUARANTINED, "from: no sender address to answer", None
        if parsed.message_id:  # the same mail again (sent to two of our addresses, resent)
            seen = session.scalar(_SEEN, {"message_id": parsed.message_id})
            if seen is not None:
                return (RawMailStatus.IGNORED,
                        f"already received: its Message-ID is in {format_number(seen)}", seen)
        case, note = mail_thread.find_case(session, parsed)
        is_new = case is None or case.state == CaseState.CLOSED
        # Case, contact, state visit, article and attachments go in one flush: nothing in
        # between reads them back, and every flush also runs the audit trail's pass.
        with session.no_autoflush:
            if case is not None and case.state == CaseState.CLOSED:
                case = service.follow_up(session, closed=case, now=self.now,
                                         subject=clean_subject(parsed.subject) or case.subject)
                note = f"follows closed {format_number(case.follows_id)}"
            elif case is None:
                requester = service.requester_for(session, email=parsed.from_address,
                                                  name=parsed.from_name, flush=False)
                case = service.open_case(
                    session, subject=clean_subject(parsed.subject) or "(no subject)",
                    channel="mail", requester=requester, now=self.now, cap=self.cap,
                    language=parsed.language if isinstance(requester, Contact) else None,
                    flush=False)
            article = service.add_article(
                session, case=case, kind=ArticleKind.MAIL_IN, body=parsed.text, public=True,
                now=self.now, sender=parsed.from_address, recipients=parsed.to or None,
                subject=parsed.subject[:255] or None, body_html=parsed.html,
                message_id=parsed.message_id, in_reply_to=(parsed.in_reply_to or [None])[0],
                references=" ".join(parsed.references) or None, raw_mail_id=raw_id,
                flush=False)
            for part in parsed.parts:
                session.add(attachments.keep(
                    article=article, name=part.name, data=part.data, size=part.size,
                    declared_type=part.content_type, upload_dir=self.upload_dir,
                    max_bytes=self.max_bytes))
            session.flush()
            rows = [service.article_audit(article)]
            if is_new:
                self._done.append("new_cases")
                # After the flush: the acknowledgement names the case's number.
                if mail_out.acknowledge(session, case=case, to=parsed.from_address,
                                        now=self.now, in_reply_to=parsed.message_id,
                                        mail_from=self.mail_from, audit_rows=rows):
                    self._done.append("acknowledged")
            service.record_articles(session, rows)
        problems = "; ".join(dict.fromkeys(parsed.problems))
        return RawMailStatus.THREADED, "; ".join(filter(None, [note, problems])), case.id


# Text, not the dialects' insert(): their ON CONFLICT statements are never cached, and compiling
# one per mail costs more than the rest of the insert. The same SQL for SQLite and PostgreSQL.
_RAW_INSERT = sa.text(
    "INSERT INTO case_raw_mail (source, source_key, received_at, raw, message_id, from_address,"
    " subject, status, reason) VALUES (:source, :source_key, :received_at, :raw, :message_id,"
    " :from_address, :subject, :status, :reason)"
    " ON CONFLICT (source, source_key) DO NOTHING RETURNING id"
).bindparams(sa.bindparam("received_at", type_=sa.DateTime()),
             sa.bindparam("raw", type_=sa.LargeBinary())).columns(id=sa.Integer)
_SEEN = sa.select(Article.case_id).where(Article.message_id == sa.bindparam("message_id")).limit(1)
# Core, not the ORM's bulk UPDATE: no session objects to synchronise, and cached.
_RAW_DONE = (sa.update(RawMail.__table__)
             .where(RawMail.__table__.c.id == sa.bindparam("raw_id"))
             .values(status=sa.bindparam("new_status"), reason=sa.bindparam("new_reason"),
                     case_id=sa.bindparam("new_case_id")))


def _address(value: str) -> str:
    from email.utils import parseaddr

    return parseaddr(value)[1].lower() or value.lower()

