"""City and country scale: split a problem into parts that cannot reach each other, join plans.

A professional reaches a request when they have its skill, are allowed to take it (client not
excluded, no other professional required) and some shift of theirs can hold the service inside
the request's window (the spec's rules) and is long enough for the trip from home and the
service together: nobody sends a professional on a trip longer than their working day.
Requests and professionals joined by reach, by the current plan or by a required professional
form one component (union-find); components are packed into at most N parts of balanced size,
each a Problem of its own that a worker solves.

The spec (rule 3) lets the trip from home fall outside the shift, so a professional of one city
may, by the letter of the rules, take a request of another on a day they have nothing else.
join() therefore ends with a pass over the whole problem that gives every request still
unassigned to whoever can take it as the joined plan stands: the joined plan is maximal in the
whole problem, not only part by part. The independent validator then checks the whole
(check_joined); a plan it rejects is never published.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from assignment.problem import (
    EARTH_RADIUS_KM,
    Assignment,
    Plan,
    Problem,
    Unassigned,
    compute_score,
    haversine_km,
    travel_minutes,
)

MAX_PARTS = 8  # a run's parts: more than the workers of a usual site, few enough to follow
MIN_PART_REQUESTS = 200  # a part smaller than this is not worth a worker of its own
Group = tuple[list[int], list[int]]  # positions of professionals, positions of requests


class PartsRejected(RuntimeError):
    """The joined plan breaks the rules of the whole problem: it must not be published."""

    def __init__(self, violations: list, *, what: str = "joined plan") -> None:
        self.violations = violations
        shown = "; ".join(str(v) for v in violations[:5])
        more = f" (and {len(violations) - 5} more)" if len(violations) > 5 else ""
        super().__init__(
            f"{what} rejected by the validator: {len(violations)} violation(s): {shown}{more}"
        )


@dataclass(frozen=True)
class Split:
    """A problem's parts, and how its requests and professionals group (for benches and tests)."""

    parts: tuple[Problem, ...]
    components: int  # groups of requests that cannot reach each other (with at least a request)


def _minute(t: datetime) -> int:
    return t.toordinal() * 1440 + t.hour * 60 + t.minute


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
        return ra


class _Shifts:
    """The shifts of some professionals as arrays sorted by start, with their homes."""

    def __init__(self, pros, which: list[int]) -> None:
        rows = sorted((_minute(s.start), _minute(s.end), i) for i in which for s in pros[i].shifts)
        self.s0 = np.array([r[0] for r in rows], dtype=np.int64)
        self.s1 = np.array([r[1] for r in rows], dtype=np.int64)
        self.owner = np.array([r[2] for r in rows], dtype=np.int64)
        at = [pros[i].location for i in self.owner.tolist()]
        self.lat = np.radians(np.array([x.lat for x in at], dtype=float))
        self.lon = np.radians(np.array([x.lon for x in at], dtype=float))
        self.coslat = np.cos(self.lat)
        skills = {s for i in which for s in pros[i].skills}
        self.has = {s: np.array([s in pros[i].skills for i in self.owner.tolist()], dtype=bool)
                    for s in skills}
        self.excluding = np.array(
            [bool(pros[i].excluded_clients) for i in self.owner.tolist()], dtype=bool
        )


def components(problem: Problem) -> list[Group]:
    """Return the groups of (professional positions, request positions) that cannot reach each
    other, largest first; professionals who reach no request are left out."""
    pros, reqs = problem.professionals, problem.requests
    n_pros = len(pros)
    pro_index = {p.id: i for i, p in enumerate(pros)}
    # nodes: professionals 0..n_pros-1, then requests
    uf = _UnionFind(n_pros + len(reqs))
    longest = max((_minute(s.end) - _minute(s.start) for p in pros for s in p.shifts), default=0)
    # nobody reaches farther from home than the longest shift lets them travel: squares that
    # wide, and a request looks at the professionals of its square and the eight around it
    reach_km = longest * problem.speed_kmh / 60 + 1.0
    coslat = min((math.cos(math.radians(x.location.lat)) for x in (*pros, *reqs)), default=1.0)
    dlat, dlon = reach_km / 111.0, reach_km / (111.0 * max(coslat, 1e-3))

    def square(loc) -> tuple[int, int]:
        return math.floor(loc.lat / dlat), math.floor(loc.lon / dlon)

    homes: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, p in enumerate(pros):
        homes[square(p.location)].append(i)
    near: dict[tuple[int, int], _Shifts] = {}
    # a professional's label: the node that last joined them (kept fresh, so that a city
    # already joined costs one np.unique per request, not a union per professional)
    label = np.arange(n_pros, dtype=np.int64)
    per_min = 60.0 / problem.speed_kmh
    reached = [False] * len(reqs)
    for j, r in enumerate(reqs):
        node = n_pros + j
        if r.required_professional is not None:  # nobody else may take it
            uf.union(pro_index[r.required_professional], node)
            reached[j] = True
            continue
        key = square(r.location)
        if key not in near:
            around = [i for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                      for i in homes.get((key[0] + dy, key[1] + dx), ())]
            near[key] = _Shifts(pros, around)
        sh = near[key]
        ws, we, d = _minute(r.window_start), _minute(r.window_end), r.duration_min
        lo = int(np.searchsorted(sh.s0, ws - longest, side="left"))
        hi = int(np.searchsorted(sh.s0, we + 1, side="left"))
        mask = sh.has.get(r.skill)
        if mask is None or hi <= lo:
            continue
        sl = slice(lo, hi)
        la, lo_ = math.radians(r.location.lat), math.radians(r.location.lon)
        h = (np.sin((sh.lat[sl] - la) / 2) ** 2
             + math.cos(la) * sh.coslat[sl] * np.sin((sh.lon[sl] - lo_) / 2) ** 2)
        trip = np.ceil(2 * EARTH_RADIUS_KM * per_min * np.arcsin(np.minimum(1.0, np.sqrt(h))))
        s0, s1 = sh.s0[sl], sh.s1[sl]
        ok = mask[sl] & (np.maximum(ws, s0) <= np.minimum(we, s1 - d)) & (trip + d <= s1 - s0)
        owner = sh.owner[sl]
        for k in np.flatnonzero(ok & sh.excluding[sl]).tolist():
            ok[k] = r.client not in pros[owner[k]].excluded_clients
        who = owner[ok]
        if who.size == 0:
            continue
        root = node
        for raw in np.unique(label[who]).tolist():
            root = uf.union(root, uf.find(raw))
        label[who] = root
        reached[j] = True
    req_index = {r.id: j for j, r in enumerate(reqs)}
    for a in problem.current_plan:  # a booking keeps its request and professional together
        j = req_index[a.request]
        uf.union(pro_index[a.professional], n_pros + j)
        reached[j] = True
    _attach_unreachable(problem, uf, reached)
    groups: dict[int, Group] = defaultdict(lambda: ([], []))
    for i in range(n_pros):
        groups[uf.find(i)][0].append(i)
    for j in range(len(reqs)):
        groups[uf.find(n_pros + j)][1].append(j)
    out = [g for g in groups.values() if g[1]]
    out.sort(key=lambda g: (-len(g[1]), g[1][0]))
    return out


def _attach_unreachable(problem: Problem, uf: _UnionFind, reached: list[bool]) -> None:
    """Give a request nobody reaches to its nearest skilled professional's group: the part
    that solves it then explains it with the professionals an agent would look at."""
    pros = problem.professionals
    if all(reached) or not pros:
        return
    lat = np.radians([p.location.lat for p in pros])
    lon = np.radians([p.location.lon for p in pros])
    masks: dict[str, np.ndarray] = {}
    for j, r in enumerate(problem.requests):
        if reached[j]:
            continue
        if r.skill not in masks:
            masks[r.skill] = np.array([r.skill in p.skills for p in pros], dtype=bool)
        if not masks[r.skill].any():
            continue
        la, lo = math.radians(r.location.lat), math.radians(r.location.lon)
        h = np.sin((lat - la) / 2) ** 2 + math.cos(la) * np.cos(lat) * np.sin((lon - lo) / 2) ** 2
        uf.union(int(np.argmin(np.where(masks[r.skill], h, np.inf))), len(pros) + j)


def pack(groups: list[Group], parts: int) -> list[Group]:
    """Pack groups into at most `parts` bins of about the same number of requests (largest
    group first into the lightest bin); bins keep the problem's order inside."""
    parts = max(1, min(parts, len(groups)))
    bins: list[Group] = [([], []) for _ in range(parts)]
    for pros, reqs in sorted(groups, key=lambda g: -len(g[1])):
        lightest = min(range(parts), key=lambda b: (len(bins[b][1]), b))
        bins[lightest][0].extend(pros)
        bins[lightest][1].extend(reqs)
    return [(sorted(p), sorted(r)) for p, r in bins if r]


def split(
    problem: Problem, *, max_parts: int = MAX_PARTS, min_requests: int = MIN_PART_REQUESTS
) -> Split:
    """Return the problem's parts, each of at least min_requests requests (a smaller group
    joins the lightest part), or the problem itself when it does not split in two such parts
    (then every professional stays in it)."""
    groups = components(problem)
    n = min(max_parts, len(problem.requests) // max(1, min_requests))
    bins = pack(groups, n) if n >= 2 and len(groups) >= 2 else []
    bins.sort(key=lambda b: len(b[1]))
    while len(bins) >= 2 and len(bins[0][1]) < min_requests:  # a small town rides along
        small = bins.pop(0)
        bins[0] = (sorted(bins[0][0] + small[0]), sorted(bins[0][1] + small[1]))
        bins.sort(key=lambda b: len(b[1]))
    bins.sort(key=lambda b: b[1][0] if b[1] else 0)  # parts in the problem's order
    if len(bins) < 2:
        return Split((problem,), len(groups))
    parts = []
    for pros, reqs in bins:
        rids = {problem.requests[j].id for j in reqs}
        parts.append(Problem(
            professionals=tuple(problem.professionals[i] for i in pros),
            requests=tuple(problem.requests[j] for j in reqs),
            speed_kmh=problem.speed_kmh,
            current_plan=tuple(a for a in problem.current_plan if a.request in rids),
            version=problem.version,
        ))
    return Split(tuple(parts), len(groups))


# joining ----------------------------------------------------------------------------------


def join(problem: Problem, plans: list[Plan]) -> Plan:
    """Return one plan of the whole problem from its parts' plans, made maximal in the whole."""
    assignments = [a for plan in plans for a in plan.assignments]
    unassigned = [u for plan in plans for u in plan.unassigned]
    added = _complete(problem, assignments, unassigned)
    statuses = {plan.solver.get("status") for plan in plans}
    bounds = [plan.solver.get("bound_travel_km") for plan in plans]
    status = "stopped" if "stopped" in statuses else (
        "feasible" if statuses <= {"feasible"} else ",".join(sorted(str(s) for s in statuses)))
    solver = {
        "status": status,
        "wall_s": max((float(plan.solver.get("wall_s") or 0) for plan in plans), default=0.0),
        "parts_wall_s": [plan.solver.get("wall_s") for plan in plans],
        # a bound on the parts' services; the ones the last pass added have none
        "bound_travel_km": round(sum(bounds), 2)
        if bounds and not added and None not in bounds else None,
        "parts": len(plans),
        "added_across_parts": added,
    }
    return Plan(tuple(assignments), tuple(unassigned), compute_score(problem, assignments), solver)


def check_joined(problem: Problem, plan: Plan) -> None:
    """Raise PartsRejected with the validator's violations if the whole rejects the plan."""
    from assignment.validate import check

    violations = check(problem, plan)
    if violations:
        raise PartsRejected(violations)


def _complete(problem: Problem, assignments: list[Assignment], unassigned: list[Unassigned]) -> int:
    """Give each unassigned request to a professional who can take it as the plan stands
    (exact travel between same-day services, weekly minutes); return how many were given."""
    if not unassigned:
        return 0
    reqs = {r.id: r for r in problem.requests}
    items: dict[str, list[tuple[int, int, object]]] = defaultdict(list)
    weeks: dict[str, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    for a in assignments:
        r = reqs[a.request]
        t = _minute(a.start)
        items[a.professional].append((t, t + r.duration_min, r.location))
        weeks[a.professional][_week(t)] += r.duration_min
    left, added = [], 0
    order = sorted(unassigned, key=lambda u: (-reqs[u.request].priority, u.request))
    for u in order:
        r = reqs[u.request]
        got = None
        able = [p for p in problem.professionals if _could(r, p)]
        for p in sorted(able, key=lambda p: haversine_km(p.location, r.location)):
            t = _earliest(problem, r, p, items[p.id], weeks[p.id])
            if t is not None:
                got = (p, t)
                break
        if got is None:
            left.append(u)
            continue
        p, t = got
        items[p.id].append((t, t + r.duration_min, r.location))
        weeks[p.id][_week(t)] += r.duration_min
        assignments.append(Assignment(r.id, p.id, _from_minute(t)))
        added += 1
    keep = {u.request for u in left}
    unassigned[:] = [u for u in unassigned if u.request in keep]
    return added


def _week(m: int) -> tuple[int, int]:
    iso = datetime.fromordinal(m // 1440).isocalendar()
    return iso[0], iso[1]


def _from_minute(m: int) -> datetime:
    day = datetime.fromordinal(m // 1440)
    return day.replace(hour=(m % 1440) // 60, minute=m % 60)


def _could(r, p) -> bool:
    """Tell whether p could ever take r (skill, client, required, one shift holds it)."""
    if r.skill not in p.skills or r.client in p.excluded_clients:
        return False
    if r.required_professional not in (None, p.id):
        return False
    ws, we, d = _minute(r.window_start), _minute(r.window_end), r.duration_min
    return any(max(ws, _minute(s.start)) <= min(we, _minute(s.end) - d) for s in p.shifts)


def _earliest(problem: Problem, r, p, items, weeks) -> int | None:
    """Return the earliest minute p can start r as the plan stands, or None."""
    if r.skill not in p.skills or r.client in p.excluded_clients:
        return None
    if r.required_professional not in (None, p.id):
        return None
    d = r.duration_min
    ws, we = _minute(r.window_start), _minute(r.window_end)
    for shift in p.shifts:
        lo, hi = max(ws, _minute(shift.start)), min(we, _minute(shift.end) - d)
        while lo <= hi:
            day = lo // 1440
            seg_hi = min(hi, day * 1440 + 1439)
            if weeks.get(_week(lo), 0) + d <= p.max_minutes_per_week:
                blocked = []
                for s, e, place in items:
                    if s // 1440 == day:  # travel binds between services of one day (rule 4)
                        back = travel_minutes(haversine_km(r.location, place), problem.speed_kmh)
                        out = travel_minutes(haversine_km(place, r.location), problem.speed_kmh)
                        blocked.append((s - d - back + 1, e + out - 1))
                    else:
                        blocked.append((s - d + 1, e - 1))
                t = lo
                for b0, b1 in sorted(blocked):
                    if b0 > t:
                        break
                    t = max(t, b1 + 1)
                if t <= seg_hi:
                    return t
            lo = seg_hi + 1
    return None
