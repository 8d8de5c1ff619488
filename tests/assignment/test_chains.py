"""Covering what weekly hours block: ejection chains, clearing a day, the move budget, the bound."""

import time

import pytest

from assignment import _bound
from assignment._bound import travel_lower_bound
from assignment._data import Data
from assignment._finish import finish
from assignment._lns import cover_leftovers
from assignment.greedy import fill, from_current
from assignment.planted import planted_instance
from assignment.problem import Assignment
from assignment.solver import repair, solve
from assignment.validate import check
from tests.assignment import at, pro, problem, req, when


def _chain_of_two():
    """NEW needs P1, whose hours go to R_B; only P2 can take R_B, and only P3 R_C from P2."""
    pros = [
        pro("P1", skills=("ironing", "cleaning"), cap=120),
        pro("P2", skills=("cleaning", "windows"), cap=120, where=at(1)),
        pro("P3", skills=("windows",), cap=120, where=at(2)),
    ]
    reqs = [
        req("NEW", skill="ironing", dur=120, start="09:00", end="12:00"),
        req("R_B", dur=120, start="09:00", end="12:00"),
        req("R_C", skill="windows", dur=120, start="09:00", end="12:00", where=at(1.5)),
    ]
    current = [Assignment("R_B", "P1", when("09:00")), Assignment("R_C", "P2", when("09:00"))]
    return problem(pros, reqs, current)


def test_a_request_is_covered_by_passing_hours_along_a_chain():
    prob = _chain_of_two()
    result = solve(prob, time_limit_s=2)
    assert check(prob, result) == []
    given = {a.request: a.professional for a in result.assignments}
    assert given == {"NEW": "P1", "R_B": "P2", "R_C": "P3"}
    assert result.score.moved == 2


@pytest.mark.parametrize("max_moves, covered", [(1, False), (2, True)])
def test_a_repair_follows_a_chain_only_within_its_move_budget(max_moves, covered):
    prob = _chain_of_two()
    result = repair(prob, max_moves=max_moves)
    assert check(prob, result) == []
    assert ("NEW" in {a.request for a in result.assignments}) == covered
    assert result.score.moved <= max_moves


def test_a_day_is_cleared_when_two_services_must_leave_and_a_pinned_one_wait():
    # NEW is pinned to P1 at 10:00-13:00; R_X is pinned to P1 too and has to wait until 13:00;
    # then R_Z, 20 minutes away, no longer fits before 16:15: R_Y and R_Z both go to P2
    far = at(8.5)
    pros = [pro("P1", shifts=(("09:00", "17:00"),)), pro("P2", shifts=(("09:00", "17:00"),))]
    reqs = [
        req("NEW", dur=180, start="10:00", required="P1"),
        req("R_X", dur=180, start="12:45", end="13:15", required="P1"),
        req("R_Y", dur=180, start="09:30", end="10:45"),
        req("R_Z", dur=60, start="15:15", end="16:15", where=far),
    ]
    current = [
        Assignment("R_X", "P1", when("12:45")),
        Assignment("R_Y", "P1", when("09:30")),
        Assignment("R_Z", "P1", when("16:00")),
    ]
    prob = problem(pros, reqs, current)
    data = Data(prob)
    sched = from_current(data)
    fill(sched)
    assert sched.unassigned() == [0]  # NEW: no single move makes room for it

    cover_leftovers(sched, deadline=time.monotonic() + 5, k=16)
    plan = finish(sched, status="feasible", started=time.monotonic())

    assert check(prob, plan) == []
    given = {a.request: (a.professional, a.start.strftime("%H:%M")) for a in plan.assignments}
    assert given["NEW"] == ("P1", "10:00") and given["R_X"] == ("P1", "13:00")
    assert given["R_Y"][0] == given["R_Z"][0] == "P2"


def test_the_travel_bound_holds_and_is_tight_for_a_single_trip():
    prob = problem([pro("P1", where=at(3))], [req("R1")])
    result = solve(prob, time_limit_s=1)
    assert result.score.travel_km - 0.02 <= result.solver["bound_travel_km"]
    assert result.solver["bound_travel_km"] <= result.score.travel_km


def test_a_day_too_large_for_the_flow_still_gets_a_bound_below_the_flow_s(monkeypatch):
    prob, planted = planted_instance(30, 250, 3)
    data = Data(prob)
    covered = list(range(data.n_reqs))
    flow = travel_lower_bound(data, covered)
    monkeypatch.setattr(_bound, "FLOW_ROWS", 16)  # every day is split into blocks of 16 rows
    split = travel_lower_bound(data, covered)
    assert 0 < split <= flow <= planted.score.travel_km


def test_planted_instances_have_the_size_asked_and_caps_just_above_the_planted_week():
    prob, planted = planted_instance(200, 1500, 2)
    assert len(prob.requests) == 1500
    minutes = {}
    durations = {r.id: r.duration_min for r in prob.requests}
    for a in planted.assignments:
        minutes[a.professional] = minutes.get(a.professional, 0) + durations[a.request]
    slack = [p.max_minutes_per_week - minutes.get(p.id, 0) for p in prob.professionals]
    assert min(slack) >= 0 and max(slack) < 180
    result = solve(prob, time_limit_s=20, steps=20, route_steps=20)
    assert check(prob, result) == []
    assert result.score.covered == 1500
    assert 0 < result.solver["bound_travel_km"] <= result.score.travel_km <= planted.score.travel_km
