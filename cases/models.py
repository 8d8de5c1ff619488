"""Cases of the level-2 desk: the case, its conversation, its links, and what the desk is tuned by.

A case's requester is a client, a professional, or an unknown sender or caller kept as a
Contact until an agent links them. Links point at any record of the marketplace by entity name
and id (service_request, professional, invoice, client, case), so this domain never imports
billing or vetting, and each of those records can list its cases through one index.
"""

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.db import Base, utcnow
from backoffice.models import Client, Professional, StaffUser, _enum


class CaseState(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the requester
    ON_HOLD = "on_hold"  # waiting on a third party
    SOLVED = "solved"
    CLOSED = "closed"
    MERGED = "merged"


class CasePriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class CaseChannel(enum.StrEnum):
    MAIL = "mail"
    PHONE = "phone"
    ESCALATION = "escalation"  # from the level-1 call center, with its agent's summary
    PANEL = "panel"


class ArticleKind(enum.StrEnum):
    MAIL_IN = "mail_in"
    MAIL_OUT = "mail_out"
    CALL_IN = "call_in"
    CALL_OUT = "call_out"
    NOTE = "note"
    SUMMARY = "summary"  # the call center's summary when it escalated


class RawMailStatus(enum.StrEnum):
    THREADED = "threaded"  # stored as an article of a case
    IGNORED = "ignored"  # stopped by the loop guard: never a case, never an answer
    QUARANTINED = "quarantined"  # could not become a case; its reason says why


class CaseCategory(Base):
    """What a case is about; the admin edits the list. team: who besides ops works these."""

    __tablename__ = "case_category"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_es: Mapped[str] = mapped_column(sa.String(80))
    name_en: Mapped[str] = mapped_column(sa.String(80))
    # "finance" for billing questions and payment disputes; None: ops (and admin) only.
    team: Mapped[str | None] = mapped_column(sa.String(20))
    active: Mapped[bool] = mapped_column(default=True)
    sort: Mapped[int] = mapped_column(default=0)

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_es

    def __str__(self) -> str:
        return self.name_es


class Contact(Base):
    """An unknown sender or caller, kept until an agent links them to a client or professional."""

    __tablename__ = "case_contact"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(120))
    email: Mapped[str | None] = mapped_column(sa.String(254), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32), index=True)  # E.164
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"#{self.id}"


class Case(Base):
    __tablename__ = "case"
    __audited__ = True
    # Clocks that move with every message: the trail records the messages and states instead.
    __audit_ignored__ = frozenset({
        "state_entered_at", "first_response_at", "last_response_at", "awaiting_since",
        "first_response_due_at", "next_response_due_at", "resolution_due_at", "next_due_at",
        "sla_policy_id", "assigned_at", "solved_at", "closed_at", "sla_warned", "sla_breached"})
    __table_args__ = (
        sa.Index("ix_case_state_assignee", "state", "assignee_id"),
        sa.Index("ix_case_assignee_assigned", "assignee_id", "assigned_at"),  # round-robin
        sa.Index("ix_case_team_state", "team", "state"),
        sa.Index("ix_case_due", "state", "next_due_at"),
        sa.Index("ix_case_updated", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(sa.String(255))
    state: Mapped[CaseState] = mapped_column(_enum(CaseState, "case_state"),
                                             default=CaseState.NEW)
    priority: Mapped[CasePriority] = mapped_column(_enum(CasePriority, "case_priority"),
                                                   default=CasePriority.NORMAL)
    channel: Mapped[CaseChannel] = mapped_column(_enum(CaseChannel, "case_channel"))
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_category.id"))
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("client.id"), index=True)
    professional_id: Mapped[int | None] = mapped_column(sa.ForeignKey("professional.id"),
                                                        index=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_contact.id"), index=True)
    # The requester's language for replies and acknowledgements.
    language: Mapped[str] = mapped_column(sa.String(5), default="es")
    team: Mapped[str] = mapped_column(sa.String(20), default="ops_agent")
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    assigned_at: Mapped[datetime | None]
    level1_agent: Mapped[str | None] = mapped_column(sa.String(120))  # call-center escalations
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    state_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    solved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"))
    follows_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"))  # reply to closed
    # SLA: the policy applied and the due times it gives (cases.sla computes them from the
    # calendar and the state history; None while the clock is paused or the target is met).
    sla_policy_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_sla_policy.id"))
    first_response_at: Mapped[datetime | None]
    last_response_at: Mapped[datetime | None]  # the last public reply to the requester
    awaiting_since: Mapped[datetime | None]  # the requester's oldest unanswered message
    first_response_due_at: Mapped[datetime | None]
    next_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    next_due_at: Mapped[datetime | None]  # the earliest of the three, for queues and the sweep
    # Comma-separated targets ("first_response,resolution") warned at 75% / breached at 100%.
    sla_warned: Mapped[str] = mapped_column(sa.String(80), default="")
    sla_breached: Mapped[str] = mapped_column(sa.String(80), default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    category: Mapped[CaseCategory | None] = relationship()
    client: Mapped[Client | None] = relationship()
    professional: Mapped[Professional | None] = relationship()
    contact: Mapped[Contact | None] = relationship()
    assignee: Mapped[StaffUser | None] = relationship()
    articles: Mapped[list["Article"]] = relationship(back_populates="case",
                                                     order_by="Article.id")
    tags: Mapped[list["CaseTag"]] = relationship(cascade="all, delete-orphan",
                                                 order_by="CaseTag.name")
    visits: Mapped[list["CaseStateVisit"]] = relationship(cascade="all, delete-orphan",
                                                          order_by="CaseStateVisit.id")

    @property
    def number(self) -> str:
        return format_number(self.id)

    @property
    def requester(self):
        return self.client or self.professional or self.contact

    @property
    def requester_kind(self) -> str:
        if self.client_id:
            return "client"
        if self.professional_id:
            return "professional"
        return "contact"

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"


def format_number(case_id: int) -> str:
    """Return a case's number as agents read it: C-000123."""
    return f"C-{case_id:06d}"


class CaseTag(Base):
    __tablename__ = "case_tag"

    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"),
                                         primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)


class CaseStateVisit(Base):
    """One stay of a case in a state: the SLA clock pauses over pending and on-hold stays."""

    __tablename__ = "case_state_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"),
                                         index=True)
    state: Mapped[CaseState] = mapped_column(_enum(CaseState, "case_state"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None]
    actor: Mapped[str] = mapped_column(sa.String(120))
    note: Mapped[str | None] = mapped_column(sa.Text)


class CaseLink(Base):
    """A case points at a record (service_request, professional, invoice, client, case)."""

    __tablename__ = "case_link"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "entity", "entity_id", name="uq_case_link"),
        sa.Index("ix_case_link_entity", "entity", "entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Article(Base):
    """One interaction of a case: a mail in or out, a call in or out, a note, a summary."""

    __tablename__ = "case_article"
    __table_args__ = (sa.Index("ix_case_article_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id"))
    kind: Mapped[ArticleKind] = mapped_column(_enum(ArticleKind, "case_article_kind"))
    public: Mapped[bool] = mapped_column(default=True)  # internal notes never leave the house
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    sender: Mapped[str | None] = mapped_column(sa.String(254))  # address, number or name
    recipients: Mapped[str | None] = mapped_column(sa.Text)
    subject: Mapped[str | None] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(sa.Text, default="")  # plain text
    body_html: Mapped[str | None] = mapped_column(sa.Text)  # as received; sanitised to show
    message_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(sa.String(255))
    references: Mapped[str | None] = mapped_column(sa.Text)
    raw_mail_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_raw_mail.id"))
    outbox_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_message.id"))
    # Calls: who called whom, how long, how it ended.
    call_from: Mapped[str | None] = mapped_column(sa.String(40))
    call_to: Mapped[str | None] = mapped_column(sa.String(40))
    call_seconds: Mapped[int | None]
    call_outcome: Mapped[str | None] = mapped_column(sa.String(40))

    case: Mapped[Case] = relationship(back_populates="articles")
    author: Mapped[StaffUser | None] = relationship()
    attachments: Mapped[list["Attachment"]] = relationship(back_populates="article",
                                                           order_by="Attachment.id")


class Attachment(Base):
    """A file of a mail, kept like a vetting document: private storage, random name, sniffed."""

    __tablename__ = "case_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("case_article.id"), index=True)
    original_name: Mapped[str] = mapped_column(sa.String(120))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    stored_name: Mapped[str | None] = mapped_column(sa.String(60))  # None: refused, see note
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    note: Mapped[str | None] = mapped_column(sa.String(255))  # why it was not kept

    article: Mapped[Article] = relationship(back_populates="attachments")


class RawMail(Base):
    """Every fetched message, raw, once: (source, source_key) is a mailbox and its UID or file."""

    __tablename__ = "case_raw_mail"
    __table_args__ = (
        sa.UniqueConstraint("source", "source_key", name="uq_case_raw_mail_source"),
        sa.Index("ix_case_raw_mail_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(120))
    source_key: Mapped[str] = mapped_column(sa.String(255))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    raw: Mapped[bytes] = mapped_column(sa.LargeBinary)
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    from_address: Mapped[str | None] = mapped_column(sa.String(254))
    subject: Mapped[str | None] = mapped_column(sa.String(255))
    status: Mapped[RawMailStatus] = mapped_column(_enum(RawMailStatus, "case_raw_mail_status"))
    reason: Mapped[str | None] = mapped_column(sa.String(255))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"))


class Mailbox(Base):
    """A mailbox the desk reads: where fetching stands and whether it is reachable."""

    __tablename__ = "case_mailbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(120), unique=True)
    uidvalidity: Mapped[str | None] = mapped_column(sa.String(40))
    last_uid: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(255))
    failures: Mapped[int] = mapped_column(default=0)


class SlaPolicy(Base):
    """Targets in business minutes for a priority (and optionally a category)."""

    __tablename__ = "case_sla_policy"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    priority: Mapped[CasePriority] = mapped_column(_enum(CasePriority, "case_priority"))
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_category.id"))
    first_response_minutes: Mapped[int]
    next_response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)

    category: Mapped[CaseCategory | None] = relationship()

    def __str__(self) -> str:
        return self.name


class BusinessHours(Base):
    """One opening span of a weekday (0 Monday) in the desk's time zone; several per day allowed."""

    __tablename__ = "case_business_hours"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int]
    opens: Mapped[time]
    closes: Mapped[time]


class ClosedDay(Base):
    """A day the desk is closed besides the national and Valencian holidays."""

    __tablename__ = "case_closed_day"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    note: Mapped[str | None] = mapped_column(sa.String(120))


class Macro(Base):
    """A canned reply (or an outbound call's script) in ES and EN, with optional changes."""

    __tablename__ = "case_macro"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="reply")  # reply | call_script
    body_es: Mapped[str] = mapped_column(sa.Text)
    body_en: Mapped[str] = mapped_column(sa.Text)
    set_state: Mapped[str | None] = mapped_column(sa.String(20))
    set_category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_category.id"))
    add_tags: Mapped[str | None] = mapped_column(sa.String(255))  # comma-separated
    outcomes: Mapped[str | None] = mapped_column(sa.String(255))  # call scripts: comma-separated
    active: Mapped[bool] = mapped_column(default=True)

    set_category: Mapped[CaseCategory | None] = relationship()

    def __str__(self) -> str:
        return self.name


class SavedFilter(Base):
    """A queue filter an agent named and keeps as a link."""

    __tablename__ = "case_saved_filter"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_user.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    query: Mapped[str] = mapped_column(sa.String(1000))
