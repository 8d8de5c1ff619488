"""Benchmark the assignment engine against the greedy baseline on planted instances.

    python bench/assignment.py [--quick]

Each solve runs in its own subprocess so that its wall time and peak memory (ru_maxrss) are its
own. Figures are the median over seeds. This prints figures; it asserts nothing.
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

SIZES = {"medium": (200, 1500, 25.0), "large": (1000, 8000, 105.0)}
GOALS = {
    "medium": "100% covered, travel <= planted, < 30 s, < 1 GB",
    "large": "100% covered, travel <= planted, < 120 s, < 2 GB",
    "sick": "repaired < 1 s, every orphan that can be placed is placed, <= 5 others moved",
}


def _sick_day(problem, planted):
    """Remove the busiest professional's busiest day; the planted plan becomes the current plan."""
    load: dict = {}
    for a in planted.assignments:
        key = (a.professional, a.start.date())
        load[key] = load.get(key, 0) + 1
    (pid, day), _ = max(load.items(), key=lambda kv: (kv[1], kv[0]))
    pros = tuple(
        replace(p, shifts=tuple(s for s in p.shifts if s.start.date() != day)) if p.id == pid else p
        for p in problem.professionals
    )
    orphans = {
        a.request for a in planted.assignments if (a.professional, a.start.date()) == (pid, day)
    }
    return replace(problem, professionals=pros, current_plan=planted.assignments), orphans


def worker(scenario: str, method: str, seed: int) -> dict:
    """Generate one instance, run one method on it, and return its figures."""
    from assignment.greedy import greedy
    from assignment.planted import planted_instance
    from assignment.solver import repair, solve
    from assignment.validate import check

    size = "large" if scenario == "sick" else scenario
    n_pros, n_reqs, limit = SIZES[size]
    problem, planted = planted_instance(n_pros, n_reqs, seed)
    orphans: set = set()
    if scenario == "sick":
        problem, orphans = _sick_day(problem, planted)
    started = time.monotonic()
    if method == "planted":
        plan = planted
    elif method == "greedy":
        plan = greedy(problem)
    elif scenario == "sick":
        plan = repair(problem, time_limit_s=1.0)
    else:
        plan = solve(problem, time_limit_s=limit)
    wall = time.monotonic() - started
    given = {a.request: a.professional for a in plan.assignments}
    current = {a.request: a.professional for a in problem.current_plan}
    return {
        "requests": len(problem.requests),
        "coverage": plan.score.covered / len(problem.requests),
        "uncovered": len(problem.requests) - plan.score.covered,
        "priority": plan.score.covered_priority,
        "travel_km": plan.score.travel_km,
        "moved": plan.score.moved,
        "others_moved": sum(
            1 for r, p in current.items() if r not in orphans and given.get(r) != p
        ),
        "orphans": len(orphans),
        "orphans_placed": sum(1 for r in orphans if r in given),
        "valid": not check(problem, plan),
        "status": plan.solver.get("status"),
        "wall_s": wall,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run(scenario: str, method: str, seed: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", scenario, method, str(seed)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, medium instance only")
    parser.add_argument("--worker", nargs=3, metavar=("SCENARIO", "METHOD", "SEED"))
    args = parser.parse_args()
    if args.worker:
        scenario, method, seed = args.worker
        print(json.dumps(worker(scenario, method, int(seed))))
        return
    seeds = [1] if args.quick else [1, 2, 3]
    scenarios = ["medium", "sick"] if args.quick else ["medium", "large", "sick"]
    for scenario in scenarios:
        print(f"\n== {scenario}: goal {GOALS[scenario]}  (median of seeds {seeds})")
        # for the sick day, "planted" is the current plan before the repair (broken by the absence)
        methods = ["planted", "greedy", "engine"]
        print(
            f"{'method':8} {'reqs':>6} {'cover%':>7} {'prio':>6} {'travel_km':>10} {'moved':>5} "
            f"{'others':>6} {'orph':>9} {'valid':>5} {'wall_s':>7} {'peak_MB':>8}  status"
        )
        for method in methods:
            rows = [run(scenario, method, s) for s in seeds]
            med = {
                k: statistics.median(r[k] for r in rows)
                for k in rows[0]
                if isinstance(rows[0][k], (int, float)) and not isinstance(rows[0][k], bool)
            }
            print(
                f"{method:8} {med['requests']:6.0f} {100 * med['coverage']:7.2f} "
                f"{med['priority']:6.0f} "
                f"{med['travel_km']:10.2f} {med['moved']:5.0f} {med['others_moved']:6.0f} "
                f"{med['orphans_placed']:4.0f}/{med['orphans']:<4.0f} "
                f"{str(all(r['valid'] for r in rows)):>5} {med['wall_s']:7.2f} "
                f"{med['peak_mb']:8.0f}  "
                f"{','.join(sorted({str(r['status']) for r in rows}))}; uncovered per seed "
                f"{[r['uncovered'] for r in rows]}",
                flush=True,
            )


if __name__ == "__main__":
    main()
