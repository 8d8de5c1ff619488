"""The nightly close: each past service that took place is marked done; doubtful ones are held.

A service is doubtful while a complaint or a no-show was recorded against it (vetting's
incidents) or a complaint case about it is active (the case desk). Those wait for an agent on
the "yesterday's services" page; invoicing bills only what is done. The domains import the
core, never the reverse: their tables are read by name, and a table that is not there holds
nothing.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from backoffice.db import is_postgres
from backoffice.models import RequestStatus, ServiceRequest
from backoffice.services import requests

S = RequestStatus
# pg_try_advisory_xact_lock key: "close the day's services" (any constant unique in the project).
LOCK_KEY = 0x5E7C1053
CLOSABLE = (S.ASSIGNED, S.CONFIRMED, S.IN_PROGRESS)
LOCAL = ZoneInfo("Europe/Madrid")  # start_at is stored as Madrid wall-clock time
# cases.workflow.ACTIVE, spelled out so the core does not import the case desk (a test checks).
ACTIVE_CASE_STATES = ("new", "open", "pending", "on_hold")
COMPLAINT_CATEGORY = "service_complaint"
# Why a service is held, by code (the page words them).
REASONS = {"complaint": "A complaint was recorded",
           "no_show": "A no-show was reported",
           "complaint_case": "A complaint case about it is open"}

_incident = sa.table("vetting_incident", sa.column("service_request_id"), sa.column("kind"))
_case = sa.table("case", sa.column("id"), sa.column("state"), sa.column("category_id"))
_link = sa.table("case_link", sa.column("case_id"), sa.column("entity"), sa.column("entity_id"))
_category = sa.table("case_category", sa.column("id"), sa.column("code"))


def local(now: datetime) -> datetime:
    """Return now as the naive Madrid wall-clock time start_at is stored in."""
    return now if now.tzinfo is None else now.astimezone(LOCAL).replace(tzinfo=None)


def holds(session: Session, *, ids: list[int]) -> dict[int, list[str]]:
    """Return, for each of ids that must wait for an agent, the codes of why (REASONS)."""
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    tables = set(sa.inspect(session.connection()).get_table_names())
    if "vetting_incident" in tables:
        for request_id, kind in session.execute(
                sa.select(_incident.c.service_request_id, _incident.c.kind).distinct()
                .where(_incident.c.service_request_id.in_(ids),
                       _incident.c.kind.in_(("complaint", "no_show")))):
            found.setdefault(request_id, []).append(kind)
    if {"case", "case_link", "case_category"} <= tables:
        for (entity_id,) in session.execute(
                sa.select(_link.c.entity_id).distinct()
                .join(_case, _case.c.id == _link.c.case_id)
                .join(_category, _category.c.id == _case.c.category_id)
                .where(_link.c.entity == "service_request",
                       _link.c.entity_id.in_([str(i) for i in ids]),
                       _category.c.code == COMPLAINT_CATEGORY,
                       _case.c.state.in_(ACTIVE_CASE_STATES))):
            found.setdefault(int(entity_id), []).append("complaint_case")
    return {i: sorted(codes) for i, codes in found.items()}


def _ended(session: Session, *, now: datetime, day: date | None = None):
    """Return the closable services that ended by now (local), of day if one is given."""
    query = (sa.select(ServiceRequest).options(joinedload(ServiceRequest.client))
             .where(ServiceRequest.status.in_(CLOSABLE), ServiceRequest.start_at < now)
             .order_by(ServiceRequest.start_at, ServiceRequest.id))
    if day is not None:
        start = datetime.combine(day, datetime.min.time())
        query = query.where(ServiceRequest.start_at >= start,
                            ServiceRequest.start_at < start + timedelta(days=1))
    return [r for r in session.scalars(query)
            if r.start_at + timedelta(minutes=r.duration_min) <= now]


def close_day(session: Session, *, now: datetime) -> dict | None:
    """Mark each past service done unless it is held; None if another run holds the lock."""
    if is_postgres(session) and not session.scalar(
            sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}):
        return None
    now = local(now)
    due = _ended(session, now=now)
    held_for = holds(session, ids=[r.id for r in due])
    done, held = [], []
    for row in due:
        if row.id in held_for:
            held.append({"id": row.id, "reasons": held_for[row.id]})
        else:
            requests.complete(session, request=row, now=now)  # the one door
            done.append(row.id)
    return {"done": done, "held": held}


def held_on(session: Session, *, day: date, now: datetime) -> list[tuple[ServiceRequest, list]]:
    """Return the services of day, ended by now, still open and held, with the reasons."""
    rows = _ended(session, now=local(now), day=day)
    held_for = holds(session, ids=[r.id for r in rows])
    return [(r, held_for[r.id]) for r in rows if r.id in held_for]
