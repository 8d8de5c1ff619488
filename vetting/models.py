"""Vetting records: applications and their stage visits, documents, checks, references,
interviews and incidents recorded against professionals."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.db import Base, utcnow
from backoffice.models import Professional, StaffUser, _enum


class Stage(enum.StrEnum):
    APPLIED = "applied"
    DOCUMENTS = "documents"
    CHECKS = "checks"
    INTERVIEW = "interview"
    DECISION = "decision"
    APPROVED = "approved"
    REJECTED = "rejected"
    ON_HOLD = "on_hold"


class DocumentStatus(enum.StrEnum):
    PENDING_REVIEW = "pending_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class CheckStatus(enum.StrEnum):
    PENDING = "pending"
    CLEAR = "clear"
    CONSIDER = "consider"


class CheckKind(enum.StrEnum):
    IDENTITY = "identity"
    BACKGROUND = "background"
    REFERENCES = "references"


class InterviewOutcome(enum.StrEnum):
    PENDING = "pending"
    PASS = "pass"
    FAIL = "fail"
    NO_SHOW = "no_show"


OPEN_WHERE = "stage IN ('applied', 'documents', 'checks', 'interview', 'decision', 'on_hold')"


class Application(Base):
    """One professional's way from applicant to a decision; a re-review is a new application."""

    __tablename__ = "vetting_application"
    __audited__ = True
    __table_args__ = (
        sa.Index("ix_vetting_application_stage_entered", "stage", "stage_entered_at"),
        # At most one application per professional without a decision, even under races.
        sa.Index("uq_vetting_application_open", "professional_id", unique=True,
                 sqlite_where=sa.text(OPEN_WHERE), postgresql_where=sa.text(OPEN_WHERE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    professional_id: Mapped[int] = mapped_column(
        sa.ForeignKey("professional.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(20), default="initial")  # initial | re_review
    stage: Mapped[Stage] = mapped_column(_enum(Stage, "vetting_stage"), default=Stage.APPLIED)
    stage_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    held_from: Mapped[str | None] = mapped_column(sa.String(20))  # the stage on_hold resumes
    # Four eyes: whoever moved the application into the decision stage prepared it.
    prepared_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    decided_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(40))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    version: Mapped[int] = mapped_column(default=1)

    professional: Mapped[Professional] = relationship()
    prepared_by: Mapped[StaffUser | None] = relationship(foreign_keys=[prepared_by_id])
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])
    visits: Mapped[list["StageVisit"]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="StageVisit.id"
    )
    checks: Mapped[list["Check"]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Check.id"
    )
    references: Mapped[list["Reference"]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Reference.id"
    )
    interviews: Mapped[list["Interview"]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Interview.id"
    )

    __mapper_args__ = {"version_id_col": version}

    def __str__(self) -> str:
        return f"#{self.id} {self.stage}"


class StageVisit(Base):
    """A stretch of time an application spent in one stage."""

    __tablename__ = "vetting_stage_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("vetting_application.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[Stage] = mapped_column(_enum(Stage, "vetting_visit_stage"))
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    actor: Mapped[str] = mapped_column(sa.String(120))  # who moved it in
    note: Mapped[str | None] = mapped_column(sa.Text)

    application: Mapped[Application] = relationship(back_populates="visits")

    @property
    def seconds(self) -> float | None:
        return None if self.left_at is None else (self.left_at - self.entered_at).total_seconds()


class Document(Base):
    """A document of a professional; the file lives under UPLOAD_DIR by a random name."""

    __tablename__ = "vetting_document"
    __audited__ = True
    __table_args__ = (
        sa.Index("ix_vetting_document_status_expires", "status", "expires_on"),
        sa.CheckConstraint("expires_on IS NULL OR issued_on IS NULL OR expires_on >= issued_on",
                           name="expires_after_issue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    professional_id: Mapped[int] = mapped_column(
        sa.ForeignKey("professional.id", ondelete="CASCADE"), index=True
    )
    doc_type: Mapped[str] = mapped_column(sa.String(30))
    number: Mapped[str | None] = mapped_column(sa.String(60))
    issued_on: Mapped[date | None]
    expires_on: Mapped[date | None]  # the last day it is valid
    status: Mapped[DocumentStatus] = mapped_column(
        _enum(DocumentStatus, "vetting_document_status"), default=DocumentStatus.PENDING_REVIEW
    )
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(200))
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    reviewed_at: Mapped[datetime | None]
    stored_name: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    original_name: Mapped[str | None] = mapped_column(sa.String(120))
    content_type: Mapped[str | None] = mapped_column(sa.String(40))
    size_bytes: Mapped[int | None]
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    professional: Mapped[Professional] = relationship()

    def __str__(self) -> str:
        return f"{self.doc_type} {self.number or ''}".strip()


class Check(Base):
    __tablename__ = "vetting_check"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("application_id", "kind", name="uq_vetting_check_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("vetting_application.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[CheckKind] = mapped_column(_enum(CheckKind, "vetting_check_kind"))
    status: Mapped[CheckStatus] = mapped_column(
        _enum(CheckStatus, "vetting_check_status"), default=CheckStatus.PENDING
    )
    provider: Mapped[str] = mapped_column(sa.String(30), default="manual")
    external_ref: Mapped[str | None] = mapped_column(sa.String(80))  # e.g. certificate number
    notes: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    recorded_by_label: Mapped[str | None] = mapped_column(sa.String(120))
    recorded_at: Mapped[datetime | None]

    application: Mapped[Application] = relationship(back_populates="checks")


class Reference(Base):
    __tablename__ = "vetting_reference"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("vetting_application.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(120))
    contact: Mapped[str] = mapped_column(sa.String(254))  # phone or email
    relationship_to: Mapped[str | None] = mapped_column(sa.String(120))
    contacted_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(20))  # positive | negative
    notes: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by_label: Mapped[str | None] = mapped_column(sa.String(120))

    application: Mapped[Application] = relationship(back_populates="references")


class Interview(Base):
    __tablename__ = "vetting_interview"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("vetting_application.id", ondelete="CASCADE"), index=True
    )
    scheduled_at: Mapped[datetime]  # local wall-clock
    interviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    scorecard: Mapped[dict | None] = mapped_column(sa.JSON)
    outcome: Mapped[str] = mapped_column(sa.String(20), default=InterviewOutcome.PENDING.value)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by_label: Mapped[str | None] = mapped_column(sa.String(120))
    recorded_at: Mapped[datetime | None]

    application: Mapped[Application] = relationship(back_populates="interviews")
    interviewer: Mapped[StaffUser | None] = relationship()


class Incident(Base):
    """A complaint or a no-show recorded against a professional."""

    __tablename__ = "vetting_incident"
    __audited__ = True
    __table_args__ = (sa.Index("ix_vetting_incident_pro_on", "professional_id", "occurred_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    professional_id: Mapped[int] = mapped_column(
        sa.ForeignKey("professional.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(sa.String(20))  # complaint | no_show
    occurred_on: Mapped[date]
    service_request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_request.id"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    professional: Mapped[Professional] = relationship()
