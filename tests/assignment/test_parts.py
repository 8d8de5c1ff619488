"""City and country scale, pure: a problem split into parts that cannot reach each other, the
parts' plans joined into one the independent validator accepts whole (assignment.parts)."""

import json
from datetime import datetime

from click.testing import CliRunner

from assignment.commands import assign
from assignment.parts import PartsRejected, check_joined, join, split
from assignment.planted import CITIES, planted_cities
from assignment.problem import (
    Assignment,
    Location,
    Plan,
    Problem,
    Professional,
    Request,
    Shift,
    compute_score,
    parse_problem,
)
from assignment.solver import solve
from assignment.validate import check

MONDAY = datetime(2026, 12, 14)


def _pro(pid, at, *, days=(0,), start=8, end=15, skills=("cleaning",)):
    bases = [MONDAY.replace(day=MONDAY.day + day) for day in days]
    return Professional(
        id=pid, location=at, skills=frozenset(skills),
        shifts=tuple(Shift(b.replace(hour=start), b.replace(hour=end)) for b in bases),
        max_minutes_per_week=2400,
    )


def _req(rid, at, *, day=0, hour=10, client=None):
    t = MONDAY.replace(day=MONDAY.day + day, hour=hour)
    return Request(id=rid, client=client or f"C{rid}", location=at, skill="cleaning",
                   window_start=t, window_end=t, duration_min=60)


def _east(km: float) -> Location:
    # along the parallel of Valencia: 1 degree of longitude is about 85.9 km there
    return Location(39.47, -0.376 + km / 85.9)


def _ids(problem: Problem) -> tuple[set, set]:
    return {p.id for p in problem.professionals}, {r.id for r in problem.requests}


def test_two_cities_far_apart_are_two_parts_each_with_its_own_people():
    problem, _ = planted_cities(2, 30, 200, seed=4)
    parts = split(problem, min_requests=1)
    assert parts.components == 2 and len(parts.parts) == 2
    valencia = {p.id for p in problem.professionals[:30]} | {r.id for r in problem.requests[:200]}
    for part in parts.parts:
        pros, reqs = _ids(part)
        assert (len(pros), len(reqs)) == (30, 200)
        # a part is one city: all of Valencia's people or none of them
        assert (pros | reqs) <= valencia or not (pros | reqs) & valencia


def test_a_professional_who_can_reach_both_zones_joins_them():
    # zones 200 km apart: a 7-hour shift holds an hour's service after 8 hours' trip? no
    west, east = _east(0), _east(200)
    alone = Problem(
        professionals=(_pro("PW", west), _pro("PE", east)),
        requests=(_req("RW", west), _req("RE", east)),
    )
    assert len(split(alone, min_requests=1).parts) == 2
    # halfway, 100 km from each: 4 hours' trip and the service fit one 7-hour shift
    both = Problem(
        professionals=(*alone.professionals, _pro("PM", _east(100))),
        requests=alone.requests,
    )
    parts = split(both, min_requests=1)
    assert parts.components == 1 and parts.parts == (both,)


def test_small_parts_are_packed_together_and_a_problem_that_does_not_split_stays_whole():
    problem, _ = planted_cities(3, 20, 120, seed=2)
    # three cities, at most two parts: the two smallest loads share one
    parts = split(problem, max_parts=2, min_requests=1)
    assert parts.components == 3
    assert sorted(len(p.requests) for p in parts.parts) == [120, 240]
    # parts below min_requests are not worth a worker: the problem is solved whole
    assert split(problem, min_requests=200).parts == (problem,)
    # a city smaller than that rides along with another
    town = planted_cities(3, 20, 120, seed=2)[0]
    small = type(town)(professionals=town.professionals[:50],
                       requests=town.requests[:250], speed_kmh=town.speed_kmh)
    sizes = sorted(len(p.requests) for p in split(small, min_requests=100).parts)
    assert sizes == [120, 130]


def test_joined_plan_of_far_cities_passes_the_validator_and_is_maximal():
    problem, planted = planted_cities(2, 12, 80, seed=5)
    parts = split(problem, min_requests=1)
    plans = [solve(part, time_limit_s=3) for part in parts.parts]
    joined = join(problem, plans)
    assert check(problem, joined) == []
    check_joined(problem, joined)  # does not raise
    assert joined.score.covered == sum(p.score.covered for p in plans)
    assert joined.score.covered == planted.score.covered  # 100% of the planted coverage
    assert joined.solver["parts"] == 2


def test_join_gives_a_request_left_in_one_part_to_a_professional_of_another_who_can_take_it():
    # RW's only neighbour does not work on Monday; PE, 200 km away, has nothing on Monday. The
    # trip from home need not fit the shift (spec rule 3), so by the rules PE can take RW: a
    # join that only put the parts' plans together would not be maximal
    west, east = _east(0), _east(200)
    problem = Problem(
        professionals=(_pro("PW", west, days=(1,)), _pro("PE", east, days=(0, 2))),
        requests=(_req("RW", west), _req("RE", east, day=2, hour=9)),
    )
    parts = split(problem, min_requests=1)
    assert len(parts.parts) == 2
    plans = [solve(part, time_limit_s=1) for part in parts.parts]
    concatenated = Plan(
        tuple(a for p in plans for a in p.assignments),
        tuple(u for p in plans for u in p.unassigned),
        compute_score(problem, [a for p in plans for a in p.assignments]),
    )
    assert [v.rule for v in check(problem, concatenated)] == ["not_maximal"]

    joined = join(problem, plans)
    assert check(problem, joined) == []
    assert {a.request: a.professional for a in joined.assignments}["RW"] == "PE"
    assert joined.unassigned == () and joined.solver["added_across_parts"] == 1


def test_a_joined_plan_the_validator_rejects_raises_naming_the_violations():
    west = _east(0)
    problem = Problem(professionals=(_pro("PW", west),), requests=(_req("RW", west),))
    # 07:00 is outside the request's window and the shift
    bad = [a for a in (Assignment("RW", "PW", MONDAY.replace(hour=7)),)]
    plan = Plan(tuple(bad), (), compute_score(problem, bad))
    try:
        check_joined(problem, plan)
    except PartsRejected as exc:
        assert {v.rule for v in exc.violations} == {"window", "shift"}
        assert "[window]" in str(exc) and "rejected by the validator" in str(exc)
    else:
        raise AssertionError("a plan breaking the window was accepted")


def test_generate_cities_writes_one_problem_of_far_cities_and_its_planted_plan(tmp_path):
    runner = CliRunner()
    out, plan = tmp_path / "country.json", tmp_path / "planted.json"
    result = runner.invoke(assign, [
        "generate", "--professionals", "5", "--requests", "30", "--seed", "7", "--cities", "3",
        "--out", str(out), "--plan-out", str(plan),
    ])
    assert result.exit_code == 0, result.output
    assert "90 requests, 15 professionals in 3 cities" in result.output
    problem = parse_problem(json.loads(out.read_text()))
    # per city: every id unique over the whole problem
    assert len({p.id for p in problem.professionals}) == 15
    assert len({r.id for r in problem.requests}) == 90
    assert runner.invoke(assign, ["check", str(out), str(plan)]).exit_code == 0
    assert len(split(problem, min_requests=1).parts) == 3
    # the first city is the one --cities 1 writes, around Valencia; the others far from it
    one = tmp_path / "one.json"
    runner.invoke(assign, ["generate", "--professionals", "5", "--requests", "30", "--seed", "7",
                           "--out", str(one)])
    assert json.loads(one.read_text())["requests"] == json.loads(out.read_text())["requests"][:30]
    assert abs(problem.requests[-1].location.lat - CITIES[2][1].lat) < 0.5


def test_generate_refuses_more_cities_than_it_knows(tmp_path):
    result = CliRunner().invoke(assign, [
        "generate", "--professionals", "2", "--requests", "5", "--cities", str(len(CITIES) + 1),
        "--out", str(tmp_path / "p.json"),
    ])
    assert result.exit_code == 2 and "--cities" in result.output
