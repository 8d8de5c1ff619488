"""Benchmark the assignment engine against the greedy baseline on planted instances.

    python bench/assignment.py [--quick] [--seeds 1 2 3] [--only small medium large sick crowded]
                               [--baseline DIR]

small sets the engine against the planted plan and a plain day-by-day CP-SAT model
(bench/daily_cpsat.py) given the same time limit, with the proven lower bound beside it.
--baseline DIR also runs the engine of another checkout (e.g. a `git worktree add DIR HEAD`)
on the same instances in the same run, as "base" rows.

Each solve runs in its own subprocess so that its wall time and peak memory (ru_maxrss) are its
own. Rows are per seed, then the median. This prints figures; it asserts nothing. Coverage does
not depend on machine load (greedy, ejection chains and CP-SAT steps bounded by deterministic
time); travel does a little, since the clock can cut the travel steps short on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {"small": (40, 320, 10.0), "medium": (200, 1500, 25.0), "large": (1000, 8000, 105.0)}
# most requests cannot be placed: a planted week with only one professional in five kept
CROWDED = {"crowded": (200, 1500, 5.0), "crowded-large": (1000, 8000, 10.0)}
CROWDED_KEEP = 0.2
GOALS = {
    "small": "travel <= planted and <= the day-by-day CP-SAT model's, same 10 s limit",
    "crowded": "a valid plan within the limit + 1 s (4 of 5 professionals gone)",
    "crowded-large": "a valid plan within the limit + 1 s (4 of 5 professionals gone)",
    "medium": "100% covered, travel <= planted, < 30 s, < 1 GB",
    "large": "100% covered, travel <= planted, < 120 s, < 2 GB",
    "sick": "repaired < 1 s, every orphan that can be placed is placed, <= 5 others moved",
}
SICK_TRIES = 400  # busiest professional-days tried for one the plan cannot absorb without moves


def _without_day(problem, pid, day):
    pros = tuple(
        replace(p, shifts=tuple(s for s in p.shifts if s.start.date() != day)) if p.id == pid else p
        for p in problem.professionals
    )
    return replace(problem, professionals=pros)


def _sick_day(problem, planted):
    """Take away the day of a busy professional whose services others cannot simply absorb.

    The planted plan becomes the current plan. Among the busiest professional-days, the first is
    chosen where placing the orphans one by one wherever they fit as the plan stands (what the
    greedy baseline does: it moves nobody) leaves one that another professional could take if
    others moved: only moving others can place it.
    """
    from assignment._data import Data
    from assignment.greedy import from_current, place

    current = replace(problem, current_plan=planted.assignments)
    data = Data(current)
    base = from_current(data)
    load: dict = {}
    for a in planted.assignments:
        key = (a.professional, a.start.date())
        load[key] = load.get(key, 0) + 1
    for (pid, day), _ in sorted(load.items(), key=lambda kv: (-kv[1], kv[0]))[:SICK_TRIES]:
        p = data.pro_index[pid]
        sched = base.copy()
        lost = [r for t, r in list(sched.items[p]) if planted_day(data, t) == day]
        for r in lost:
            sched.unassign(r)
        stuck = [
            r
            for r in lost
            if data.required[r] != p
            and not place(
                sched, r, [q for q in data.skilled_by_distance(r) if q != p and data.allowed(r, q)]
            )
            and any(q != p for q in data.candidates(r))
        ]
        if stuck:
            break
    orphans = {data.reqs[r].id for r in lost if data.required[r] != p}
    pinned = {data.reqs[r].id for r in lost if data.required[r] == p}
    return _without_day(current, pid, day), orphans, pinned, f"{pid} on {day}"


def planted_day(data, minute: int):
    from assignment._data import from_minute

    return from_minute(minute).date()


def worker(scenario: str, method: str, seed: int) -> dict:
    """Generate one instance, run one method on it, and return its figures."""
    if method == "base":  # the same instance, another checkout's engine
        sys.path.insert(0, BASELINE[0])
        for name in [m for m in sys.modules if m == "assignment" or m.startswith("assignment.")]:
            del sys.modules[name]
    from assignment.planted import planted_instance
    from assignment.solver import greedy, repair, solve
    from assignment.validate import check

    if scenario in CROWDED:
        return _crowded(scenario, method, seed)
    size = "large" if scenario == "sick" else scenario
    n_pros, n_reqs, limit = SIZES[size]
    problem, planted = planted_instance(n_pros, n_reqs, seed)
    orphans: set = set()
    pinned: set = set()
    sick_of = ""
    if scenario == "sick":
        problem, orphans, pinned, sick_of = _sick_day(problem, planted)
    started = time.monotonic()
    if method == "planted":
        plan = planted
    elif method == "greedy":
        plan = greedy(problem)
    elif method == "daily":
        from daily_cpsat import solve_daily

        plan = solve_daily(problem, time_limit_s=limit)
    elif scenario == "sick":
        plan = repair(problem, time_limit_s=1.0)
    else:
        plan = solve(problem, time_limit_s=limit)
    wall = time.monotonic() - started
    given = {a.request: a.professional for a in plan.assignments}
    current = {a.request: a.professional for a in problem.current_plan}
    lost = orphans | pinned
    violations = {v.rule for v in check(problem, plan)}
    if method == "daily":  # a yardstick for travel: it does not try to be maximal
        violations.discard("not_maximal")
    return {
        "requests": len(problem.requests),
        "coverage": plan.score.covered / len(problem.requests),
        "uncovered": len(problem.requests) - plan.score.covered,
        "priority": plan.score.covered_priority,
        "travel_km": plan.score.travel_km,
        "planted_km": planted.score.travel_km,
        "bound_km": plan.solver.get("bound_travel_km"),
        "moved": plan.score.moved,
        "others_moved": sum(1 for r, p in current.items() if r not in lost and given.get(r) != p),
        "orphans": len(orphans),
        "orphans_placed": sum(1 for r in orphans if r in given),
        "pinned_lost": len(pinned),
        "sick": sick_of,
        "valid": not violations,
        "status": plan.solver.get("status"),
        "prefs": plan.score.preferences_honoured,
        "limit_s": 1.0 if scenario == "sick" else limit,
        "wall_s": wall,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _crowded(scenario: str, method: str, seed: int) -> dict:
    """Solve a planted week after taking 4 of 5 professionals away; time the whole solve."""
    from assignment.planted import planted_instance
    from assignment.solver import greedy, solve
    from assignment.validate import check

    n_pros, n_reqs, limit = CROWDED[scenario]
    problem, _ = planted_instance(n_pros, n_reqs, seed)
    kept = problem.professionals[: int(len(problem.professionals) * CROWDED_KEEP)]
    ids = {p.id for p in kept}
    requests = tuple(
        replace(r, preferred_professional=r.preferred_professional
                if r.preferred_professional in ids else None,
                required_professional=r.required_professional
                if r.required_professional in ids else None)
        for r in problem.requests
    )
    problem = replace(problem, professionals=kept, requests=requests, current_plan=())
    started = time.monotonic()
    plan = greedy(problem) if method == "greedy" else solve(problem, time_limit_s=limit)
    wall = time.monotonic() - started  # with the engine's own validation, as a caller waits
    check_started = time.monotonic()
    valid = not check(problem, plan)
    check_s = time.monotonic() - check_started
    return {
        "requests": len(problem.requests),
        "coverage": plan.score.covered / len(problem.requests),
        "uncovered": len(problem.requests) - plan.score.covered,
        "limit_s": limit,
        "wall_s": wall,
        "engine_s": plan.solver.get("wall_s") or 0.0,
        "overshoot_s": wall - limit,
        "check_s": check_s,
        "valid": valid,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _crowded_row(label: str, r: dict) -> str:
    return (
        f"{label:14} {r['requests']:6.0f} {100 * r['coverage']:7.2f} {r['uncovered']:9.0f} "
        f"{r['limit_s']:7.1f} {r['wall_s']:7.2f} {r['engine_s']:8.2f} {r['overshoot_s']:+9.2f} "
        f"{r['check_s']:7.2f} {r['peak_mb']:7.0f}" + ("" if r["valid"] else "  INVALID")
    )


def _crowded_table(scenario: str, seeds: list[int]) -> None:
    print(f"\n== {scenario}: goal {GOALS[scenario]}")
    print(f"{'method/seed':14} {'reqs':>6} {'cover%':>7} {'uncovered':>9} {'limit':>7} "
          f"{'wall_s':>7} {'engine_s':>8} {'overshoot':>9} {'check_s':>7} {'peak_MB':>7}")
    for s in seeds:
        base = run(scenario, "greedy", s)
        print(_crowded_row(f"greedy s{s}", base), flush=True)
        for method in ["engine", "base"] if BASELINE else ["engine"]:
            r = run(scenario, method, s)
            print(_crowded_row(f"{method} s{s}", r) + f"  ({r['wall_s'] / base['wall_s']:.1f}x "
                  "the greedy baseline's wall)", flush=True)


BASELINE: list[str] = []  # the other checkout's root, given --baseline


def run(scenario: str, method: str, seed: int) -> dict:
    extra = ["--baseline", BASELINE[0]] if BASELINE else []
    out = subprocess.run(
        [sys.executable, __file__, "--worker", scenario, method, str(seed), *extra],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(label: str, r: dict, scenario: str) -> str:
    vs = 100 * (r["travel_km"] / r["planted_km"] - 1) if r["planted_km"] else 0.0
    bound = "-" if r.get("bound_km") is None else f"{r['bound_km']:.0f}"
    extra = (
        f"{r['orphans_placed']:.0f}/{r['orphans']:.0f} placeable placed"
        f" (+{r['pinned_lost']:.0f} pinned to them)"
        if scenario == "sick"
        else f"{r['uncovered']:.0f} uncovered"
    )
    return (
        f"{label:14} {r['requests']:6.0f} {100 * r['coverage']:7.2f} {r['priority']:6.0f} "
        f"{r['travel_km']:10.2f} {vs:+7.1f}% {bound:>7} {r['prefs']:5.0f} {r['moved']:5.0f} "
        f"{r['others_moved']:6.0f} {r['wall_s']:7.2f} {r['wall_s'] - r['limit_s']:+6.2f} "
        f"{r['peak_mb']:7.0f}  {extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one seed; small, medium, sick and crowded only")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--only", nargs="+",
                        choices=["small", "medium", "large", "sick", "crowded", "crowded-large"])
    parser.add_argument("--worker", nargs=3, metavar=("SCENARIO", "METHOD", "SEED"))
    parser.add_argument("--baseline", metavar="DIR",
                        help="also run the engine of this checkout (rows 'base')")
    args = parser.parse_args()
    if args.baseline:
        BASELINE.append(str(Path(args.baseline).resolve()))
    if args.worker:
        scenario, method, seed = args.worker
        print(json.dumps(worker(scenario, method, int(seed))))
        return
    seeds = [args.seeds[0]] if args.quick else args.seeds
    scenarios = args.only or (["small", "medium", "sick", "crowded"] if args.quick
                              else ["small", "medium", "large", "sick", "crowded",
                                    "crowded-large"])
    for scenario in scenarios:
        if scenario in CROWDED:
            _crowded_table(scenario, seeds)
            continue
        print(f"\n== {scenario}: goal {GOALS[scenario]}")
        # for the sick day, "planted" is the current plan before the repair (broken by the absence)
        print(
            f"{'method/seed':14} {'reqs':>6} {'cover%':>7} {'prio':>6} {'travel_km':>10} "
            f"{'vs plant':>8} {'bound':>7} {'prefs':>5} {'moved':>5} {'others':>6} {'wall_s':>7} "
            f"{'over_s':>6} {'peak_MB':>7}  notes"
        )
        methods = ["planted", "greedy", *(["daily"] if scenario == "small" else []), "engine"]
        for method in methods + (["base"] if BASELINE and scenario != "sick" else []):
            rows = []
            for s in seeds:
                r = run(scenario, method, s)
                rows.append(r)
                note = f" ({r['sick']})" if scenario == "sick" and method == "engine" else ""
                valid = "" if r["valid"] else "  INVALID"
                if scenario == "sick" and method == "planted":
                    valid = "  (the current plan, broken by the absence)"
                print(_row(f"{method} s{s}", r, scenario) + note + valid, flush=True)
            if len(rows) > 1:
                med = {
                    k: statistics.median(r[k] for r in rows)
                    for k in rows[0]
                    if isinstance(rows[0][k], (int, float)) and not isinstance(rows[0][k], bool)
                }
                med["bound_km"] = None
                print(_row(f"{method} median", med, scenario), flush=True)


if __name__ == "__main__":
    main()
