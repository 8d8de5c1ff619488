"""Plain data for the assignment problem and plan, and their JSON exchange format (version 1).

`data` holds the classes and the score, `parse` reads documents strictly, `dump` writes them.
"""

from assignment.problem.data import (
    EARTH_RADIUS_KM,
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
    compute_score,
    format_time,
    haversine_km,
    travel_minutes,
)
from assignment.problem.dump import plan_to_json, problem_to_json
from assignment.problem.parse import parse_plan, parse_problem

__all__ = [
    "EARTH_RADIUS_KM",
    "TIME_FORMAT",
    "Assignment",
    "Location",
    "Plan",
    "Problem",
    "ProblemError",
    "Professional",
    "Reason",
    "Request",
    "Score",
    "Shift",
    "Unassigned",
    "compute_score",
    "format_time",
    "haversine_km",
    "parse_plan",
    "parse_problem",
    "plan_to_json",
    "problem_to_json",
    "travel_minutes",
]
