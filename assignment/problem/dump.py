"""Writing problems and plans as version-1 JSON documents."""

from __future__ import annotations

from typing import Any

from assignment.problem.data import Assignment, Location, Plan, Problem, Reason, format_time


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
