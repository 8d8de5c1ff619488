"""Entities that several domains use: clients, professionals, service requests, staff, audit."""

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from backoffice.db import Base, utcnow
from backoffice.phones import normalise as normalise_phone

SKILLS = ("cleaning", "ironing", "elderly_care", "childcare", "gardening")
LANGUAGES = ("es", "en", "ca", "fr", "de")
ROLES = ("ops_agent", "vetting", "finance", "admin")


def _enum(cls: type[enum.Enum], name: str) -> sa.Enum:
    return sa.Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class ClientStatus(enum.StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"  # blocked for non-payment
    ERASED = "erased"


class ProfessionalStatus(enum.StrEnum):
    APPLICANT = "applicant"
    APPROVED = "approved"
    SUSPENDED = "suspended"
    OFFBOARDED = "offboarded"


class RequestStatus(enum.StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    CONFIRMED = "confirmed"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Recurrence(enum.StrEnum):
    ONE_OFF = "one_off"
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Client(Timestamped, Base):
    __tablename__ = "client"
    __label_columns__ = ("name",)  # what __str__ reads: a record page loads only these
    __audited__ = True
    __table_args__ = (
        sa.CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="lat_range"),
        sa.CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name="lon_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), index=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    # The phone in E.164, kept by _phone_e164 below: how the phone page finds a caller.
    phone_e164: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(255))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    zone: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    language: Mapped[str] = mapped_column(sa.String(5), default="es")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[ClientStatus] = mapped_column(
        _enum(ClientStatus, "client_status"), default=ClientStatus.ACTIVE, index=True
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    # How many service requests the client has: kept by triggers on service_request
    # (migration 0006) in the same transaction as each change; the application never writes it.
    request_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set when this client was merged into another (backoffice.services.merge): the row stays
    # as a pointer to the one kept, and lists and search leave it out.
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("client.id"), index=True)
    reminders_opt_out: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Since when mail to this address bounces; reminders stop until an agent fixes it.
    email_failing_since: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @validates("phone")
    def _phone_e164(self, _key, value):
        self.phone_e164 = normalise_phone(value)
        return value

    def __str__(self) -> str:
        return self.name


professional_excluded_client = sa.Table(
    "professional_excluded_client",
    Base.metadata,
    sa.Column("professional_id", sa.ForeignKey("professional.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("client_id", sa.ForeignKey("client.id", ondelete="CASCADE"), primary_key=True),
)


class Professional(Timestamped, Base):
    __tablename__ = "professional"
    __label_columns__ = ("name",)  # what __str__ reads: a record page loads only these
    __audited__ = True
    __table_args__ = (
        sa.CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="lat_range"),
        sa.CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name="lon_range"),
        sa.CheckConstraint("max_minutes_per_week >= 0", name="max_minutes_nonnegative"),
        sa.CheckConstraint("rating IS NULL OR (rating BETWEEN 0 AND 5)", name="rating_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), index=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    # The phone in E.164, kept by _phone_e164 below: how the phone page finds a caller.
    phone_e164: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(255))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    zone: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    language: Mapped[str] = mapped_column(sa.String(5), default="es")
    # Comma-separated skill codes from SKILLS; small, and filterable with LIKE on both databases.
    skills: Mapped[str] = mapped_column(sa.String(120), default="")
    max_minutes_per_week: Mapped[int] = mapped_column(default=2400)
    status: Mapped[ProfessionalStatus] = mapped_column(
        _enum(ProfessionalStatus, "professional_status"),
        default=ProfessionalStatus.APPLICANT,
        index=True,
    )
    rating: Mapped[float | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    erased_at: Mapped[datetime | None]  # personal data erased (backoffice.erasure)
    reminders_opt_out: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    email_failing_since: Mapped[datetime | None]  # mail to this address bounces since then
    version: Mapped[int] = mapped_column(default=1)

    shifts: Mapped[list["WorkingShift"]] = relationship(
        back_populates="professional", cascade="all, delete-orphan", order_by="WorkingShift.weekday"
    )
    time_off: Mapped[list["TimeOff"]] = relationship(
        back_populates="professional", cascade="all, delete-orphan", order_by="TimeOff.starts_on"
    )
    excluded_clients: Mapped[list[Client]] = relationship(secondary=professional_excluded_client)

    __mapper_args__ = {"version_id_col": version}

    @property
    def skill_list(self) -> list[str]:
        return [s for s in self.skills.split(",") if s]

    @skill_list.setter
    def skill_list(self, value: list[str]) -> None:
        self.skills = ",".join(s for s in SKILLS if s in set(value))

    @validates("phone")
    def _phone_e164(self, _key, value):
        self.phone_e164 = normalise_phone(value)
        return value

    def __str__(self) -> str:
        return self.name


class WorkingShift(Base):
    """One stretch of the weekly working pattern; two on one weekday make a split shift."""

    __tablename__ = "working_shift"
    __audited__ = True
    __table_args__ = (
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        sa.CheckConstraint("end_time > start_time", name="end_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    professional_id: Mapped[int] = mapped_column(
        sa.ForeignKey("professional.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]  # 0 = Monday
    start_time: Mapped[time]
    end_time: Mapped[time]

    professional: Mapped[Professional] = relationship(back_populates="shifts")

    def __str__(self) -> str:
        day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[self.weekday]
        return f"{day} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class TimeOff(Base):
    __tablename__ = "time_off"
    __audited__ = True
    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="ends_after_starts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    professional_id: Mapped[int] = mapped_column(
        sa.ForeignKey("professional.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str | None] = mapped_column(sa.String(200))

    professional: Mapped[Professional] = relationship(back_populates="time_off")

    def __str__(self) -> str:
        return f"{self.starts_on} – {self.ends_on}"


class ServiceRequest(Timestamped, Base):
    __tablename__ = "service_request"
    __audited__ = True
    __table_args__ = (
        sa.CheckConstraint("duration_min > 0", name="duration_positive"),
        sa.CheckConstraint("window_end >= window_start", name="window_ordered"),
        sa.CheckConstraint("priority >= 1", name="priority_positive"),
        sa.CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="lat_range"),
        sa.CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name="lon_range"),
        sa.CheckConstraint("price_cents IS NULL OR price_cents >= 0", name="price_nonnegative"),
        # The list pages sort by date; these keep first pages and deep pages index-only.
        sa.Index("ix_service_request_date_id", "service_date", "id"),
        sa.Index("ix_service_request_status_date_id", "status", "service_date", "id"),
        sa.Index("ix_service_request_client_date", "client_id", "service_date", "id"),
        sa.Index("ix_service_request_professional_start", "professional_id", "start_at"),
        sa.Index("ix_service_request_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("client.id"))
    skill: Mapped[str] = mapped_column(sa.String(20))
    address: Mapped[str | None] = mapped_column(sa.String(255))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    zone: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    service_date: Mapped[date]
    window_start: Mapped[time]
    window_end: Mapped[time]
    duration_min: Mapped[int]
    priority: Mapped[int] = mapped_column(default=1)
    recurrence: Mapped[Recurrence] = mapped_column(
        _enum(Recurrence, "recurrence"), default=Recurrence.ONE_OFF
    )
    series_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    preferred_professional_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("professional.id")
    )
    status: Mapped[RequestStatus] = mapped_column(
        _enum(RequestStatus, "request_status"), default=RequestStatus.NEW
    )
    professional_id: Mapped[int | None] = mapped_column(sa.ForeignKey("professional.id"))
    start_at: Mapped[datetime | None]  # local wall-clock time of the booked start
    end_at: Mapped[datetime | None]
    pinned: Mapped[bool] = mapped_column(default=False)
    price_cents: Mapped[int | None]
    cancellation_reason: Mapped[str | None] = mapped_column(sa.String(200))
    version: Mapped[int] = mapped_column(default=1)

    client: Mapped[Client] = relationship()
    professional: Mapped[Professional | None] = relationship(
        foreign_keys=[professional_id]
    )
    preferred_professional: Mapped[Professional | None] = relationship(
        foreign_keys=[preferred_professional_id]
    )

    __mapper_args__ = {"version_id_col": version}

    def __str__(self) -> str:
        return f"#{self.id} {self.skill} {self.service_date}"


class StaffUser(Base):
    __tablename__ = "staff_user"
    __label_columns__ = ("name",)  # what __str__ reads: a record page loads only these
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    roles: Mapped[str] = mapped_column(sa.String(80), default="")  # comma-separated ROLES
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(sa.String(5), default="es")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Set only by the CLI or a seed (the demo's users): no second factor even where the role
    # requires one. The panel's user form does not offer it.
    mfa_exempt: Mapped[bool] = mapped_column(default=False, server_default="0")
    # The TOTP columns are written by backoffice.totp with Core statements, never through the
    # ORM, so the audit trail records that a factor changed and never the secret or the hashes.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))  # set before enrolment ends
    totp_enrolled_at: Mapped[datetime | None]
    totp_last_counter: Mapped[int | None] = mapped_column(sa.BigInteger)  # refuses a replay
    totp_recovery_hashes: Mapped[str | None] = mapped_column(sa.Text)  # sha256 hex, spaced

    @property
    def role_set(self) -> set[str]:
        return {r for r in self.roles.split(",") if r}

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set & set(roles))

    def __str__(self) -> str:
        return self.name


class AuditEvent(Base):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_entity", "entity", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    actor: Mapped[str] = mapped_column(sa.String(120))  # email, or "system:<job>"
    entity: Mapped[str] = mapped_column(sa.String(60))
    entity_id: Mapped[str | None] = mapped_column(sa.String(60))
    action: Mapped[str] = mapped_column(sa.String(40))
    changes: Mapped[dict | None] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.Text)
    # Set when an erasure replaced a person's values in changes or note (backoffice.erasure).
    redacted_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A mail waiting for, or done with, SMTP delivery; written in its cause's transaction."""

    __tablename__ = "outbox_message"
    __table_args__ = (sa.UniqueConstraint("dedup_key", name="uq_outbox_message_dedup_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(sa.Text)
    template: Mapped[str] = mapped_column(sa.String(80))
    entity: Mapped[str | None] = mapped_column(sa.String(60))
    entity_id: Mapped[str | None] = mapped_column(sa.String(60))
    # The same cause never mails twice: e.g. "dunning:inv42:day3".
    dedup_key: Mapped[str | None] = mapped_column(sa.String(160))
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # Extra headers for mails that belong to a conversation (the case desk's Message-ID,
    # In-Reply-To, References, Auto-Submitted); None for plain notices.
    headers: Mapped[dict | None] = mapped_column(sa.JSON)
    # A text/calendar part to send with the mail (a booking's notice), as data that
    # backoffice.mail.calendar_text makes into iCalendar when it sends; migration 0011.
    calendar: Mapped[dict | None] = mapped_column(sa.JSON)


class Task(Base):
    """A piece of work for a team: a call to make, a document to chase, a service to re-cover."""

    __tablename__ = "task"
    __audited__ = True
    __table_args__ = (
        sa.Index("ix_task_role_status_due", "role", "status", "due_at"),
        sa.UniqueConstraint("dedup_key", name="uq_task_dedup_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(20))  # the team that owns it: one of ROLES
    kind: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(255))
    details: Mapped[str | None] = mapped_column(sa.Text)
    entity: Mapped[str | None] = mapped_column(sa.String(60))
    entity_id: Mapped[str | None] = mapped_column(sa.String(60))
    dedup_key: Mapped[str | None] = mapped_column(sa.String(160))
    due_at: Mapped[datetime | None]
    status: Mapped[TaskStatus] = mapped_column(
        _enum(TaskStatus, "task_status"), default=TaskStatus.OPEN
    )
    assigned_to_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.Text)
    # title and details as message keys with values, worded per reader (backoffice.i18n.keyed)
    message: Mapped[dict | None] = mapped_column(sa.JSON)

    def __str__(self) -> str:
        return self.title


class InteractionKind(enum.StrEnum):
    CALL_IN = "call_in"
    CALL_OUT = "call_out"
    NOTE = "note"


class Interaction(Base):
    """A call with, or a note about, a client or professional outside any case: their timeline."""

    __tablename__ = "interaction"
    __audited__ = True
    __table_args__ = (
        sa.Index("ix_interaction_client_at", "client_id", "at"),
        sa.Index("ix_interaction_professional_at", "professional_id", "at"),
        sa.CheckConstraint("client_id IS NOT NULL OR professional_id IS NOT NULL",
                           name="about_someone"),
        sa.CheckConstraint("duration_s IS NULL OR duration_s >= 0", name="duration_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[InteractionKind] = mapped_column(_enum(InteractionKind, "interaction_kind"))
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("client.id"))
    professional_id: Mapped[int | None] = mapped_column(sa.ForeignKey("professional.id"))
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    body: Mapped[str | None] = mapped_column(sa.Text)
    phone: Mapped[str | None] = mapped_column(sa.String(32))  # the number called or calling
    duration_s: Mapped[int | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(40))  # a code, worded when shown
    # What the call or note is about, by entity code and id (billing_invoice 12, case 7).
    entity: Mapped[str | None] = mapped_column(sa.String(60))
    entity_id: Mapped[str | None] = mapped_column(sa.String(60))

    staff: Mapped[StaffUser | None] = relationship()


class DuplicateSuggestion(Base):
    """Two live clients that look like one person, found by the nightly duplicate search."""

    __tablename__ = "client_duplicate"

    first_id: Mapped[int] = mapped_column(sa.ForeignKey("client.id", ondelete="CASCADE"),
                                          primary_key=True)
    second_id: Mapped[int] = mapped_column(sa.ForeignKey("client.id", ondelete="CASCADE"),
                                           primary_key=True)
    reasons: Mapped[str] = mapped_column(sa.String(60))  # comma-separated: phone,email,...
    score: Mapped[int] = mapped_column(index=True)  # how many reasons
    found_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffSession(Base):
    """A server-side login session: the cookie holds only its random token, hashed here."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))

    user: Mapped[StaffUser] = relationship()


class LoginAttempt(Base):
    __tablename__ = "login_attempt"
    __table_args__ = (sa.Index("ix_login_attempt_email_at", "email", "at"),
                      sa.Index("ix_login_attempt_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    email: Mapped[str] = mapped_column(sa.String(254))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    success: Mapped[bool]
    # "password" or "code" (the second factor): wrong codes lock an email whatever the address,
    # since only someone who knew the password could send them.
    step: Mapped[str] = mapped_column(sa.String(10), default="password",
                                      server_default="password")
