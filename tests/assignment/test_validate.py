"""One test per hard rule: a plan breaking exactly that rule is reported, and nothing else."""

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from assignment.planted import planted_instance
from assignment.problem import Plan, Unassigned, compute_score
from assignment.validate import check
from tests.assignment import at, plan, pro, problem, req


def rules(prob, p):
    return sorted({v.rule for v in check(prob, p)})


def test_a_valid_plan_has_no_violation():
    prob = problem([pro("P1")], [req("R1"), req("R2", start="10:00", end="10:30", where=at(1))])
    assert check(prob, plan(prob, [("R1", "P1", "09:00"), ("R2", "P1", "10:03")])) == []


def test_rule_1_skill():
    prob = problem([pro("P1")], [req("R1", skill="plumbing")])
    assert rules(prob, plan(prob, [("R1", "P1", "09:00")])) == ["skill"]


def test_rule_2_window():
    prob = problem([pro("P1")], [req("R1", start="09:00", end="09:15")])
    assert rules(prob, plan(prob, [("R1", "P1", "09:30")])) == ["window"]


def test_rule_3_service_must_end_inside_the_shift():
    prob = problem([pro("P1")], [req("R1", start="14:30")])
    assert rules(prob, plan(prob, [("R1", "P1", "14:30")])) == ["shift"]


def test_rule_3_touching_shifts_do_not_combine():
    p1 = pro("P1", shifts=(("08:00", "12:00"), ("12:00", "16:00")))
    prob = problem([p1], [req("R1", start="11:30")])
    assert rules(prob, plan(prob, [("R1", "P1", "11:30")])) == ["shift"]


def test_rule_4_overlap():
    prob = problem([pro("P1")], [req("R1"), req("R2", start="09:30")])
    assert rules(prob, plan(prob, [("R1", "P1", "09:00"), ("R2", "P1", "09:30")])) == ["overlap"]


def test_rule_4_travel_between_same_day_services_to_the_minute():
    # 10 km at 25 km/h is 24 minutes; 10:05 leaves 5, beyond the one minute of slack
    prob = problem([pro("P1")], [req("R1"), req("R2", start="10:00", end="11:00", where=at(10))])
    assert rules(prob, plan(prob, [("R1", "P1", "09:00"), ("R2", "P1", "10:05")])) == ["travel"]
    assert rules(prob, plan(prob, [("R1", "P1", "09:00"), ("R2", "P1", "10:24")])) == []


def test_rule_4_travel_does_not_bind_across_days():
    p1 = pro("P1", shifts=(("20:00", "23:59"),))
    p1 = replace(
        p1, shifts=p1.shifts + pro("P", shifts=(("00:00", "06:00"),), day="2026-12-08").shifts
    )
    prob = problem(
        [p1], [req("R1", start="22:59"), req("R2", start="00:00", day="2026-12-08", where=at(10))]
    )
    ok = plan(prob, [("R1", "P1", "22:59"), ("R2", "P1", "2026-12-08T00:00")])
    assert rules(prob, ok) == []


def test_rule_5_weekly_hours():
    p1 = pro("P1", cap=100, shifts=(("08:00", "15:00"),))
    p1 = replace(p1, shifts=p1.shifts + pro("P", day="2026-12-08").shifts)
    prob = problem([p1], [req("R1"), req("R2", day="2026-12-08")])
    bad = plan(prob, [("R1", "P1", "09:00"), ("R2", "P1", "2026-12-08T09:00")])
    assert rules(prob, bad) == ["weekly_hours"]


def test_rule_5_counts_each_iso_week_by_start_date():
    sunday, monday = "2026-12-13", "2026-12-14"
    p1 = pro("P1", cap=60, day=sunday)
    p1 = replace(p1, shifts=p1.shifts + pro("P", day=monday).shifts)
    prob = problem([p1], [req("R1", day=sunday), req("R2", day=monday)])
    ok = plan(prob, [("R1", "P1", f"{sunday}T09:00"), ("R2", "P1", f"{monday}T09:00")])
    assert rules(prob, ok) == []


def test_rule_6_excluded_client():
    prob = problem([pro("P1", excluded=("C9",))], [req("R1", client="C9")])
    assert rules(prob, plan(prob, [("R1", "P1", "09:00")])) == ["excluded_client"]


def test_rule_7_required_professional():
    prob = problem([pro("P1"), pro("P2")], [req("R1", required="P2")])
    assert rules(prob, plan(prob, [("R1", "P1", "09:00")])) == ["required_professional"]


def test_every_request_exactly_once():
    prob = problem([pro("P1")], [req("R1"), req("R2", start="11:00")])
    p = plan(prob, [("R1", "P1", "09:00"), ("R2", "P1", "11:00")])
    missing = replace(p, assignments=p.assignments[:1])
    assert "exactly_once" in rules(prob, missing)
    doubled = replace(p, assignments=p.assignments + p.assignments[:1])
    assert "exactly_once" in rules(prob, doubled)


@pytest.mark.parametrize(("factor", "bad"), [(1.004, False), (1.01, True), (0.99, True)])
def test_stated_travel_is_checked_within_half_a_percent(factor, bad):
    prob = problem([pro("P1")], [req("R1", where=at(5))])
    p = plan(prob, [("R1", "P1", "09:00")])
    stated = replace(p, score=replace(p.score, travel_km=round(p.score.travel_km * factor, 2)))
    assert (rules(prob, stated) == ["score"]) is bad


def test_a_request_left_out_that_fits_is_reported():
    prob = problem([pro("P1")], [req("R1"), req("R2", start="11:00")])
    assert rules(prob, plan(prob, [("R1", "P1", "09:00")])) == ["not_maximal"]


def test_a_request_only_its_required_professional_could_take_is_reported_only_if_they_can():
    prob = problem(
        [pro("P1"), pro("P2", where=at(1))],
        [req("R1"), req("R2", start="09:00", end="09:00", required="P2")],
    )
    assert rules(prob, plan(prob, [("R1", "P2", "09:00")])) == []
    assert rules(prob, plan(prob, [("R1", "P1", "09:00")])) == ["not_maximal"]


def test_a_request_left_out_where_the_week_is_full_or_the_client_excluded_is_not_reported():
    full = problem(
        [pro("P1", cap=120), pro("P2", excluded=("C2",), where=at(1))],
        [req("R1", dur=120), req("R2", start="11:00", end="12:00", client="C2")],
    )
    assert rules(full, plan(full, [("R1", "P1", "09:00")])) == []
    # the same plan once P1's week has exactly R2's minutes left: P1 could take it
    roomy = replace(full, professionals=(replace(full.professionals[0], max_minutes_per_week=180),
                                         full.professionals[1]))
    assert rules(roomy, plan(roomy, [("R1", "P1", "09:00")])) == ["not_maximal"]


def _reference_not_maximal(prob, p):
    """The maximality check done the plain way: every unassigned request, every professional,
    every start minute of its window (travel plus the validator's minute of slack)."""
    from assignment.problem import haversine_km, travel_minutes

    reqs = {r.id: r for r in prob.requests}
    by_pro = {}
    for a in p.assignments:
        by_pro.setdefault(a.professional, []).append((a.start, reqs[a.request]))
    out = set()
    for u in p.unassigned:
        r = reqs[u.request]
        for q in prob.professionals:
            if r.skill not in q.skills or r.client in q.excluded_clients:
                continue
            if r.required_professional not in (None, q.id):
                continue
            mine = by_pro.get(q.id, [])
            t = r.window_start
            while t <= r.window_end and u.request not in out:
                end = t + timedelta(minutes=r.duration_min)
                week = t.isocalendar()[:2]
                used = sum(x.duration_min for s, x in mine if s.isocalendar()[:2] == week)
                ok = any(s.start <= t and end <= s.end for s in q.shifts)
                ok = ok and used + r.duration_min <= q.max_minutes_per_week
                for s, x in mine if ok else ():
                    e = s + timedelta(minutes=x.duration_min)
                    if s < end and t < e:
                        ok = False
                    elif s.date() == t.date():
                        km = haversine_km(x.location, r.location)
                        trip = timedelta(minutes=travel_minutes(km, prob.speed_kmh) + 1)
                        ok = not (e <= t < e + trip or end <= s < end + trip)
                    if not ok:
                        break
                if ok:
                    out.add(u.request)
                t += timedelta(minutes=1)
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_the_maximality_check_agrees_with_the_plain_way_on_plans_with_services_left_out(seed):
    prob, planted = planted_instance(6, 40, seed)
    rng = random.Random(seed)
    kept = [a for a in planted.assignments if rng.random() < 0.6]
    left = {a.request for a in planted.assignments} - {a.request for a in kept}
    p = Plan(tuple(kept), tuple(Unassigned(r, (), None) for r in sorted(left)),
             compute_score(prob, tuple(kept)), {})
    found = {v.request for v in check(prob, p) if v.rule == "not_maximal"}
    assert found == _reference_not_maximal(prob, p)
    assert found  # some of what was left out fits again
