"""The figures each team starts the day with."""

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.models import RequestStatus, ServiceRequest, Task, TaskStatus


def services_by_status(session: Session, *, start: date, end: date) -> dict[str, int]:
    """Count services dated in [start, end] per status."""
    rows = session.execute(
        sa.select(ServiceRequest.status, sa.func.count())
        .where(ServiceRequest.service_date.between(start, end))
        .group_by(ServiceRequest.status)
    )
    counts = {s.value: 0 for s in RequestStatus}
    for status, n in rows:
        counts[RequestStatus(status).value] = n
    return counts


def ops_figures(session: Session, *, today: date, now: datetime) -> dict:
    """Return today's and this week's services by status, new requests and cancellations."""
    monday = today - timedelta(days=today.weekday())
    sunday = monday + timedelta(days=6)
    week = services_by_status(session, start=monday, end=sunday)
    return {
        "today": services_by_status(session, start=today, end=today),
        "week": week,
        "week_range": (monday, sunday),
        "new_requests": session.scalar(
            sa.select(sa.func.count()).where(
                ServiceRequest.status == RequestStatus.NEW, ServiceRequest.service_date >= today
            )
        ),
        "created_last_24h": session.scalar(
            sa.select(sa.func.count()).where(ServiceRequest.created_at >= now - timedelta(days=1))
        ),
        "cancellations_week": week[RequestStatus.CANCELLED.value],
        "uncovered_next_14": session.scalar(
            sa.select(sa.func.count()).where(
                ServiceRequest.status == RequestStatus.NEW,
                ServiceRequest.service_date.between(today, today + timedelta(days=13)),
            )
        ),
    }


def open_tasks(session: Session, *, roles: set[str]) -> int:
    """Count the open tasks of the given teams."""
    return session.scalar(
        sa.select(sa.func.count()).where(Task.status == TaskStatus.OPEN, Task.role.in_(roles))
    )
