"""Keep the summary rows up to date: rewrite the weeks that may have changed, and only those.

A refresh rewrites the week under way and the week before (late answers, the nightly close),
plus every week a record changed since the last refresh points at: a case's weeks of
creation, first reply and solve; a booking's week of service and of creation; the week of a
survey answer or a call. Each source keeps a watermark (figure_watermark) of how far it was
read. A week is always rewritten whole from raw rows, so a refresh run twice gives the same
rows, and a refresh that covers every week gives what a full rebuild gives. Then the periods
the page offers are summed again from the weeks' rows (figures.spans).
"""

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.db import is_postgres
from backoffice.models import Interaction, ServiceRequest
from cases.models import Article, Case
from figures import report, rollup, spans
from figures.models import FigureWatermark, FigureWeek
from surveys.models import Survey

RECENT_WEEKS = 2  # the week under way and the one before are always rewritten
SPAN_WEEKS = 8  # weeks read from raw rows in one go
HISTORY_WEEKS = 104  # the first refresh rebuilds at most this far back
# Rows committed out of order (a long transaction) are caught by reading a little behind.
OVERLAP = timedelta(minutes=10)
ID_OVERLAP = 1000
LOCK = 0xF16E0001  # pg_try_advisory_xact_lock key, unique in the project


def refresh(session: Session, *, now: datetime, since: date | None = None,
            tz: str = rollup.DEFAULT_TZ) -> dict | None:
    """Rewrite the weeks that may have changed (and every week from since); None if another
    refresh holds the lock. now is naive UTC."""
    if is_postgres(session) and not session.scalar(
            sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK}):
        return None
    current = rollup.monday(rollup.local_day(now, tz))
    marks = {m.source: m for m in session.scalars(sa.select(FigureWatermark))}
    weeks = {current - timedelta(weeks=i) for i in range(RECENT_WEEKS)}
    if since is None and not marks:
        since = _earliest(session, tz) or current
        since = max(since, current - timedelta(weeks=HISTORY_WEEKS))
    if since is not None:
        first = rollup.monday(since)
        weeks |= {first + timedelta(weeks=i)
                  for i in range((current - first).days // 7 + 1)}
    touched, seen = _touched(session, marks, tz)
    weeks |= {w for w in touched if w <= current}
    written = 0
    for run in _runs(sorted(weeks)):
        rows = rollup.compute(session, mondays=run, now=now, tz=tz)
        # The rows the page reads week by week first: they then share a few pages per week.
        rows.sort(key=lambda r: (r["week"], not report.is_weekly(r["metric"], r["dim"])))
        session.execute(sa.delete(FigureWeek).where(FigureWeek.week.in_(run)))
        if rows:
            session.execute(sa.insert(FigureWeek), rows)
        written += len(rows)
    _save_marks(session, marks, seen, now)
    spans.rebuild(session, current=current, now=now)
    session.flush()
    return {"weeks": len(weeks), "rows": written,
            "first": min(weeks).isoformat(), "last": max(weeks).isoformat()}


def _runs(mondays: list[date]) -> list[list[date]]:
    """Split sorted Mondays into runs of consecutive weeks, SPAN_WEEKS at most each."""
    runs: list[list[date]] = []
    for m in mondays:
        if runs and m - runs[-1][-1] == timedelta(weeks=1) and len(runs[-1]) < SPAN_WEEKS:
            runs[-1].append(m)
        else:
            runs.append([m])
    return runs


def _earliest(session: Session, tz: str) -> date | None:
    """Return the first day any source has a record for (None: nothing yet)."""
    firsts = [session.scalar(sa.select(sa.func.min(Case.created_at))),
              session.scalar(sa.select(sa.func.min(ServiceRequest.created_at))),
              session.scalar(sa.select(sa.func.min(Survey.answered_at)))]
    days = [rollup.local_day(f, tz) for f in firsts if f is not None]
    booked = session.scalar(sa.select(sa.func.min(ServiceRequest.service_date)))
    if booked is not None:
        days.append(booked)
    return min(days, default=None)


def _weeks_of(moments, tz: str) -> set[date]:
    return {rollup.monday(rollup.local_day(m, tz)) for m in moments if m is not None}


def _touched(session: Session, marks: dict, tz: str) -> tuple[set[date], dict]:
    """Return the weeks of the records changed since the watermarks, and the new watermarks."""
    weeks: set[date] = set()
    seen: dict[str, tuple] = {}

    # Before the first refresh there is nothing to compare with (it rebuilds the history);
    # after it, a source that had no rows then has all its rows to read now.
    def after(source: str) -> datetime | None:
        mark = marks.get(source)
        if not marks:
            return None
        return datetime.min if mark is None or mark.seen_at is None else mark.seen_at - OVERLAP

    def after_id(source: str) -> int | None:
        mark = marks.get(source)
        if not marks:
            return None
        return 0 if mark is None or mark.seen_id is None else mark.seen_id - ID_OVERLAP

    c = Case.__table__.c
    since = after("case")
    if since is not None:
        for created, first, solved in session.execute(
                sa.select(c.created_at, c.first_response_at, c.solved_at)
                .where(c.updated_at >= since)):
            weeks |= _weeks_of((created, first, solved), tz)
    seen["case"] = (session.scalar(sa.select(sa.func.max(c.updated_at))), None)

    r = ServiceRequest.__table__.c
    since = after("service_request")
    if since is not None:
        for day, created in session.execute(
                sa.select(r.service_date, r.created_at).where(r.updated_at >= since)):
            weeks.add(rollup.monday(day))
            weeks |= _weeks_of((created,), tz)
    seen["service_request"] = (session.scalar(sa.select(sa.func.max(r.updated_at))), None)

    s = Survey.__table__.c
    since = after("survey")
    if since is not None:
        weeks |= _weeks_of(session.scalars(sa.select(s.answered_at)
                                           .where(s.answered_at >= since)), tz)
    seen["survey"] = (session.scalar(sa.select(sa.func.max(s.answered_at))), None)

    for source, table, moment in (("case_article", Article.__table__, "created_at"),
                                  ("interaction", Interaction.__table__, "at")):
        since_id = after_id(source)
        if since_id is not None:
            weeks |= _weeks_of(session.scalars(sa.select(table.c[moment])
                                               .where(table.c.id > since_id)), tz)
        seen[source] = (None, session.scalar(sa.select(sa.func.max(table.c.id))))
    return weeks, seen


def _save_marks(session: Session, marks: dict, seen: dict, now: datetime) -> None:
    for source, (seen_at, seen_id) in seen.items():
        mark = marks.get(source)
        if mark is None:
            mark = FigureWatermark(source=source)
            session.add(mark)
        mark.seen_at = max(filter(None, (seen_at, mark.seen_at)), default=None)
        mark.seen_id = max(filter(None, (seen_id, mark.seen_id)), default=None)
        mark.refreshed_at = now


def last_refreshed(session: Session) -> datetime | None:
    """Return when the summary rows were last refreshed (None: never)."""
    return session.scalar(sa.select(sa.func.max(FigureWatermark.refreshed_at)))
