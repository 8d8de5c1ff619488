"""Benchmark: queue the notices of a published plan that moves 1,000 services.

    python bench/notifications.py [--moves 1000] [--background 20000] [--repeat 3]
                                  [--pg postgresql+psycopg://postgres@127.0.0.1/pg_c]

Builds a fresh SQLite database and, when --pg is given and answers, resets that PostgreSQL
database's schema (everything in it is dropped). Each holds `background` booked services that
clients and professionals were already told about and do not change, and `moves` services
that a plan then moves: half to another professional, half to another time. What is timed is
what a publish runs after writing the bookings: notifications.service.sync over the moved
services' ids, which queues the client notices (each with its calendar part, made into
iCalendar text when sent: backoffice.mail.calendar_text), one mail per
professional concerned, and records what was told. Each run is rolled back, so every run
starts from the same state.

Prints wall and CPU seconds (sync: medians of the runs; the CPU figure is this process's, the
database's own work shows in wall only) and the load average, since a shared machine's wall
time says more about its other users than about this code.

Baseline, measured once in the same run on the same state: the naive version, per service
through the ORM (get the row, get its two told rows, load the people, backoffice.mail.enqueue
one mail at a time with its dedup query and flush, update the told rows and flush).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date, datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402

from backoffice import audit, mail, migrate  # noqa: E402
from backoffice.db import make_engine, make_sessionmaker, utcnow  # noqa: E402
from backoffice.models import (  # noqa: E402
    Client,
    Professional,
    ProfessionalStatus,
    RequestStatus,
    ServiceRequest,
)
from notifications import compose, ical, service  # noqa: E402
from notifications.models import Audience, Told, ToldBooking  # noqa: E402

NOW = datetime(2027, 3, 1, 8, 0)
FIRST_DAY = date(2027, 3, 2)
DAYS = 10


def build(url: str, *, moves: int, background: int) -> list[int]:
    """Fill a fresh database; return the ids of the services the plan will move."""
    migrate.upgrade(url)
    engine = make_engine(url)
    total = moves + background
    pros_needed = -(-total // DAYS)  # each professional: one service a day at 09:00
    with make_sessionmaker(engine)() as s:
        s.execute(sa.insert(Professional), [
            {"name": f"Pro {i}", "email": f"pro{i}@example.com", "language": "en" if i % 3 == 0
             else "es", "skills": "cleaning", "status": ProfessionalStatus.APPROVED}
            for i in range(pros_needed + moves)])  # the last ones: free for the moves
        pros = s.scalars(sa.select(Professional.id).order_by(Professional.id)).all()
        s.execute(sa.insert(Client), [
            {"name": f"Client {i}", "email": f"client{i}@example.com",
             "language": ("es", "en", "ca")[i % 3], "address": f"Calle {i}, Valencia"}
            for i in range(total)])
        clients = s.scalars(sa.select(Client.id).order_by(Client.id)).all()
        rows = []
        for i in range(total):
            day = FIRST_DAY + timedelta(days=i % DAYS)
            start = datetime.combine(day, datetime.min.time()).replace(hour=9)
            rows.append({"client_id": clients[i], "skill": "cleaning", "service_date": day,
                         "window_start": start.time(), "window_end": start.time().replace(
                             hour=15), "duration_min": 120, "status": RequestStatus.ASSIGNED,
                         "professional_id": pros[i // DAYS], "start_at": start,
                         "end_at": start + timedelta(minutes=120), "address": f"Calle {i}"})
        for i in range(0, total, 5000):
            s.execute(sa.insert(ServiceRequest), rows[i:i + 5000])
        s.commit()
        ids = s.scalars(sa.select(ServiceRequest.id).order_by(ServiceRequest.id)).all()
        # everyone has been told about every booking already
        service.sync(session=s, now=NOW, send=False)
        s.commit()
    engine.dispose()
    return list(ids[:moves])


def move(session, ids: list[int]) -> None:
    """Write what a plan would: half to a free professional, half three hours later."""
    busy = sa.select(ServiceRequest.id).where(
        ServiceRequest.professional_id == Professional.id).exists()
    free = session.scalars(sa.select(Professional.id).where(~busy)).all()
    rows = session.scalars(sa.select(ServiceRequest).where(ServiceRequest.id.in_(ids))).all()
    for i, row in enumerate(sorted(rows, key=lambda r: r.id)):
        if i % 2:  # each free professional takes one: no double booking
            row.professional_id = free[(i // 2) % len(free)]
        else:
            row.start_at += timedelta(hours=3)
            row.end_at += timedelta(hours=3)
    session.flush()


def naive_sync(session, *, now: datetime, request_ids: list[int]) -> int:
    """The baseline: the same notices, one service and one mail at a time through the ORM."""
    mails = 0
    for rid in request_ids:
        row = session.get(ServiceRequest, rid)
        told_c = session.get(ToldBooking, (rid, Audience.CLIENT))
        told_p = session.get(ToldBooking, (rid, Audience.PROFESSIONAL))
        client, pro = row.client, row.professional
        lang = compose.lang_of(client.language)
        if (told_c.professional_id, told_c.start_at) != (row.professional_id, row.start_at):
            old = session.get(Professional, told_c.professional_id)
            ctx = compose.booking_context(lang=lang, name=client.name, request_id=rid,
                                          skill=row.skill, start=row.start_at, end=row.end_at,
                                          professional=pro.name, address=row.address)
            ctx.update(professional_changed=old.id != pro.id,
                       time_changed=told_c.start_at != row.start_at,
                       old_professional=old.name,
                       old_day=compose.day_text(told_c.start_at.date(), lang),
                       old_start=compose.hour(told_c.start_at))
            seq = told_c.sequence + 1
            cal = ical.part("REQUEST", [ical.Event(rid, row.start_at, row.end_at, seq, "x",
                                                   row.address)], stamp=utcnow())
            msg = mail.enqueue(session, to=client.email, template="notifications/booking_changed",
                               lang=lang, context=ctx, entity="service_request", entity_id=rid,
                               dedup_key=f"naive:client:{rid}:{seq}")
            msg.calendar = cal
            told_c.professional_id, told_c.start_at = row.professional_id, row.start_at
            told_c.end_at, told_c.sequence, told_c.told_at = row.end_at, seq, utcnow()
            mails += 1
        # one mail per professional per service here: grouping is what the real one adds
        for pro_id, kind in ((told_p.professional_id, "removed"), (row.professional_id, "added")):
            if kind == "removed" and pro_id == row.professional_id:
                continue
            p = session.get(Professional, pro_id)
            plang = compose.lang_of(p.language)
            item = compose.pro_item(kind=kind if told_p.professional_id != row.professional_id
                                    else "retimed", lang=plang, request_id=rid, skill=row.skill,
                                    start=row.start_at, end=row.end_at, client=client.name,
                                    address=row.address, old_start=told_p.start_at)
            cal = ical.part("PUBLISH", [ical.Event(rid, row.start_at, row.end_at,
                                                   told_p.sequence + 1, "x")], stamp=utcnow())
            msg = mail.enqueue(session, to=p.email, template="notifications/pro_changes",
                               lang=plang, context={"name": p.name, "items": [item]},
                               dedup_key=f"naive:pro:{rid}:{pro_id}:{told_p.sequence + 1}")
            msg.calendar = cal
            mails += 1
        told_p.professional_id, told_p.start_at = row.professional_id, row.start_at
        told_p.sequence, told_p.state = told_p.sequence + 1, Told.BOOKED
        session.flush()
    return mails


def measure(url: str, ids: list[int], repeat: int) -> dict:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    figures = {"sync": [], "naive": [], "idle": [], "sync_cpu": [], "naive_cpu": []}
    results = {}
    audit.install()
    with audit.acting_as(audit.Actor(None, "bench")):
        for i in range(repeat):
            # the baseline once: a minute a run on a busy machine
            for name in ("sync", "naive") if i == 0 else ("sync",):
                with factory() as s:
                    move(s, ids)
                    t, cpu = time.perf_counter(), time.process_time()
                    if name == "sync":
                        results[name] = service.sync(session=s, now=NOW, request_ids=ids)
                    else:
                        results[name] = naive_sync(s, now=NOW, request_ids=ids)
                    figures[name].append(time.perf_counter() - t)
                    figures[f"{name}_cpu"].append(time.process_time() - cpu)
                    if name == "sync":  # the minute job's next pass: nothing left to tell
                        t = time.perf_counter()
                        assert service.sync(session=s, now=NOW) == {"services": 0}
                        figures["idle"].append(time.perf_counter() - t)
                    s.rollback()
    engine.dispose()
    return {k: statistics.median(v) for k, v in figures.items()} | {"results": results}


def report(label: str, n: int, f: dict) -> None:
    r = f["results"]["sync"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{label}: {n} services moved (load average {load} on {os.cpu_count()} CPUs)")
    print(f"  sync (what publish runs)      {f['sync']:6.3f} s wall {f['sync_cpu']:6.3f} s CPU   "
          f"{r['mails']} mails queued ({r['changed']} clients, {r['professional_mails']} "
          f"professionals)")
    print(f"  naive per-row ORM baseline    {f['naive']:6.3f} s wall {f['naive_cpu']:6.3f} s CPU   "
          f"{f['results']['naive']} mails queued (one per professional per service)")
    print(f"  ratio baseline / sync         {f['naive'] / f['sync']:6.1f} x wall "
          f"{f['naive_cpu'] / f['sync_cpu']:6.1f} x CPU")
    print(f"  the next minute's pass over all future bookings, nothing to tell: "
          f"{f['idle']:6.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=1000)
    parser.add_argument("--background", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", help="a PostgreSQL URL whose schema this resets")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        ids = build(url, moves=args.moves, background=args.background)
        report(f"SQLite, {args.background} unchanged bookings beside", args.moves,
               measure(url, ids, args.repeat))
    if args.pg:
        engine = make_engine(args.pg)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        ids = build(args.pg, moves=args.moves, background=args.background)
        report(f"PostgreSQL, {args.background} unchanged bookings beside", args.moves,
               measure(args.pg, ids, args.repeat))


if __name__ == "__main__":
    main()
