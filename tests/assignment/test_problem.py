"""Strict parsing: a broken problem is refused with its first offending field named."""

import copy

import pytest

from assignment.problem import ProblemError, parse_problem, problem_to_json
from tests.assignment import pro, problem, req

GOOD = problem_to_json(
    problem(
        [pro("P1"), pro("P2")],
        [req("R1"), req("R2"), req("R3"), req("R4", pref="P2")],
    )
)


def broken(path, value):
    doc = copy.deepcopy(GOOD)
    *parents, last = path
    node = doc
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["version"], 2, "version: must be 1"),
        (["travel", "speed_kmh"], 0, "travel.speed_kmh: must be positive"),
        (["professionals", 0, "location", "lat"], 91, "professionals[0].location.lat: must be"),
        (["professionals", 1, "id"], "P1", "professionals[1].id: duplicate professional id 'P1'"),
        (
            ["professionals", 0, "shifts", 0, "end"],
            "2026-12-07T07:00",
            "professionals[0].shifts[0].end: must be after start",
        ),
        (
            ["professionals", 0, "max_minutes_per_week"],
            -1,
            "professionals[0].max_minutes_per_week: must be at least 0",
        ),
        (
            ["requests", 3, "window_end"],
            "2026-12-07 11:00",
            "requests[3].window_end: must be YYYY-MM-DDTHH:MM",
        ),
        (
            ["requests", 3, "window_end"],
            "2026-12-07T11:00:00",
            "requests[3].window_end: must be YYYY-MM-DDTHH:MM",
        ),
        (
            ["requests", 0, "window_start"],
            "2026-02-30T09:00",
            "requests[0].window_start: must be YYYY-MM-DDTHH:MM",
        ),
        (["requests", 0, "duration_min"], "60", "requests[0].duration_min: must be an integer"),
        (["requests", 0, "priority"], 0, "requests[0].priority: must be at least 1"),
        (["requests", 2, "skill"], KeyError, "requests[2].skill: is required"),
        (
            ["requests", 3, "preferred_professional"],
            "P99",
            "requests[3].preferred_professional: unknown professional 'P99'",
        ),
        (
            ["requests", 1, "required_professional"],
            "P0",
            "requests[1].required_professional: unknown professional 'P0'",
        ),
        (
            ["current_plan"],
            [{"request": "R9", "professional": "P1", "start": "2026-12-07T09:00"}],
            "current_plan[0].request: unknown request 'R9'",
        ),
        (
            ["current_plan"],
            [{"request": "R1", "professional": "P7", "start": "2026-12-07T09:00"}],
            "current_plan[0].professional: unknown professional 'P7'",
        ),
    ],
)
def test_a_broken_field_is_named(path, value, message):
    with pytest.raises(ProblemError) as caught:
        parse_problem(broken(path, value))
    assert str(caught.value).startswith(message)


def test_the_first_offending_field_is_named():
    doc = broken(["requests", 3, "window_end"], "soon")
    doc["requests"][1]["duration_min"] = 0
    with pytest.raises(ProblemError) as caught:
        parse_problem(doc)
    assert caught.value.field_path == "requests[1].duration_min"


def test_unknown_keys_are_ignored_and_defaults_apply():
    doc = copy.deepcopy(GOOD)
    doc["colour"] = "blue"
    doc["requests"][0]["notes"] = "ring twice"
    del doc["requests"][0]["priority"]
    del doc["current_plan"]
    parsed = parse_problem(doc)
    assert parsed.requests[0].priority == 1
    assert parsed.current_plan == ()
    assert parse_problem(problem_to_json(parsed)) == parsed
