"""Strict reading of the JSON exchange format: the first offending field is named."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from assignment.problem.data import (
    TIME_FORMAT,
    Assignment,
    Location,
    Plan,
    Problem,
    ProblemError,
    Professional,
    Reason,
    Request,
    Score,
    Shift,
    Unassigned,
)

_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


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
