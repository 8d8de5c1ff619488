"""Demo data: a published plan for the next two weeks, a few services nobody can take, a chart."""

import random
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from assignment import service
from assignment.models import CoverageSnapshot, RunKind
from backoffice import notes
from backoffice.models import Client, Professional, RequestStatus, ServiceRequest, WorkingShift

# (days ahead, skill, window start, window end, minutes): outside every shift on purpose, so
# that the board shows reasons; the last ones are near a shift's end, so a suggestion shows too
IMPOSSIBLE = (
    (1, "elderly_care", time(22, 0), time(22, 30), 120),
    (2, "gardening", time(21, 30), time(22, 0), 60),
    (3, "childcare", time(6, 0), time(6, 30), 60),
    (4, "cleaning", time(19, 30), time(19, 45), 90),
    (5, "ironing", time(19, 45), time(20, 0), 60),
)


def _snapshot_before(session: Session, *, today: date, days_back: int) -> None:
    """Record past days' coverage of their fortnight from the bookings (the chart's line)."""
    for back in range(days_back, 0, -1):
        taken = today - timedelta(days=back)
        for c in service.coverage_cells(session, start=taken):
            session.add(CoverageSnapshot(taken_on=taken, day=c.day, zone=c.zone, skill=c.skill,
                                         requests=c.requests, covered=c.covered))
    session.flush()


def _add_impossible(session: Session, *, today: date, rng: random.Random) -> set[int]:
    clients = session.query(Client).order_by(Client.id).limit(50).all()
    rows = []
    for ahead, skill, start, end, minutes in IMPOSSIBLE:
        c = rng.choice(clients)
        rows.append(ServiceRequest(
            client_id=c.id, skill=skill, address=c.address, lat=c.lat, lon=c.lon, zone=c.zone,
            service_date=today + timedelta(days=ahead), window_start=start, window_end=end,
            duration_min=minutes, priority=2, status=RequestStatus.NEW, price_cents=3000,
        ))
    session.add_all(rows)
    session.flush()
    return {r.id for r in rows}


def _sunday_shifts(session: Session, *, rng: random.Random) -> None:
    # nobody in the core seed works on Sundays, yet clients book them
    for pro in session.scalars(sa.select(Professional).order_by(Professional.id)):
        if rng.random() < 0.4:
            pro.shifts.append(WorkingShift(weekday=6, start_time=time(9), end_time=time(14)))
    session.flush()


def _trim_demand(session: Session, diff: service.Diff, *, keep: int, spare: set[int]) -> int:
    """Cancel the seed's excess demand that nobody could cover, keeping a few to show reasons."""
    left = [ch.request for ch in diff.uncovered + diff.unassigned if ch.request.id not in spare]
    random.Random(5).shuffle(left)
    for row in left[keep:]:
        row.status = RequestStatus.CANCELLED
        row.cancellation_reason = "client cancelled"
    session.flush()
    return max(0, len(left) - keep)


def seed_demo(session: Session, *, today: date, rng: random.Random, config) -> None:
    """Re-plan the seeded fortnight with the engine, publish it and record coverage."""
    _sunday_shifts(session, rng=rng)
    spare = _add_impossible(session, today=today, rng=rng)
    now = max(datetime.now(), datetime.combine(today, time(7)))
    run = service.run_plan(session, start=today, now=now, kind=RunKind.DEMO,
                           time_limit_s=float(config.get("DEMO_PLAN_TIME_LIMIT_S", 20.0)),
                           config=config)
    run.note = notes.keyed("demo: the seed's naive bookings (skills and shifts ignored) re-planned")
    diff = service.publish(session, run=run)
    # the core seed books more than 60 professionals can do; the demo keeps a few at risk
    _trim_demand(session, diff, keep=6, spare=spare)
    _snapshot_before(session, today=today, days_back=6)
    service.record_coverage(session, today=today, run_id=run.id)
