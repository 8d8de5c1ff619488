"""SLA sweep over 100,000 open cases, beside a naive loop that recomputes every case's clocks.

    python bench/cases_sla.py [--cases 100000] [--sqlite] [--url postgresql+psycopg://...]

Creates a throwaway database (PostgreSQL `bench_cases_sla` on 127.0.0.1, dropped at the end;
or a SQLite file with --sqlite), seeds open cases whose warnings and breaches stand as a sweep
a minute earlier left them, then times: the sweep of the next minute, the same sweep again
(nothing left to do: the bare scan), a sweep after an hour without scheduler, and the baseline
measured in the same run: load every open case with its state history and call
sla.due_times and sla.progress per case in Python, as a sweep without stored due times would.
"""

import argparse
import random
import sys
import tempfile
import time
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import selectinload  # noqa: E402

from backoffice import audit, migrate  # noqa: E402
from backoffice.db import make_engine, make_sessionmaker  # noqa: E402
from backoffice.models import OutboxMessage, StaffUser  # noqa: E402
from cases import deadlines, sla  # noqa: E402
from cases.models import Case, CasePriority, CaseState, CaseStateVisit, SlaPolicy  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/bench_cases_sla"
TZ = "Europe/Madrid"
# Tuesday 15 December 2026, 11:00 in Madrid: the desk is open and the clocks run.
NOW = datetime(2026, 12, 15, 11, tzinfo=ZoneInfo(TZ)).astimezone(UTC).replace(tzinfo=None)
Visit = namedtuple("Visit", "state entered_at left_at")


def create(url: str) -> None:
    """Create the throwaway database empty and migrate it."""
    if url.startswith("postgresql"):
        migrate.create_database(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    migrate.upgrade(url)


def drop(url: str) -> None:
    """Drop the throwaway PostgreSQL database."""
    target = sa.make_url(url)
    server = make_engine(target.set(database="postgres").render_as_string(hide_password=False))
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    server.dispose()


def seed(factory, n: int) -> None:
    """Insert 20 agents, 3 admins and n active cases with their state history and clocks."""
    rnd = random.Random(15)
    with factory() as s:
        s.execute(sa.insert(StaffUser), [
            {"email": f"{role}{i}@bench.example.com", "name": f"{role} {i}", "password_hash": "-",
             "roles": role, "active": True, "locale": "es", "created_at": NOW,
             "mfa_exempt": False}
            for role, count in (("ops_agent", 20), ("admin", 3)) for i in range(count)])
        agents = s.scalars(sa.select(StaffUser.id).where(StaffUser.roles == "ops_agent")).all()
        policies = {p.priority: p for p in s.scalars(
            sa.select(SlaPolicy).where(SlaPolicy.category_id.is_(None)))}
        calendar = deadlines.load_calendar(s, tz=TZ, years=(2026,))
        before = NOW - timedelta(minutes=1)  # the previous sweep's minute
        horizons: dict[int, datetime] = {}
        cases, histories = [], []
        priorities = rnd.choices(list(CasePriority), weights=(20, 55, 20, 5), k=n)
        for i in range(n):
            created = NOW - timedelta(minutes=rnd.uniform(5, 15 * 24 * 60))
            first = awaiting = None
            if rnd.random() < 0.7:
                first = created + timedelta(minutes=rnd.uniform(1, 60))
                first = min(first, NOW - timedelta(minutes=1))
                if rnd.random() < 0.4:
                    awaiting = first + (NOW - first) * rnd.random()
            history = []
            state = CaseState.OPEN if first else CaseState.NEW
            roll = rnd.random()
            if roll < 0.1:  # waiting on someone now: paused
                pause = created + (NOW - created) * rnd.random()
                history = [Visit(state, created, pause),
                           Visit(rnd.choice([CaseState.PENDING, CaseState.ON_HOLD]), pause, None)]
                state = history[-1].state
            elif roll < 0.3:  # paused once and resumed
                p0 = created + (NOW - created) * rnd.random() * 0.5
                p1 = p0 + (NOW - p0) * rnd.random()
                history = [Visit(CaseState.NEW, created, p0), Visit(CaseState.PENDING, p0, p1),
                           Visit(CaseState.OPEN, p1, None)]
                state = CaseState.OPEN
            else:
                history = [Visit(state, created, None)]
            policy = policies[priorities[i]]
            targets = deadlines.targets_of(policy)
            dues = sla.due_times(calendar=calendar, targets=targets, created_at=created,
                                 visits=history, first_response_at=first,
                                 awaiting_since=awaiting, state=state, now=NOW)
            running = None if dues.paused else dues
            warned, breached = [], []
            for target, due in running.items() if running else ():
                minutes = targets.minutes(target)
                if minutes not in horizons:
                    horizons[minutes] = sla.warn_horizon(calendar, before, minutes)
                if due <= before:
                    breached.append(target)
                if due <= horizons[minutes]:
                    warned.append(target)
            cases.append({
                "id": i + 1, "subject": f"Bench case {i}", "state": state.value,
                "priority": priorities[i].value, "channel": "mail", "language": "es",
                "team": "ops_agent",
                "assignee_id": rnd.choice(agents) if rnd.random() < 0.9 else None,
                "created_at": created, "updated_at": created, "state_entered_at": created,
                "sla_policy_id": policy.id, "first_response_at": first,
                "last_response_at": first, "awaiting_since": awaiting,
                "first_response_due_at": running and running.first_response,
                "next_response_due_at": running and running.next_response,
                "resolution_due_at": running and running.resolution,
                "next_due_at": running and running.next_due,
                "sla_warned": ",".join(warned), "sla_breached": ",".join(breached),
                "version": 1,
            })
            histories.extend({"case_id": i + 1, "state": v.state.value, "entered_at": v.entered_at,
                              "left_at": v.left_at, "actor": "bench"} for v in history)
        s.execute(sa.insert(Case), cases)
        s.execute(sa.insert(CaseStateVisit), histories)
        s.commit()


def timed_sweep(factory, now: datetime) -> tuple[float, dict, int]:
    """Run one sweep in its own transaction; return seconds, its counts and mails queued."""
    with factory() as s, audit.acting_as(audit.Actor(None, "system:bench")):
        mails0 = s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
        t0 = time.perf_counter()
        counts = deadlines.sweep(s, now=now, tz=TZ)
        s.commit()
        elapsed = time.perf_counter() - t0
        mails = s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) - mails0
    return elapsed, counts, mails


def naive(factory, now: datetime) -> tuple[float, int, int]:
    """Recompute every active case's clocks in Python; return seconds, warnings and breaches."""
    with factory() as s:
        t0 = time.perf_counter()
        calendar = deadlines.load_calendar(s, tz=TZ)
        policies = {p.id: deadlines.targets_of(p) for p in s.scalars(sa.select(SlaPolicy))}
        cases = s.scalars(
            sa.select(Case).options(selectinload(Case.visits))
            .where(Case.state.in_(deadlines.RUNNING + (CaseState.PENDING, CaseState.ON_HOLD)))
        ).all()
        warn = breach = 0
        for case in cases:
            targets = policies[case.sla_policy_id]
            dues = sla.due_times(calendar=calendar, targets=targets, created_at=case.created_at,
                                 visits=case.visits, first_response_at=case.first_response_at,
                                 awaiting_since=case.awaiting_since, state=case.state, now=now)
            if dues.paused:
                continue
            pauses = sla.pauses_from(case.visits, now=now)
            for target, due in dues.items():
                start = case.awaiting_since if target == "next_response" else case.created_at
                share = sla.progress(start, due, now, calendar, pauses)
                if share >= 1 and target not in case.sla_breached:
                    breach += 1
                elif share >= sla.WARN_AT and target not in case.sla_warned:
                    warn += 1
        return time.perf_counter() - t0, warn, breach


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead")
    parser.add_argument("--url", default=DEFAULT_URL, help="the throwaway PostgreSQL database")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="bench_cases_sla_")
    url = f"sqlite:///{scratch.name}/bench.sqlite3" if args.sqlite else args.url
    create(url)
    engine = make_engine(url)
    try:
        factory = make_sessionmaker(engine)
        t0 = time.perf_counter()
        seed(factory, args.cases)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE" if engine.dialect.name == "postgresql"
                                 else "ANALYZE"))
        print(f"seeded {args.cases:,} active cases in {time.perf_counter() - t0:.1f} s "
              f"({engine.dialect.name}); now = {NOW:%Y-%m-%d %H:%M} UTC")

        # The baseline first: it reads the same flags the sweep is about to change.
        base_s, base_warn, base_breach = naive(factory, NOW)
        runs = [("next minute", NOW), ("same minute again", NOW),
                ("after an hour without scheduler", NOW + timedelta(hours=1))]
        results = [(label, *timed_sweep(factory, now)) for label, now in runs]
        print(f"{'':40} {'seconds':>8} {'warned':>7} {'breached':>9} {'mails':>6}")
        print(f"{'baseline: due_times per case':40} {base_s:8.3f} {base_warn:7} "
              f"{base_breach:9} {'-':>6}")
        for label, secs, counts, mails in results:
            print(f"{'sweep: ' + label:40} {secs:8.3f} {counts['warned']:7} "
                  f"{counts['breached']:9} {mails:6}")
        first = results[0][1]
        print(f"sweep of the next minute: {first:.3f} s for {args.cases:,} cases (goal <= 2 s); "
              f"baseline / sweep = {base_s / first:.0f}x")
    finally:
        engine.dispose()
        if url.startswith("postgresql"):
            drop(url)
        scratch.cleanup()


if __name__ == "__main__":
    main()
