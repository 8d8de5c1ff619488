"""A survey: sent once about one solved case or one done service, answered once by its token."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db import Base, utcnow
from backoffice.models import _enum


class SurveyStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waits for send_after
    SENT = "sent"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # the case was reopened, or the person cannot be asked


class SurveySubject(enum.StrEnum):
    CASE = "case"
    SERVICE = "service"


class Survey(Base):
    __tablename__ = "survey"
    __audited__ = True
    # The hash is as good as a key to find the survey by: it stays out of the trail and pages.
    __audit_ignored__ = frozenset({"token_hash"})
    __table_args__ = (
        sa.UniqueConstraint("dedup_key", name="uq_survey_dedup_key"),
        sa.Index("ix_survey_status_send_after", "status", "send_after"),
        sa.Index("ix_survey_answered_at", "answered_at"),
        sa.CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name="score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[SurveySubject] = mapped_column(_enum(SurveySubject, "survey_subject"))
    # "case:12:solved:3" or "service:55": the same cause is never surveyed twice.
    dedup_key: Mapped[str] = mapped_column(sa.String(80))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"), index=True)
    service_request_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("service_request.id"), index=True)
    # Who is asked: a client or a professional (a case's requester), in their language.
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("client.id"), index=True)
    professional_id: Mapped[int | None] = mapped_column(sa.ForeignKey("professional.id"))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    language: Mapped[str] = mapped_column(sa.String(5), default="es")
    # Snapshot of who is being rated, kept whatever happens to them later.
    concerned_staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    concerned_professional_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("professional.id"), index=True)
    concerned_name: Mapped[str | None] = mapped_column(sa.String(120))
    category_code: Mapped[str | None] = mapped_column(sa.String(40))  # a case's category then
    status: Mapped[SurveyStatus] = mapped_column(
        _enum(SurveyStatus, "survey_status"), default=SurveyStatus.SCHEDULED)
    # sha256 of the link's token; the token itself is only ever in the mail.
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    send_after: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    score: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.String(40))  # a code from a list, score <= 2
    # Why a survey was cancelled or never sent (0012): reopened, erased, merged, no_email...
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(40))


class SurveyHit(Base):
    """One request to the public survey page, by address: what its rate limit counts (0012)."""

    __tablename__ = "survey_hit"
    __table_args__ = (sa.Index("ix_survey_hit_ip_at", "ip", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ip: Mapped[str] = mapped_column(sa.String(64))
