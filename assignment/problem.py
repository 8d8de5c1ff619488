"""Plain data for the assignment problem and plan, and their JSON exchange format (version 1)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EARTH_RADIUS_KM = 6371.0088
TIME_FORMAT = "%Y-%m-%dT%H:%M"
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


class ProblemError(ValueError):
    """A problem or plan that breaks the exchange format, naming the first offending field."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field_path = field_path
        self.message = message


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Shift:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Professional:
    id: str
    location: Location
    skills: frozenset[str]
    shifts: tuple[Shift, ...]
    max_minutes_per_week: int
    excluded_clients: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    client: str
    location: Location
    skill: str
    window_start: datetime
    window_end: datetime
    duration_min: int
    priority: int = 1
    preferred_professional: str | None = None
    required_professional: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    request: str
    professional: str
    start: datetime


@dataclass(frozen=True)
class Problem:
    professionals: tuple[Professional, ...]
    requests: tuple[Request, ...]
    speed_kmh: float = 25.0
    current_plan: tuple[Assignment, ...] = ()
    version: int = 1


@dataclass(frozen=True, slots=True)
class Reason:
    professional: str | None
    rule: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Unassigned:
    request: str
    reasons: tuple[Reason, ...] = ()
    suggestion: str | None = None


@dataclass(frozen=True, slots=True)
class Score:
    covered_priority: int
    covered: int
    requests: int
    moved: int
    preferences_honoured: int
    travel_km: float

    def key(self) -> tuple[int, int, int, float]:
        """Return a tuple that sorts better plans higher (the spec's lexicographic order)."""
        return (self.covered_priority, -self.moved, self.preferences_honoured, -self.travel_km)


@dataclass(frozen=True)
class Plan:
    assignments: tuple[Assignment, ...]
    unassigned: tuple[Unassigned, ...]
    score: Score
    solver: dict[str, Any] = field(default_factory=dict)


def haversine_km(a: Location, b: Location) -> float:
    """Return the great-circle distance between two places in km."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def travel_minutes(km: float, speed_kmh: float) -> int:
    """Return the whole minutes needed to travel km at speed_kmh, rounded up."""
    return math.ceil(km * 60 / speed_kmh)


def format_time(t: datetime) -> str:
    """Format a time as YYYY-MM-DDTHH:MM."""
    return t.strftime(TIME_FORMAT)


def compute_score(problem: Problem, assignments: tuple[Assignment, ...] | list) -> Score:
    """Compute the score of a set of assignments (assumed to name known ids)."""
    requests = {r.id: r for r in problem.requests}
    pros = {p.id: p for p in problem.professionals}
    current = {a.request: a.professional for a in problem.current_plan}
    given = {a.request: a.professional for a in assignments}
    moved = sum(1 for rid, pid in current.items() if given.get(rid) != pid)
    honoured = sum(
        1 for a in assignments if requests[a.request].preferred_professional == a.professional
    )
    days: dict[tuple[str, Any], list[Assignment]] = {}
    for a in assignments:
        days.setdefault((a.professional, a.start.date()), []).append(a)
    travel = 0.0
    for (pid, _), services in days.items():
        here = pros[pid].location
        for a in sorted(services, key=lambda s: s.start):
            there = requests[a.request].location
            travel += haversine_km(here, there)
            here = there
        travel += haversine_km(here, pros[pid].location)
    return Score(
        covered_priority=sum(requests[a.request].priority for a in assignments),
        covered=len(assignments),
        requests=len(problem.requests),
        moved=moved,
        preferences_honoured=honoured,
        travel_km=round(travel, 2),
    )


# --- strict JSON parsing -------------------------------------------------------------------------


def _get(obj: dict, key: str, path: str, *, required: bool = True, default: Any = None) -> Any:
    if key not in obj or (obj[key] is None and not required):
        if required:
            raise ProblemError(f"{path}.{key}" if path else key, "is required")
        return default
    return obj[key]


def _object(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise ProblemError(path, "must be an object")
    return value


def _list(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise ProblemError(path, "must be a list")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProblemError(path, "must be a non-empty string")
    return value


def _integer(value: Any, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProblemError(path, "must be an integer")
    if value < minimum:
        raise ProblemError(path, f"must be at least {minimum}")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProblemError(path, "must be a number")
    return float(value)


def _time(value: Any, path: str) -> datetime:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise ProblemError(path, "must be YYYY-MM-DDTHH:MM")
    try:
        return datetime.strptime(value, TIME_FORMAT)
    except ValueError:
        raise ProblemError(path, "must be YYYY-MM-DDTHH:MM") from None


def _location(value: Any, path: str) -> Location:
    obj = _object(value, path)
    lat = _number(_get(obj, "lat", path), f"{path}.lat")
    if not -90 <= lat <= 90:
        raise ProblemError(f"{path}.lat", "must be between -90 and 90")
    lon = _number(_get(obj, "lon", path), f"{path}.lon")
    if not -180 <= lon <= 180:
        raise ProblemError(f"{path}.lon", "must be between -180 and 180")
    return Location(lat, lon)


def _strings(value: Any, path: str) -> frozenset[str]:
    return frozenset(_string(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path)))


def _professional(value: Any, path: str) -> Professional:
    obj = _object(value, path)
    pid = _string(_get(obj, "id", path), f"{path}.id")
    location = _location(_get(obj, "location", path), f"{path}.location")
    skills = _strings(_get(obj, "skills", path), f"{path}.skills")
    shifts = []
    for i, raw in enumerate(_list(_get(obj, "shifts", path), f"{path}.shifts")):
        spath = f"{path}.shifts[{i}]"
        sobj = _object(raw, spath)
        start = _time(_get(sobj, "start", spath), f"{spath}.start")
        end = _time(_get(sobj, "end", spath), f"{spath}.end")
        if end <= start:
            raise ProblemError(f"{spath}.end", "must be after start")
        shifts.append(Shift(start, end))
    cap = _integer(
        _get(obj, "max_minutes_per_week", path), f"{path}.max_minutes_per_week", minimum=0
    )
    excluded = _get(obj, "excluded_clients", path, required=False, default=[])
    return Professional(
        id=pid,
        location=location,
        skills=skills,
        shifts=tuple(sorted(shifts, key=lambda s: s.start)),
        max_minutes_per_week=cap,
        excluded_clients=_strings(excluded, f"{path}.excluded_clients"),
    )


def _optional_pro(obj: dict, key: str, path: str, pros: set[str]) -> str | None:
    value = _get(obj, key, path, required=False)
    if value is None:
        return None
    pid = _string(value, f"{path}.{key}")
    if pid not in pros:
        raise ProblemError(f"{path}.{key}", f"unknown professional {pid!r}")
    return pid


def _request(value: Any, path: str, pros: set[str]) -> Request:
    obj = _object(value, path)
    rid = _string(_get(obj, "id", path), f"{path}.id")
    client = _string(_get(obj, "client", path), f"{path}.client")
    location = _location(_get(obj, "location", path), f"{path}.location")
    skill = _string(_get(obj, "skill", path), f"{path}.skill")
    window_start = _time(_get(obj, "window_start", path), f"{path}.window_start")
    window_end = _time(_get(obj, "window_end", path), f"{path}.window_end")
    if window_end < window_start:
        raise ProblemError(f"{path}.window_end", "must not be before window_start")
    duration = _integer(_get(obj, "duration_min", path), f"{path}.duration_min", minimum=1)
    priority = _get(obj, "priority", path, required=False, default=1)
    return Request(
        id=rid,
        client=client,
        location=location,
        skill=skill,
        window_start=window_start,
        window_end=window_end,
        duration_min=duration,
        priority=_integer(priority, f"{path}.priority", minimum=1),
        preferred_professional=_optional_pro(obj, "preferred_professional", path, pros),
        required_professional=_optional_pro(obj, "required_professional", path, pros),
    )


def _assignment(value: Any, path: str) -> Assignment:
    obj = _object(value, path)
    return Assignment(
        request=_string(_get(obj, "request", path), f"{path}.request"),
        professional=_string(_get(obj, "professional", path), f"{path}.professional"),
        start=_time(_get(obj, "start", path), f"{path}.start"),
    )


def _unique(ids: list[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for i, pid in enumerate(ids):
        if pid in seen:
            raise ProblemError(f"{path}[{i}].id", f"duplicate {what} id {pid!r}")
        seen.add(pid)


def parse_problem(data: Any) -> Problem:
    """Parse a version-1 problem document, raising ProblemError at the first offending field."""
    obj = _object(data, "problem")
    if _get(obj, "version", "") != 1 or isinstance(obj["version"], bool):
        raise ProblemError("version", "must be 1")
    travel = _object(_get(obj, "travel", ""), "travel")
    speed = _number(_get(travel, "speed_kmh", "travel"), "travel.speed_kmh")
    if speed <= 0:
        raise ProblemError("travel.speed_kmh", "must be positive")
    raw_pros = _list(_get(obj, "professionals", ""), "professionals")
    pros = [_professional(p, f"professionals[{i}]") for i, p in enumerate(raw_pros)]
    _unique([p.id for p in pros], "professionals", "professional")
    pro_ids = {p.id for p in pros}
    raw_reqs = _list(_get(obj, "requests", ""), "requests")
    reqs = [_request(r, f"requests[{i}]", pro_ids) for i, r in enumerate(raw_reqs)]
    _unique([r.id for r in reqs], "requests", "request")
    req_ids = {r.id for r in reqs}
    current = []
    raw_plan = _get(obj, "current_plan", "", required=False, default=[])
    seen: set[str] = set()
    for i, raw in enumerate(_list(raw_plan, "current_plan")):
        a = _assignment(raw, f"current_plan[{i}]")
        if a.request not in req_ids:
            raise ProblemError(f"current_plan[{i}].request", f"unknown request {a.request!r}")
        if a.request in seen:
            raise ProblemError(f"current_plan[{i}].request", f"request {a.request!r} twice")
        if a.professional not in pro_ids:
            raise ProblemError(
                f"current_plan[{i}].professional", f"unknown professional {a.professional!r}"
            )
        seen.add(a.request)
        current.append(a)
    return Problem(
        professionals=tuple(pros),
        requests=tuple(reqs),
        speed_kmh=speed,
        current_plan=tuple(current),
    )


def _location_json(loc: Location) -> dict:
    return {"lat": loc.lat, "lon": loc.lon}


def _assignment_json(a: Assignment) -> dict:
    return {"request": a.request, "professional": a.professional, "start": format_time(a.start)}


def problem_to_json(problem: Problem) -> dict:
    """Return the version-1 JSON document of a problem."""
    return {
        "version": 1,
        "travel": {"speed_kmh": problem.speed_kmh},
        "professionals": [
            {
                "id": p.id,
                "location": _location_json(p.location),
                "skills": sorted(p.skills),
                "shifts": [
                    {"start": format_time(s.start), "end": format_time(s.end)} for s in p.shifts
                ],
                "max_minutes_per_week": p.max_minutes_per_week,
                "excluded_clients": sorted(p.excluded_clients),
            }
            for p in problem.professionals
        ],
        "requests": [
            {
                "id": r.id,
                "client": r.client,
                "location": _location_json(r.location),
                "skill": r.skill,
                "window_start": format_time(r.window_start),
                "window_end": format_time(r.window_end),
                "duration_min": r.duration_min,
                "priority": r.priority,
                "preferred_professional": r.preferred_professional,
                "required_professional": r.required_professional,
            }
            for r in problem.requests
        ],
        "current_plan": [_assignment_json(a) for a in problem.current_plan],
    }


def _reason_json(reason: Reason) -> dict:
    out: dict[str, Any] = {"professional": reason.professional, "rule": reason.rule}
    if reason.detail is not None:
        out["detail"] = reason.detail
    return out


def plan_to_json(plan: Plan) -> dict:
    """Return the version-1 JSON document of a plan."""
    s = plan.score
    return {
        "version": 1,
        "assignments": [_assignment_json(a) for a in plan.assignments],
        "unassigned": [
            {
                "request": u.request,
                "reasons": [_reason_json(r) for r in u.reasons],
                "suggestion": u.suggestion,
            }
            for u in plan.unassigned
        ],
        "score": {
            "covered_priority": s.covered_priority,
            "covered": s.covered,
            "requests": s.requests,
            "moved": s.moved,
            "preferences_honoured": s.preferences_honoured,
            "travel_km": s.travel_km,
        },
        "solver": dict(plan.solver),
    }


def parse_plan(data: Any) -> Plan:
    """Parse a version-1 plan document; ids are checked against a problem by validate.check."""
    obj = _object(data, "plan")
    if _get(obj, "version", "") != 1 or isinstance(obj["version"], bool):
        raise ProblemError("version", "must be 1")
    raw = _list(_get(obj, "assignments", ""), "assignments")
    assignments = tuple(_assignment(a, f"assignments[{i}]") for i, a in enumerate(raw))
    unassigned = []
    for i, raw_u in enumerate(_list(_get(obj, "unassigned", ""), "unassigned")):
        path = f"unassigned[{i}]"
        u = _object(raw_u, path)
        reasons = []
        for j, raw_r in enumerate(
            _list(_get(u, "reasons", path, required=False, default=[]), f"{path}.reasons")
        ):
            rpath = f"{path}.reasons[{j}]"
            r = _object(raw_r, rpath)
            pro = _get(r, "professional", rpath, required=False)
            detail = _get(r, "detail", rpath, required=False)
            reasons.append(
                Reason(
                    professional=None if pro is None else _string(pro, f"{rpath}.professional"),
                    rule=_string(_get(r, "rule", rpath), f"{rpath}.rule"),
                    detail=None if detail is None else _string(detail, f"{rpath}.detail"),
                )
            )
        suggestion = _get(u, "suggestion", path, required=False)
        unassigned.append(
            Unassigned(
                request=_string(_get(u, "request", path), f"{path}.request"),
                reasons=tuple(reasons),
                suggestion=None
                if suggestion is None
                else _string(suggestion, f"{path}.suggestion"),
            )
        )
    score_obj = _object(_get(obj, "score", ""), "score")
    score = Score(
        covered_priority=_integer(
            _get(score_obj, "covered_priority", "score"), "score.covered_priority", minimum=0
        ),
        covered=_integer(_get(score_obj, "covered", "score"), "score.covered", minimum=0),
        requests=_integer(_get(score_obj, "requests", "score"), "score.requests", minimum=0),
        moved=_integer(_get(score_obj, "moved", "score"), "score.moved", minimum=0),
        preferences_honoured=_integer(
            _get(score_obj, "preferences_honoured", "score"),
            "score.preferences_honoured",
            minimum=0,
        ),
        travel_km=_number(_get(score_obj, "travel_km", "score"), "score.travel_km"),
    )
    solver = _get(obj, "solver", "", required=False, default={})
    return Plan(assignments, tuple(unassigned), score, dict(_object(solver, "solver")))
