"""Coverage of the horizon by day, zone and skill; the services at risk and why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from assignment.service.plans import latest_run
from assignment.service.rows import (
    HORIZON_DAYS,
    PLANNED,
    req_key,
    row_id,
)
from backoffice.models import Professional, ProfessionalStatus, RequestStatus, ServiceRequest

_PRO_RE = re.compile(r"\bP(\d+)\b")
_REQ_RE = re.compile(r"\bR(\d+)\b")
COUNTED = PLANNED + (RequestStatus.IN_PROGRESS, RequestStatus.DONE)


@dataclass
class Cell:
    day: date
    zone: str
    skill: str
    requests: int
    covered: int


def coverage_cells(session: Session, *, start: date, days: int = HORIZON_DAYS) -> list[Cell]:
    """Count requested and covered services per day, zone and skill (cancelled ones left out)."""
    # A booking whose professional was suspended or offboarded is at risk at once, before the
    # repair job moves it: it does not count as covered.
    covered = sa.case((sa.and_(ServiceRequest.status != RequestStatus.NEW,
                               Professional.status == ProfessionalStatus.APPROVED), 1), else_=0)
    rows = session.execute(
        sa.select(ServiceRequest.service_date, ServiceRequest.zone, ServiceRequest.skill,
                  sa.func.count(), sa.func.sum(covered))
        .outerjoin(Professional, Professional.id == ServiceRequest.professional_id)
        .where(ServiceRequest.service_date >= start,
               ServiceRequest.service_date < start + timedelta(days=days),
               ServiceRequest.status.in_(COUNTED))
        .group_by(ServiceRequest.service_date, ServiceRequest.zone, ServiceRequest.skill)
    )
    return [Cell(d, z or "", s, n, int(c or 0)) for d, z, s, n, c in rows]


def record_coverage(session: Session, *, today: date, run_id: int | None = None,
                    days: int = HORIZON_DAYS) -> int:
    """Store today's coverage of the horizon (again if already taken today); return rows."""
    from assignment.models import CoverageSnapshot

    session.execute(sa.delete(CoverageSnapshot).where(CoverageSnapshot.taken_on == today))
    cells = coverage_cells(session, start=today, days=days)
    session.add_all(CoverageSnapshot(taken_on=today, day=c.day, zone=c.zone, skill=c.skill,
                                     requests=c.requests, covered=c.covered, run_id=run_id)
                    for c in cells)
    session.flush()
    return len(cells)


def coverage_history(session: Session, *, since: date) -> list[tuple[date, int, int]]:
    """Return (day taken, services, covered) of each snapshot since a date."""
    from assignment.models import CoverageSnapshot as S

    return [tuple(r) for r in session.execute(
        sa.select(S.taken_on, sa.func.sum(S.requests), sa.func.sum(S.covered))
        .where(S.taken_on >= since).group_by(S.taken_on).order_by(S.taken_on))]


def at_risk(session: Session, *, start: date, days: int = HORIZON_DAYS,
            limit: int = 200) -> list[dict]:
    """List the uncovered services of the horizon with the latest run's reasons and suggestion."""
    unavailable = sa.select(Professional.id).where(
        Professional.status != ProfessionalStatus.APPROVED)
    lost = sa.and_(ServiceRequest.status.in_((RequestStatus.ASSIGNED, RequestStatus.CONFIRMED)),
                   ServiceRequest.professional_id.in_(unavailable))
    rows = list(session.scalars(
        sa.select(ServiceRequest).where(
            ServiceRequest.service_date >= start,
            ServiceRequest.service_date < start + timedelta(days=days),
            sa.or_(ServiceRequest.status == RequestStatus.NEW, lost))
        .order_by(ServiceRequest.service_date, ServiceRequest.priority.desc(),
                  ServiceRequest.window_start, ServiceRequest.id).limit(limit)))
    run = latest_run(session)
    why = {u["request"]: u for u in (run.plan["unassigned"] if run else [])}
    names = {}
    pro_ids = {row_id(r["professional"]) for u in why.values() for r in u["reasons"]
               if r.get("professional")}
    pro_ids |= {int(m) for u in why.values() for m in _PRO_RE.findall(u.get("suggestion") or "")}
    pro_ids |= {r.professional_id for r in rows if r.professional_id is not None}
    if pro_ids:
        names = dict(session.execute(sa.select(Professional.id, Professional.name)
                                     .where(Professional.id.in_(pro_ids))).all())
    out = []
    for r in rows:
        if r.professional_id is not None:  # booked, but its professional can no longer go
            out.append({"request": r, "planned": True, "suggestion": None, "reasons": [
                {"professional": names.get(r.professional_id), "rule": "unavailable",
                 "detail": None}]})
            continue
        u = why.get(req_key(r.id))
        reasons = [
            {"professional": names.get(row_id(x["professional"]), x["professional"])
             if x.get("professional") else None, "rule": x["rule"],
             "detail": humanise(x.get("detail"), names)}
            for x in (u["reasons"] if u else [])
        ]
        out.append({"request": r, "reasons": reasons,
                    "suggestion": humanise(u.get("suggestion") if u else None, names),
                    "planned": u is not None})
    return out


# The engine's suggestions (assignment.explain), worded for the reader with names (#18).
_DAY = r"(?P<day>\d{4}-\d{2}-\d{2})(?: (?P<shift>\d\d:\d\d-\d\d:\d\d))?"
_AT = r"(?P<at>\d{4}-\d{2}-\d{2}T\d\d:\d\d|\d\d:\d\d)"
_SUGGESTIONS = (
    (re.compile(rf"^extend P(?P<p>\d+)'s shift on {_DAY} to start at (?P<time>\d\d:\d\d)$"),
     "start %(name)s's shift on %(day)s%(shift)s earlier, at %(time)s"),
    (re.compile(rf"^extend P(?P<p>\d+)'s shift on {_DAY} to (?P<time>\d\d:\d\d)$"),
     "extend %(name)s's shift on %(day)s%(shift)s until %(time)s"),
    (re.compile(rf"^widen R(?P<r>\d+)'s window to start at {_AT} so that P(?P<p>\d+) can take "
                r"it$"), "let service #%(id)s start from %(at)s so that %(name)s can take it"),
    (re.compile(rf"^widen R(?P<r>\d+)'s window to end at {_AT} so that P(?P<p>\d+) can take "
                r"it$"), "let service #%(id)s start until %(at)s so that %(name)s can take it"),
    (re.compile(rf"^move R(?P<r>\d+) to P(?P<q>\d+) at {_AT} so that P(?P<p>\d+) can take "
                r"R(?P<r2>\d+)$"),
     "move service #%(id)s to %(other)s at %(at)s so that %(name)s can take #%(id2)s"),
)


def _word_suggestion(text: str, names: dict[int, str]) -> str | None:
    from backoffice.i18n import reader_text

    for pattern, message in _SUGGESTIONS:
        m = pattern.match(text)
        if m is None:
            continue
        g = m.groupdict()
        at = g.get("at") or ""
        if "T" in at:
            at = f"{at[8:10]}/{at[5:7]} {at[11:]}"
        return reader_text(
            message, name=names.get(int(g["p"]), f"#{g['p']}"),
            other=names.get(int(g["q"]), f"#{g['q']}") if g.get("q") else "",
            day=f"{g['day'][8:10]}/{g['day'][5:7]}" if g.get("day") else "",
            shift=f" ({g['shift'].replace('-', '–')})" if g.get("shift") else "",
            time=g.get("time") or "", at=at, id=g.get("r") or "", id2=g.get("r2") or "")
    return None


def humanise(text: str | None, names: dict[int, str]) -> str | None:
    """Replace the engine's P12 / R34 ids in a sentence with names and #34; a suggestion the
    engine words is worded in the reader's language."""
    if not text:
        return text
    worded = _word_suggestion(text, names)
    if worded is not None:
        return worded
    text = _PRO_RE.sub(lambda m: names.get(int(m.group(1)), m.group(0)), text)
    return _REQ_RE.sub(lambda m: f"#{m.group(1)}", text)
