"""Raw rows to weekly summary rows: what each figure counts, read from the records themselves.

compute() reads the cases, surveys, calls, bookings and audit rows of a span of weeks and
returns the rows of figure_week for those weeks; it writes nothing. The refresh stores them,
and the benchmark calls it directly to compare the page's figures with the same figures
computed from raw rows.

Weeks run Monday to Sunday in the desk's time zone; moments are naive UTC as stored, a
booking's service_date is already a local date. Durations are wall-clock minutes (calls:
seconds); the SLA's business-time clocks are represented by its breach flags.
"""

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.models import (
    AuditEvent,
    Interaction,
    InteractionKind,
    Professional,
    ProfessionalStatus,
    RequestStatus,
    ServiceRequest,
    TimeOff,
    WorkingShift,
)
from cases.models import (
    Article,
    ArticleKind,
    Case,
    CaseCategory,
    CaseState,
    CaseStateVisit,
    CaseTag,
)
from figures import buckets
from surveys.models import Survey

DEFAULT_TZ = "Europe/Madrid"
OPEN_STATES = (CaseState.NEW, CaseState.OPEN, CaseState.PENDING, CaseState.ON_HOLD)
CALL_ARTICLES = (ArticleKind.CALL_IN, ArticleKind.CALL_OUT)
CALL_INTERACTIONS = (InteractionKind.CALL_IN, InteractionKind.CALL_OUT)
# A backlog bucket by its lower bound in days of age.
AGE_BUCKETS = (0, 1, 3, 7, 14, 30)
NO_CATEGORY = "none"  # the key of cases (and survey answers) without a category
SLA_TARGETS = ("first_response", "resolution")  # a breach of either misses the SLA


@dataclass
class Acc:
    """The counts and sums of one summary row."""

    n: int = 0
    hits: int = 0
    total: int = 0
    total2: int = 0
    hist: dict | None = None

    def add(self, *, n: int = 1, hits: int = 0, total: int = 0, total2: int = 0,
            value: float | None = None, steps=buckets.MINUTE_STEPS) -> None:
        self.count(n, hits, total, total2,
                   None if value is None else str(buckets.bucket(value, steps)))

    def count(self, n: int, hits: int, total: int, total2: int, bucket: str | None) -> None:
        """Add counts and one value already bucketed (None: no value)."""
        self.n += n
        self.hits += hits
        self.total += total
        self.total2 += total2
        if bucket is not None:
            hist = self.hist
            if hist is None:
                hist = self.hist = {}
            hist[bucket] = hist.get(bucket, 0) + 1

    def merge(self, other: "Acc") -> "Acc":
        self.n += other.n
        self.hits += other.hits
        self.total += other.total
        self.total2 += other.total2
        if other.hist is not None:
            self.hist = buckets.merge(self.hist if self.hist is not None else {}, other.hist)
        return self


@dataclass
class Weeks:
    """The weeks of a span, with their bounds as naive UTC moments."""

    mondays: list[date]
    tz: str = DEFAULT_TZ
    starts: list[datetime] = field(init=False)

    def __post_init__(self) -> None:
        zone = ZoneInfo(self.tz)
        self.starts = [datetime.combine(m, time(0), zone).astimezone(UTC).replace(tzinfo=None)
                       for m in [*self.mondays, self.mondays[-1] + timedelta(days=7)]]

    @property
    def start(self) -> datetime:
        return self.starts[0]

    @property
    def end(self) -> datetime:
        return self.starts[-1]

    def of(self, moment: datetime | None) -> date | None:
        """Return the Monday of the span's week that holds moment; None outside the span."""
        if moment is None or moment < self.start or moment >= self.end:
            return None
        return self.mondays[bisect.bisect_right(self.starts, moment) - 1]

    def of_day(self, day: date) -> date | None:
        monday = day - timedelta(days=day.weekday())
        return monday if self.mondays[0] <= monday <= self.mondays[-1] else None


def monday(day: date) -> date:
    """Return the Monday of day's week."""
    return day - timedelta(days=day.weekday())


def local_day(moment: datetime, tz: str = DEFAULT_TZ) -> date:
    """Return the desk's local date of a naive UTC moment."""
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).date()


def minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


class Rows:
    """Summary rows being built: (week, metric, dim, key) -> Acc."""

    def __init__(self) -> None:
        self.data: dict[tuple, Acc] = defaultdict(Acc)

    def add(self, week: date, metric: str, dims: dict[str, object], *, n: int = 1,
            hits: int = 0, total: int = 0, total2: int = 0, value: float | None = None,
            steps=buckets.MINUTE_STEPS) -> None:
        """Count one item in its week's "all" row and in each of its dimensions' rows."""
        # Bucketed once for all its rows: a full refresh counts millions of values.
        bucket = None if value is None else str(buckets.bucket(value, steps))
        data = self.data
        data[(week, metric, "all", "")].count(n, hits, total, total2, bucket)
        for dim, key in dims.items():
            if key is not None:
                data[(week, metric, dim, str(key))].count(n, hits, total, total2, bucket)

    def as_dicts(self, now: datetime) -> list[dict]:
        out = []
        for (w, m, d, k), a in sorted(self.data.items(), key=lambda kv: kv[0]):
            p50, p90 = buckets.percentiles(a.hist, (0.5, 0.9))
            out.append({"week": w, "metric": m, "dim": d, "key": k, "n": a.n, "hits": a.hits,
                        "total": a.total, "total2": a.total2, "hist": a.hist, "p50": p50,
                        "p90": p90, "refreshed_at": now})
        return out


def compute(session: Session, *, mondays: list[date], now: datetime,
            tz: str = DEFAULT_TZ) -> list[dict]:
    """Return the summary rows of the given weeks (consecutive Mondays) as of now (naive UTC)."""
    if not mondays:
        return []
    weeks = Weeks(sorted(mondays), tz)
    rows = Rows()
    categories = dict(session.execute(sa.select(CaseCategory.id, CaseCategory.code)).all())
    _csat(session, weeks, rows)
    _first_response(session, weeks, rows, categories)
    _solved(session, weeks, rows, categories)
    _created(session, weeks, rows, categories)
    _calls(session, weeks, rows)
    _backlog(session, weeks, rows, now)
    _bookings(session, weeks, rows)
    _time_to_fill(session, weeks, rows)
    _utilisation(session, weeks, rows)
    return rows.as_dicts(now)


def _csat(session: Session, weeks: Weeks, rows: Rows) -> None:
    """CSAT: answers by the week they came in; a hit is a 4 or a 5."""
    s = Survey.__table__.c
    for at, score, staff, pro, category, subject in session.execute(
            sa.select(s.answered_at, s.score, s.concerned_staff_id, s.concerned_professional_id,
                      s.category_code, s.subject)
            .where(s.answered_at >= weeks.start, s.answered_at < weeks.end,
                   s.score.is_not(None))):
        week = weeks.of(at)
        is_case = str(subject) == "case"
        rows.add(week, "csat", {"agent": staff, "professional": pro,
                                "category": (category or NO_CATEGORY) if is_case else None,
                                "subject": subject},
                 hits=int(score >= 4))


def _first_response(session: Session, weeks: Weeks, rows: Rows, categories: dict) -> None:
    """First response time: from the case's creation to its first public reply, by the week of
    the reply."""
    c = Case.__table__.c
    for created, first, agent, cat in session.execute(
            sa.select(c.created_at, c.first_response_at, c.assignee_id, c.category_id)
            .where(c.first_response_at >= weeks.start, c.first_response_at < weeks.end)):
        rows.add(weeks.of(first), "first_response",
                 {"agent": agent, "category": categories.get(cat, NO_CATEGORY)},
                 value=minutes(created, first))


def _breached(flags: str | None) -> bool:
    return any(t in (flags or "").split(",") for t in SLA_TARGETS)


def _solved(session: Session, weeks: Weeks, rows: Rows, categories: dict) -> None:
    """Resolution time, SLA compliance and the agents' case work, by the week of the solve."""
    c = Case.__table__.c
    for created, solved, assigned, agent, cat, policy, breached in session.execute(
            sa.select(c.created_at, c.solved_at, c.assigned_at, c.assignee_id, c.category_id,
                      c.sla_policy_id, c.sla_breached)
            .where(c.solved_at >= weeks.start, c.solved_at < weeks.end)):
        week = weeks.of(solved)
        dims = {"agent": agent, "category": categories.get(cat, NO_CATEGORY)}
        rows.add(week, "resolution", dims, value=minutes(created, solved))
        if policy is not None:
            rows.add(week, "sla", dims, hits=int(not _breached(breached)))
        if agent is not None and assigned is not None:
            rows.add(week, "case_work", {"agent": agent}, value=minutes(assigned, solved))


def _created(session: Session, weeks: Weeks, rows: Rows, categories: dict) -> None:
    """Recurring issues: cases opened each week by category and by tag."""
    c, t = Case.__table__.c, CaseTag.__table__.c
    span = sa.and_(c.created_at >= weeks.start, c.created_at < weeks.end)
    week_of: dict[int, date] = {}
    for case_id, created, cat in session.execute(
            sa.select(c.id, c.created_at, c.category_id).where(span)):
        week = week_of[case_id] = weeks.of(created)
        rows.add(week, "cases", {"category": categories.get(cat, NO_CATEGORY)})
    for case_id, tag in session.execute(
            sa.select(t.case_id, t.name).join(Case.__table__, c.id == t.case_id).where(span)):
        rows.data[(week_of[case_id], "cases", "tag", tag)].add()


def _calls(session: Session, weeks: Weeks, rows: Rows) -> None:
    """Calls of each agent: the desk's call articles and the calls on people's timelines.

    Calls without a recorded duration are left out (there is nothing to time)."""
    a, i = Article.__table__.c, Interaction.__table__.c
    query = sa.union_all(
        sa.select(a.created_at.label("at"), a.author_id.label("agent"),
                  a.call_seconds.label("seconds"))
        .where(a.kind.in_([k.value for k in CALL_ARTICLES]), a.created_at >= weeks.start,
               a.created_at < weeks.end, a.call_seconds.is_not(None)),
        sa.select(i.at, i.staff_id, i.duration_s)
        .where(i.kind.in_([k.value for k in CALL_INTERACTIONS]), i.at >= weeks.start,
               i.at < weeks.end, i.duration_s.is_not(None)))
    for at, agent, seconds in session.execute(query):
        rows.add(weeks.of(at), "calls", {"agent": agent}, total=seconds, value=seconds,
                 steps=buckets.SECOND_STEPS)


def _age_bucket(days: float) -> int:
    return AGE_BUCKETS[bisect.bisect_right(AGE_BUCKETS, days) - 1]


def _backlog(session: Session, weeks: Weeks, rows: Rows, now: datetime) -> None:
    """Backlog: the cases open at the end of each week (at now for the week under way), by age.

    Read from the cases' state history, so a past week can be counted again at any time."""
    moments = [(m, min(end, now)) for m, end in zip(weeks.mondays, weeks.starts[1:], strict=True)
               if weeks.starts[weeks.mondays.index(m)] <= now]
    if not moments:
        return
    first, last = min(t for _, t in moments), max(t for _, t in moments)
    v, c = CaseStateVisit.__table__.c, Case.__table__.c
    # Open-state visits come through their partial index on left_at (migration 0013); each
    # visit's case is read by its key, where a join would have the whole case table hashed.
    created = sa.select(c.created_at).where(c.id == v.case_id).scalar_subquery()
    visits = session.execute(
        sa.select(v.entered_at, v.left_at, created)
        .where(v.state.in_([s.value for s in OPEN_STATES]), v.entered_at <= last,
               sa.or_(v.left_at.is_(None), v.left_at > first))).all()
    for week, at in moments:
        counted = rows.data[(week, "backlog", "all", "")]
        for entered, left, created in visits:
            if entered <= at and (left is None or left > at):
                age = (at - created).total_seconds() / 86400
                counted.add(value=None)
                rows.data[(week, "backlog", "age", str(_age_bucket(age)))].add()


def _bookings(session: Session, weeks: Weeks, rows: Rows) -> None:
    """Fill rate (covered of asked, and their value), cancellations and no-shows, by the week
    of the service's date."""
    r = ServiceRequest.__table__.c
    first, last = weeks.mondays[0], weeks.mondays[-1] + timedelta(days=6)
    for day, status, pro, skill, price in session.execute(
            sa.select(r.service_date, r.status, r.professional_id, r.skill, r.price_cents)
            .where(r.service_date >= first, r.service_date <= last)):
        week, status, dims = weeks.of_day(day), RequestStatus(status), {"skill": skill}
        cancelled = status == RequestStatus.CANCELLED
        rows.add(week, "cancel", dims, hits=int(cancelled))
        if not cancelled:
            covered = pro is not None
            rows.add(week, "fill", dims, hits=int(covered),
                     total=(price or 0) if covered else 0, total2=price or 0)
        if status in (RequestStatus.DONE, RequestStatus.NO_SHOW):
            rows.add(week, "no_show", dims, hits=int(status == RequestStatus.NO_SHOW))


def _time_to_fill(session: Session, weeks: Weeks, rows: Rows) -> None:
    """Time to fill: from a booking's creation to its first assignment (the audit trail's first
    move to assigned), by the week it was created."""
    r, e = ServiceRequest.__table__.c, AuditEvent.__table__.c
    # One query, each booking's audit rows read through their index: a join would make
    # PostgreSQL hash the whole audit trail.
    filled = (sa.select(sa.func.min(e.at))
              .where(e.entity == "service_request", e.entity_id == sa.cast(r.id, sa.String),
                     AuditEvent.changes[("status", 1)].as_string()
                     == RequestStatus.ASSIGNED.value)
              .scalar_subquery())
    for made, skill, at in session.execute(
            sa.select(r.created_at, r.skill, filled)
            .where(r.created_at >= weeks.start, r.created_at < weeks.end)):
        if at is not None:
            rows.add(weeks.of(made), "time_to_fill", {"skill": skill},
                     value=minutes(made, max(at, made)))


def _utilisation(session: Session, weeks: Weeks, rows: Rows) -> None:
    """Utilisation: minutes booked of each professional beside the minutes of their shifts.

    Booked: services with the professional on them, not cancelled. Shifts: the weekly pattern
    of approved professionals, less their days off (the pattern as it stands now: it keeps no
    history, so past weeks are counted with it only while they are refreshed)."""
    r = ServiceRequest.__table__.c
    first, last = weeks.mondays[0], weeks.mondays[-1] + timedelta(days=6)
    booked: dict[tuple[date, int], int] = defaultdict(int)
    for day, pro, duration in session.execute(
            sa.select(r.service_date, r.professional_id, r.duration_min)
            .where(r.service_date >= first, r.service_date <= last,
                   r.professional_id.is_not(None),
                   r.status != RequestStatus.CANCELLED.value)):
        booked[(weeks.of_day(day), pro)] += duration
    shifts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    w = WorkingShift.__table__.c
    p = Professional.__table__.c
    for pro, weekday, start, end in session.execute(
            sa.select(w.professional_id, w.weekday, w.start_time, w.end_time)
            .join(Professional.__table__, p.id == w.professional_id)
            .where(p.status == ProfessionalStatus.APPROVED.value)):
        shifts[pro][weekday] += (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    off: dict[int, list[tuple[date, date]]] = defaultdict(list)
    t = TimeOff.__table__.c
    for pro, starts, ends in session.execute(
            sa.select(t.professional_id, t.starts_on, t.ends_on)
            .where(t.starts_on <= last, t.ends_on >= first)):
        off[pro].append((starts, ends))
    offered: dict[tuple[date, int], int] = defaultdict(int)
    for pro, pattern in shifts.items():
        for week in weeks.mondays:
            for d in range(7):
                day = week + timedelta(days=d)
                if pattern.get(d) and not any(s <= day <= e for s, e in off.get(pro, ())):
                    offered[(week, pro)] += pattern[d]
    for week, pro in sorted(set(booked) | set(offered)):
        rows.add(week, "utilisation", {"professional": pro},
                 total=booked.get((week, pro), 0), total2=offered.get((week, pro), 0))
