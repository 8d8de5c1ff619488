"""Realistic Valencia data for the demo and the benchmarks, inserted in bulk."""

import random
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from faker import Faker
from sqlalchemy.orm import Session

from backoffice.db import mark_written, utcnow
from backoffice.geo import ZONES, zone_for
from backoffice.models import (
    SKILLS,
    Client,
    Professional,
    ServiceRequest,
    TimeOff,
    WorkingShift,
)
from backoffice.phones import normalise as normalise_phone

BATCH = 5_000
CLIENT_HISTORY = timedelta(days=730)
# Booked slots of a professional's day: start times that never overlap for services <= 3 h.
SLOTS = (time(8, 0), time(11, 30), time(15, 0), time(18, 30))
DURATIONS = (60, 90, 120, 120, 180, 180)
PRICE_PER_HOUR_CENTS = {"cleaning": 1500, "ironing": 1400, "elderly_care": 1800,
                        "childcare": 1700, "gardening": 2000}
Progress = Callable[[int], None]


def _point(rng: random.Random) -> tuple[float, float]:
    lat, lon = rng.choice(list(ZONES.values()))
    return round(lat + rng.gauss(0, 0.006), 6), round(lon + rng.gauss(0, 0.007), 6)


def _insert(session: Session, table, rows: list[dict], progress: Progress | None) -> None:
    # Service requests, a million for the benchmark, go by COPY on PostgreSQL; their rows
    # carry every column, as COPY applies no Python-side defaults.
    copy = table is ServiceRequest.__table__ and session.get_bind().dialect.name == "postgresql"
    for i in range(0, len(rows), BATCH):
        chunk = rows[i : i + BATCH]
        if copy:
            _copy(session, table, chunk)
        else:
            session.execute(sa.insert(table), chunk)
        if progress:
            progress(len(chunk))


def _copy(session: Session, table, rows: list[dict]) -> None:
    """COPY rows into table (PostgreSQL): one statement a batch, in the session's transaction,
    so the triggers that work per statement (clients' request counts) run once a batch."""
    columns = list(rows[0])
    mark_written(session)
    raw = session.connection().connection.dbapi_connection
    names = ", ".join(table.c[c].name for c in columns)
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _phone(fake: Faker) -> dict:
    # Rows inserted in bulk skip the models' validators: the E.164 form is set here.
    phone = fake.phone_number()
    return {"phone": phone, "phone_e164": normalise_phone(phone)}


def seed_clients(session: Session, *, n: int, rng: random.Random, fake: Faker,
                 progress: Progress | None = None) -> list[int]:
    """Insert n clients; return their ids."""
    now = utcnow()
    rows = []
    for i in range(n):
        lat, lon = _point(rng)
        joined = now - CLIENT_HISTORY * (n - i) / n  # signed up over two years, oldest first
        rows.append({
            **_phone(fake),
            "name": fake.name(), "email": fake.unique.email(),
            "address": fake.street_address() + ", Valencia", "lat": lat, "lon": lon,
            "zone": zone_for(lat, lon), "language": rng.choice(("es", "es", "es", "ca", "en")),
            "status": "active", "created_at": joined, "updated_at": joined, "version": 1,
        })
    _insert(session, Client.__table__, rows, progress)
    return list(session.scalars(sa.select(Client.id).order_by(Client.id.desc()).limit(n)))[::-1]


def seed_professionals(session: Session, *, n: int, rng: random.Random, fake: Faker,
                       status: str = "approved", progress: Progress | None = None) -> list[int]:
    """Insert n professionals with skills, a weekly pattern (some split shifts); return ids."""
    now = utcnow()
    rows = []
    for _ in range(n):
        lat, lon = _point(rng)
        skills = rng.sample(SKILLS, k=rng.choice((1, 2, 2, 3)))
        rows.append({
            **_phone(fake),
            "name": fake.name(), "email": fake.unique.email(),
            "address": fake.street_address() + ", Valencia", "lat": lat, "lon": lon,
            "zone": zone_for(lat, lon), "language": "es",
            "skills": ",".join(s for s in SKILLS if s in skills),
            "max_minutes_per_week": rng.choice((1200, 1800, 2400)), "status": status,
            "rating": round(rng.uniform(3.6, 5.0), 1), "created_at": now, "updated_at": now,
            "version": 1,
        })
    _insert(session, Professional.__table__, rows, progress)
    ids = list(session.scalars(
        sa.select(Professional.id).order_by(Professional.id.desc()).limit(n)))[::-1]
    shifts = []
    for pid in ids:
        days = rng.choice(((0, 1, 2, 3, 4), (0, 1, 2, 3, 4, 5), (1, 2, 3, 4, 5)))
        split = rng.random() < 0.3
        for d in days:
            if split:
                shifts.append({"professional_id": pid, "weekday": d,
                               "start_time": time(8, 0), "end_time": time(13, 0)})
                shifts.append({"professional_id": pid, "weekday": d,
                               "start_time": time(15, 0), "end_time": time(20, 0)})
            else:
                start = rng.choice((time(8, 0), time(9, 0)))
                shifts.append({"professional_id": pid, "weekday": d, "start_time": start,
                               "end_time": time(start.hour + 8, 0)})
    _insert(session, WorkingShift.__table__, shifts, None)
    return ids


def seed_requests(session: Session, *, n: int, client_ids: list[int], professional_ids: list[int],
                  start: date, days: int, today: date, rng: random.Random,
                  progress: Progress | None = None) -> int:
    """Insert about n requests over days from start; past ones done, future ones mostly booked."""
    clients = session.execute(
        sa.select(Client.id, Client.address, Client.lat, Client.lon, Client.zone)
    ).all() if len(client_ids) < 100_000 else None
    by_id = {c.id: c for c in clients} if clients else {}
    per_day = max(1, n // days)
    now = utcnow()
    booking = random.Random(n)  # when each was booked; apart from rng, which shapes the data
    rows, made = [], 0
    pro_cursor = 0
    for d in range(days):
        day = start + timedelta(days=d)
        slot_use: dict[int, int] = {}
        for _ in range(per_day if d < days - 1 else n - made):
            cid = rng.choice(client_ids)
            c = by_id.get(cid)
            skill = rng.choice(SKILLS)
            duration = rng.choice(DURATIONS)
            window_start = rng.choice(SLOTS)
            status = _status_for(day, today, rng)
            pro, start_at = None, None
            if status not in ("new", "cancelled") and professional_ids:
                pro = professional_ids[pro_cursor % len(professional_ids)]
                pro_cursor += 1
                slot = slot_use.get(pro, 0)
                if slot < len(SLOTS):
                    slot_use[pro] = slot + 1
                    window_start = SLOTS[slot]
                    start_at = datetime.combine(day, window_start)
                else:
                    pro, status = None, "new"
            row = {
                "client_id": cid, "skill": skill,
                "address": c.address if c else None, "lat": c.lat if c else None,
                "lon": c.lon if c else None, "zone": c.zone if c else rng.choice(list(ZONES)),
                "service_date": day, "window_start": window_start,
                "window_end": (datetime.combine(day, window_start) + timedelta(hours=1)).time(),
                "duration_min": duration, "priority": rng.choice((1, 1, 1, 2, 3)),
                "recurrence": rng.choice(("one_off", "one_off", "weekly", "fortnightly")),
                "series_id": None, "status": status, "professional_id": pro,
                "start_at": start_at,
                "end_at": start_at + timedelta(minutes=duration) if start_at else None,
                "pinned": False, "price_cents": PRICE_PER_HOUR_CENTS[skill] * duration // 60,
                "cancellation_reason": "client cancelled" if status == "cancelled" else None,
                "created_at": booked_at(day, now, booking), "version": 1,
                "preferred_professional_id": None,
            }
            row["updated_at"] = row["created_at"]
            if row["recurrence"] != "one_off":
                row["series_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
            rows.append(row)
            made += 1
            if len(rows) >= BATCH:
                _insert(session, ServiceRequest.__table__, rows, progress)
                rows = []
    _insert(session, ServiceRequest.__table__, rows, progress)
    return made


def booked_at(day: date, now: datetime, rng: random.Random) -> datetime:
    """Return when a service on day was booked: one to three weeks before, never after now
    (a service not yet due was booked at some moment of the last two weeks)."""
    booked = datetime.combine(day, time(8)) - timedelta(days=rng.randint(1, 21),
                                                        minutes=rng.randint(0, 720))
    return booked if booked < now else now - timedelta(minutes=rng.randint(5, 14 * 24 * 60))


def _status_for(day: date, today: date, rng: random.Random) -> str:
    r = rng.random()
    if day < today:
        return "done" if r < 0.9 else ("cancelled" if r < 0.97 else "no_show")
    if day == today:
        return "in_progress" if r < 0.3 else ("confirmed" if r < 0.9 else "cancelled")
    return "confirmed" if r < 0.45 else ("assigned" if r < 0.8 else ("new" if r < 0.95
                                                                      else "cancelled"))


def seed_time_off(session: Session, *, professional_ids: list[int], today: date,
                  rng: random.Random) -> None:
    """Give a few professionals dated time off in the coming days."""
    for pid in rng.sample(professional_ids, k=max(1, len(professional_ids) // 15)):
        start = today + timedelta(days=rng.randint(1, 10))
        session.add(TimeOff(professional_id=pid, starts_on=start,
                            ends_on=start + timedelta(days=rng.randint(0, 3)), reason="holiday"))
    session.flush()


def seed(session: Session, *, clients: int, professionals: int, requests: int,
         start: date | None = None, days: int = 14, today: date | None = None, seed: int = 7,
         progress: Progress | None = None) -> dict:
    """Seed clients, professionals and requests; return what was made."""
    rng = random.Random(seed)
    fake = Faker("es_ES")
    fake.seed_instance(seed)
    today = today or date.today()
    start = start or today - timedelta(days=days // 2)
    client_ids = seed_clients(session, n=clients, rng=rng, fake=fake, progress=progress)
    pro_ids = seed_professionals(session, n=professionals, rng=rng, fake=fake, progress=progress)
    made = seed_requests(session, n=requests, client_ids=client_ids, professional_ids=pro_ids,
                         start=start, days=days, today=today, rng=rng, progress=progress)
    return {"clients": len(client_ids), "professionals": len(pro_ids), "requests": made}
