"""Planted instances: a feasible week is laid out first, then requests are derived from it.

Because every request comes from a service of a valid plan, 100% coverage is provably possible and
the planted plan's travel is a yardstick for the engine.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import datetime, timedelta

from assignment.problem import (
    Assignment,
    Location,
    Plan,
    Problem,
    Professional,
    Request,
    Shift,
    compute_score,
    haversine_km,
    travel_minutes,
)

CENTRE = Location(39.47, -0.376)  # Valencia, Spain
# --cities: each at least 240 km from the others, beyond any shift's reach from home (a 7-hour
# shift at 25 km/h reaches 175 km), so that no professional can serve two of them
CITIES = (
    ("Valencia", CENTRE),
    ("Madrid", Location(40.4168, -3.7038)),
    ("Barcelona", Location(41.3874, 2.1686)),
    ("Sevilla", Location(37.3891, -5.9845)),
    ("Bilbao", Location(43.263, -2.935)),
    ("A Coruna", Location(43.3623, -8.4115)),
    ("Murcia", Location(37.9922, -1.1307)),
)
SPREAD_KM = 8.0
SERVICE_SPREAD_KM = 1.5  # clients book professionals who live nearby
MONDAY = datetime(2026, 12, 7)
SKILLS = ("cleaning", "ironing", "plumbing", "electrical", "gardening", "babysitting")
DURATIONS = (60, 90, 120, 120, 150, 180, 240)
# (start, end) pairs in minutes of the day; the last pattern is a split shift
PATTERNS = (
    ((480, 900),),
    ((540, 1020),),
    ((780, 1200),),
    ((480, 720), (960, 1200)),
)
PATTERN_WEIGHTS = (0.35, 0.3, 0.15, 0.2)
SPEED_KMH = 25.0
# weekly caps: the planted minutes rounded up to whole hours (as contracts are), plus 0-2 hours
CAP_ROUND_MIN = 60
CAP_SLACK_MIN = (0, 60, 120)
OVERDRAW = 1.2  # a week is drawn this much fuller: 7-10% of it does not fit its day


def _offset(origin: Location, east_km: float, north_km: float) -> Location:
    lat = origin.lat + north_km / 111.32
    lon = origin.lon + east_km / (111.32 * math.cos(math.radians(origin.lat)))
    return Location(round(lat, 6), round(lon, 6))


def _home(rng: random.Random, centre: Location = CENTRE) -> Location:
    radius = SPREAD_KM * math.sqrt(rng.random())
    angle = rng.uniform(0, 2 * math.pi)
    return _offset(centre, radius * math.cos(angle), radius * math.sin(angle))


def _day_of_work(rng, home, shifts, count):
    """Return [(start, duration, location)] for one day: a chain that respects travel."""
    out: list[tuple[datetime, int, Location]] = []
    for s0, s1 in shifts:
        cursor = s0 + timedelta(minutes=rng.choice((0, 0, 15, 30, 60)))
        while len(out) < count:
            place = _offset(home, rng.gauss(0, SERVICE_SPREAD_KM), rng.gauss(0, SERVICE_SPREAD_KM))
            duration = rng.choice(DURATIONS)
            start = cursor
            if out:
                prev_start, prev_dur, prev_place = out[-1]
                trip = travel_minutes(haversine_km(prev_place, place), SPEED_KMH)
                start = max(start, prev_start + timedelta(minutes=prev_dur + trip))
            start += timedelta(minutes=rng.choice((0, 0, 5, 10, 15, 30)))
            start += timedelta(minutes=-start.minute % 5)
            if start + timedelta(minutes=duration) > s1:
                break
            out.append((start, duration, place))
            cursor = start + timedelta(minutes=duration)
    return out


def planted_instance(
    n_professionals: int, n_requests: int, seed: int | str = 0, *, centre: Location = CENTRE
) -> tuple[Problem, Plan]:
    """Return a problem of n_requests requests from a valid planted plan, and that plan.

    Some planned work does not fit the day it was drawn for, so each week is drawn a little
    fuller than asked and random services are then dropped down to n_requests (dropping a service
    keeps a plan valid: the trip that skips it is never longer than the two it replaces).
    """
    rng = random.Random(seed)
    per_pro = OVERDRAW * n_requests / max(1, n_professionals)
    drafts = []
    services: list[tuple[str, str, datetime, int, Location]] = []  # pro, skill, start, dur, place
    for i in range(n_professionals):
        pid = f"P{i + 1}"
        home = _home(rng, centre)
        skills = rng.sample(SKILLS, rng.choice((1, 2, 2, 3)))
        days = sorted(rng.sample(range(6), 5))
        shifts = []
        for day in days:
            pattern = rng.choices(PATTERNS, PATTERN_WEIGHTS)[0]
            base = MONDAY + timedelta(days=day)
            shifts += [
                (base + timedelta(minutes=a), base + timedelta(minutes=b)) for a, b in pattern
            ]
        count = max(1, round(rng.gauss(per_pro, per_pro / 4)))
        per_day = [0] * 6
        for _ in range(count):
            per_day[rng.choice(days)] += 1
        carry = 0
        for day in days:
            todays = [s for s in shifts if s[0].date() == (MONDAY + timedelta(days=day)).date()]
            work = _day_of_work(rng, home, todays, per_day[day] + carry)
            # what did not fit today is offered to the next working day
            carry = per_day[day] + carry - len(work)
            for start, duration, place in work:
                services.append((pid, rng.choice(skills), start, duration, place))
        drafts.append((pid, home, skills, shifts))
    if len(services) > n_requests:
        services = rng.sample(services, n_requests)
    minutes: dict[str, int] = {}
    for pid, _, _, duration, _ in services:
        minutes[pid] = minutes.get(pid, 0) + duration
    pros = [
        Professional(
            id=pid,
            location=home,
            skills=frozenset(skills),
            shifts=tuple(Shift(a, b) for a, b in shifts),
            # contracts are in whole hours, a little above the planted week: tight enough that
            # weekly hours have to be shared out across days and professionals
            max_minutes_per_week=-(-minutes.get(pid, 0) // CAP_ROUND_MIN) * CAP_ROUND_MIN
            + rng.choice(CAP_SLACK_MIN),
        )
        for pid, home, skills, shifts in drafts
    ]
    rng.shuffle(services)
    requests, plan, clients_of = [], [], {}
    for j, (pid, skill, start, duration, place) in enumerate(services):
        rid = f"R{j + 1}"
        client = f"C{rng.randrange(1, j + 1)}" if j and rng.random() < 0.1 else f"C{j + 1}"
        clients_of.setdefault(pid, set()).add(client)
        floor = start - timedelta(minutes=start.minute % 15)
        ceil = start + timedelta(minutes=-start.minute % 15)
        roll = rng.random()
        requests.append(
            Request(
                id=rid,
                client=client,
                location=place,
                skill=skill,
                window_start=floor - timedelta(minutes=rng.choice((0, 0, 15, 30, 60))),
                window_end=ceil + timedelta(minutes=rng.choice((0, 15, 30, 60, 120))),
                duration_min=duration,
                priority=rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0],
                preferred_professional=pid if roll < 0.2 else None,
                required_professional=pid if 0.2 <= roll < 0.23 else None,
            )
        )
        plan.append(Assignment(rid, pid, start))
    all_clients = sorted({r.client for r in requests}, key=lambda c: int(c[1:]))
    for k, pro in enumerate(pros):
        if all_clients and rng.random() < 0.1:
            mine = clients_of.get(pro.id, set())
            banned = {c for c in rng.sample(all_clients, min(2, len(all_clients))) if c not in mine}
            pros[k] = Professional(
                pro.id,
                pro.location,
                pro.skills,
                pro.shifts,
                pro.max_minutes_per_week,
                frozenset(banned),
            )
    problem = Problem(professionals=tuple(pros), requests=tuple(requests), speed_kmh=SPEED_KMH)
    assignments = tuple(plan)
    planted = Plan(
        assignments=assignments,
        unassigned=(),
        score=compute_score(problem, assignments),
        solver={"status": "planted", "wall_s": 0.0, "bound_travel_km": None},
    )
    from assignment.validate import check

    violations = check(problem, planted)
    assert not violations, violations[:3]
    return problem, planted


def planted_cities(
    n_cities: int, n_professionals: int, n_requests: int, seed: int = 0
) -> tuple[Problem, Plan]:
    """Return n_cities planted cities of n_professionals and n_requests each, as one problem.

    The first city is planted_instance(n_professionals, n_requests, seed) itself; ids of the
    others continue its numbering (P, R and C), so every id stays unique."""
    if not 1 <= n_cities <= len(CITIES):
        raise ValueError(f"cities: from 1 to {len(CITIES)}")
    pros, reqs, plan = [], [], []
    for c in range(n_cities):
        problem, planted = planted_instance(
            n_professionals, n_requests, seed if c == 0 else f"{seed}:{c}", centre=CITIES[c][1]
        )
        if c == 0:
            pros += problem.professionals
            reqs += problem.requests
            plan += planted.assignments
            continue
        p_map = {p.id: f"P{len(pros) + i + 1}" for i, p in enumerate(problem.professionals)}
        r_map = {r.id: f"R{len(reqs) + j + 1}" for j, r in enumerate(problem.requests)}
        c_base = 1 + max((int(r.client[1:]) for r in reqs), default=0)
        pros += [
            replace(p, id=p_map[p.id], excluded_clients=frozenset(
                f"C{c_base + int(x[1:])}" for x in p.excluded_clients))
            for p in problem.professionals
        ]
        reqs += [
            replace(
                r, id=r_map[r.id], client=f"C{c_base + int(r.client[1:])}",
                preferred_professional=p_map.get(r.preferred_professional),
                required_professional=p_map.get(r.required_professional),
            )
            for r in problem.requests
        ]
        plan += [Assignment(r_map[a.request], p_map[a.professional], a.start)
                 for a in planted.assignments]
    problem = Problem(professionals=tuple(pros), requests=tuple(reqs), speed_kmh=SPEED_KMH)
    assignments = tuple(plan)
    return problem, Plan(
        assignments=assignments,
        unassigned=(),
        score=compute_score(problem, assignments),
        solver={"status": "planted", "wall_s": 0.0, "bound_travel_km": None},
    )
