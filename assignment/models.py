"""Plan runs (what the engine proposed, who published it) and daily coverage snapshots."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db import Base, utcnow


class RunStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for a worker (assignment.runs)
    RUNNING = "running"  # a worker is solving it
    FAILED = "failed"  # the solve did not finish: see error
    DRAFT = "draft"
    PUBLISHED = "published"
    DISCARDED = "discarded"


class RunKind(enum.StrEnum):
    MANUAL = "manual"  # an agent asked for a plan
    REPAIR = "repair"  # a professional became unavailable
    NIGHTLY = "nightly"
    DEMO = "demo"


def _enum(cls: type[enum.Enum], name: str) -> sa.Enum:
    return sa.Enum(cls, name=name, native_enum=False, create_constraint=True, length=20,
                   values_callable=lambda e: [m.value for m in e], validate_strings=True)


class PlanRun(Base):
    """One solve of the horizon: its score, the plan, and the booking state it started from."""

    __tablename__ = "plan_run"
    __table_args__ = (sa.Index("ix_plan_run_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_by: Mapped[str] = mapped_column(sa.String(120))  # email, or "system:<job>"
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    kind: Mapped[RunKind] = mapped_column(_enum(RunKind, "plan_run_kind"), default=RunKind.MANUAL)
    horizon_start: Mapped[date]
    horizon_days: Mapped[int]
    status: Mapped[RunStatus] = mapped_column(
        _enum(RunStatus, "plan_run_status"), default=RunStatus.DRAFT
    )
    # wall_s, score, plan and base are empty until the worker has solved the run
    wall_s: Mapped[float | None]
    time_limit_s: Mapped[float]
    score: Mapped[dict | None] = mapped_column(sa.JSON)
    plan: Mapped[dict | None] = mapped_column(sa.JSON)  # the engine's plan, exchange format 1
    # {"R<id>": ["P<id>", "YYYY-MM-DDTHH:MM"] or null}: bookings when the problem was built,
    # so that publishing refuses a draft whose services were changed since.
    base: Mapped[dict | None] = mapped_column(sa.JSON)
    diff_counts: Mapped[dict | None] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(sa.String(120))
    # the queue (assignment.runs): how to solve, who solves, how far it got, who stopped it
    repair: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    publish_when_done: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    affected: Mapped[list | None] = mapped_column(sa.JSON)  # a repair's lost services' ids
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(sa.String(120))  # host:pid
    progress: Mapped[dict | None] = mapped_column(sa.JSON)  # the engine's last report
    stop_requested_at: Mapped[datetime | None]
    stop_requested_by: Mapped[str | None] = mapped_column(sa.String(120))
    error: Mapped[str | None] = mapped_column(sa.Text)
    retry_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plan_run.id"))

    def __str__(self) -> str:
        return f"Plan run #{self.id}"


class PartStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for a worker (assignment.run_parts)
    RUNNING = "running"
    DONE = "done"  # its plan passed the validator on its part
    FAILED = "failed"  # see error


class PlanRunPart(Base):
    """One part of a run whose problem splits (assignment.parts): solved by any worker."""

    __tablename__ = "plan_run_part"
    __table_args__ = (sa.UniqueConstraint("run_id", "part", name="uq_plan_run_part_run_part"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_run.id", ondelete="CASCADE"))
    part: Mapped[int]  # 0, 1, ... within its run
    status: Mapped[PartStatus] = mapped_column(
        _enum(PartStatus, "plan_run_part_status"), default=PartStatus.QUEUED
    )
    requests: Mapped[int]
    professionals: Mapped[int]
    problem: Mapped[dict] = mapped_column(sa.JSON)  # the part's problem, exchange format 1
    plan: Mapped[dict | None] = mapped_column(sa.JSON)  # its plan once done
    worker: Mapped[str | None] = mapped_column(sa.String(120))  # host:pid
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    progress: Mapped[dict | None] = mapped_column(sa.JSON)  # the engine's last report
    error: Mapped[str | None] = mapped_column(sa.Text)


class CoverageSnapshot(Base):
    """Coverage of one service day, zone and skill, as seen on the day it was taken."""

    __tablename__ = "coverage_snapshot"
    __table_args__ = (
        sa.UniqueConstraint("taken_on", "day", "zone", "skill", name="uq_coverage_snapshot_key"),
        sa.CheckConstraint("covered <= requests", name="covered_le_requests"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    taken_on: Mapped[date] = mapped_column(index=True)
    day: Mapped[date]
    zone: Mapped[str] = mapped_column(sa.String(40))  # "" when the request has no zone
    skill: Mapped[str] = mapped_column(sa.String(20))
    requests: Mapped[int]
    covered: Mapped[int]
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plan_run.id", ondelete="SET NULL"))
