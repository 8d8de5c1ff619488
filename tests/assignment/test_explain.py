"""Reasons for unassigned requests, rule by rule, and the one change that would cover them."""

from assignment.explain import explain
from assignment.problem import Reason
from assignment.solver import solve
from tests.assignment import at, plan, pro, problem, req


def only(prob, rows):
    (u,) = explain(prob, plan(prob, rows).assignments)
    return u


def test_nobody_has_the_skill():
    prob = problem([pro("P1")], [req("R1", skill="plumbing")])
    u = only(prob, [])
    assert u.reasons == (Reason(None, "skill"),)
    assert u.suggestion is None


def test_excluded_client_and_required_professional():
    prob = problem(
        [pro("P1", excluded=("C7",)), pro("P2", where=at(1), shifts=(("10:00", "15:00"),))],
        [req("R1", client="C7", required="P2")],
    )
    u = only(prob, [])
    assert u.reasons == (Reason("P1", "excluded_client"), Reason("P2", "no_shift"))
    assert u.suggestion == "extend P2's shift on 2026-12-07 to start at 09:00"


def test_required_professional_rules_out_the_others():
    prob = problem([pro("P1"), pro("P2", where=at(2), cap=0)], [req("R1", required="P2")])
    u = only(prob, [])
    assert u.reasons == (Reason("P1", "required_professional"), Reason("P2", "weekly_hours"))
    assert u.suggestion is None


def test_no_shift_suggests_extending_the_shift():
    prob = problem([pro("P1", shifts=(("08:00", "10:00"),))], [req("R1", start="09:30")])
    u = only(prob, [])
    assert u.reasons == (Reason("P1", "no_shift"),)
    assert u.suggestion == "extend P1's shift on 2026-12-07 to 10:30"


def test_weekly_hours():
    prob = problem([pro("P1", cap=90)], [req("R1"), req("R2", start="11:00")])
    u = only(prob, [("R1", "P1", "09:00")])
    assert u.reasons == (Reason("P1", "weekly_hours"),)
    assert u.suggestion is None


def test_busy_names_the_clashing_service_and_suggests_a_wider_window():
    prob = problem(
        [pro("P1", shifts=(("08:00", "12:00"),))],
        [req("R1", dur=120), req("R2", start="09:30", end="10:00")],
    )
    u = only(prob, [("R1", "P1", "09:00")])
    assert u.reasons == (Reason("P1", "busy", "R1 09:00-11:00"),)
    assert u.suggestion == "widen R2's window to end at 11:00 so that P1 can take it"


def test_busy_counts_travel_to_the_minute():
    # 6 km is 15 minutes at 25 km/h: R2 could start 10:15 at the earliest, its window ends 10:10
    prob = problem([pro("P1")], [req("R1"), req("R2", start="10:00", end="10:10", where=at(6))])
    u = only(prob, [("R1", "P1", "09:00")])
    assert u.reasons == (Reason("P1", "busy", "R1 09:00-10:00"),)
    assert u.suggestion == "widen R2's window to end at 10:15 so that P1 can take it"


def test_moving_one_other_request_is_suggested():
    shift = (("09:00", "10:00"),)
    prob = problem(
        [
            pro("P1", skills=("cleaning", "ironing"), shifts=shift),
            pro("P2", where=at(1), shifts=shift),
        ],
        [req("R1"), req("R2", skill="ironing")],
    )
    u = only(prob, [("R1", "P1", "09:00")])
    assert u.reasons == (Reason("P1", "busy", "R1 09:00-10:00"),)
    assert u.suggestion == "move R1 to P2 at 2026-12-07T09:00 so that P1 can take R2"


def test_the_ten_nearest_skilled_professionals_are_named_nearest_first():
    pros = [pro(f"P{i}", where=at(i), cap=0) for i in range(1, 13)]
    prob = problem(pros + [pro("PX", skills=("ironing",))], [req("R1")])
    u = only(prob, [])
    assert [r.professional for r in u.reasons] == [f"P{i}" for i in range(1, 11)]
    assert {r.rule for r in u.reasons} == {"weekly_hours"}


def test_the_engine_covers_what_a_move_would_cover():
    shift = (("09:00", "10:00"),)
    prob = problem(
        [
            pro("P1", skills=("cleaning", "ironing"), shifts=shift),
            pro("P2", where=at(1), shifts=shift),
        ],
        [req("R1", where=at(0.5)), req("R2", skill="ironing")],
    )
    result = solve(prob, time_limit_s=2)
    assert {(a.request, a.professional) for a in result.assignments} == {("R1", "P2"), ("R2", "P1")}
    assert result.unassigned == ()
