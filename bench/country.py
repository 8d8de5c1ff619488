"""Benchmark country scale: planted cities far apart, a plan run solved in parts by the workers.

    python bench/country.py [--cities 5] [--professionals 1000] [--requests 8000] [--seed 1]
                            [--limit 120] [--workers 1,2,4] [--whole-limit S] [--skip-whole]

--professionals and --requests are per city (the issue's bench: 5 cities x 1,000 x 8,000).
The planted week (`backoffice assign generate --cities`) is loaded into a database of its own
(SQLite, or --database-url) one week ahead; then, for each worker count, `backoffice worker
--workers N` is started on a SQLite queue and one plan run of that week is asked as the panel
asks it: the run's worker splits it, the workers solve the parts (each with --limit seconds),
the run's worker joins them and the validator checks the whole. Printed: coverage against the
planted plan (which covers everything), wall time from asking to the draft, and the peak
resident memory of each worker process (VmHWM, what ru_maxrss reports). Beside them, the same
problem solved as one part in one process (`backoffice assign solve`, --whole-limit seconds,
by default the parts' limits added up) with its wall time and peak memory. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# the planted generator's skills onto the back office's (two of them merge: that only relaxes
# the problem, so the planted plan still covers every request)
SKILL = {"cleaning": "cleaning", "ironing": "ironing", "plumbing": "elderly_care",
         "electrical": "childcare", "babysitting": "childcare", "gardening": "gardening"}


def load(session, problem, *, monday: date) -> None:
    """Insert the problem's clients, professionals (weekly shifts) and requests, one week moved
    to the week of monday."""
    import sqlalchemy as sa

    from assignment.planted import MONDAY
    from backoffice.models import (
        Client,
        Professional,
        ServiceRequest,
        WorkingShift,
        professional_excluded_client,
    )

    shift = monday - MONDAY.date()
    first_at = {}
    for r in problem.requests:
        first_at.setdefault(r.client, r.location)
    clients = sorted(first_at, key=lambda c: int(c[1:]))
    session.execute(sa.insert(Client.__table__), [
        {"name": f"Client {c}", "lat": first_at[c].lat, "lon": first_at[c].lon,
         "address": f"{c} street"} for c in clients])
    ids = session.scalars(sa.select(Client.id).order_by(Client.id)).all()[-len(clients):]
    client_id = dict(zip(clients, ids, strict=True))
    session.execute(sa.insert(Professional.__table__), [
        {"name": f"Professional {p.id}", "lat": p.location.lat, "lon": p.location.lon,
         "skills": ",".join(sorted({SKILL[s] for s in p.skills})), "status": "approved",
         "max_minutes_per_week": p.max_minutes_per_week} for p in problem.professionals])
    ids = session.scalars(sa.select(Professional.id).order_by(Professional.id)).all()
    pro_id = dict(zip([p.id for p in problem.professionals], ids[-len(problem.professionals):],
                      strict=True))
    session.execute(sa.insert(WorkingShift.__table__), [
        {"professional_id": pro_id[p.id], "weekday": s.start.weekday(),
         "start_time": s.start.time(), "end_time": s.end.time()}
        for p in problem.professionals for s in p.shifts])
    excluded = [{"professional_id": pro_id[p.id], "client_id": client_id[c]}
                for p in problem.professionals for c in p.excluded_clients if c in client_id]
    if excluded:
        session.execute(sa.insert(professional_excluded_client), excluded)
    rows = []
    for r in problem.requests:
        end = r.window_end if r.window_end.date() == r.window_start.date() else (
            r.window_start.replace(hour=23, minute=59))
        pref = r.required_professional or r.preferred_professional
        rows.append({
            "client_id": client_id[r.client], "skill": SKILL[r.skill],
            "lat": r.location.lat, "lon": r.location.lon,
            "service_date": r.window_start.date() + shift,
            "window_start": r.window_start.time(), "window_end": end.time(),
            "duration_min": r.duration_min, "priority": r.priority, "status": "new",
            "preferred_professional_id": pro_id[pref] if pref else None,
        })
    for i in range(0, len(rows), 5000):
        session.execute(sa.insert(ServiceRequest.__table__), rows[i:i + 5000])


class Peak:
    """Poll the peak resident memory (VmHWM) of a process's descendants until stopped."""

    def __init__(self, root: int) -> None:
        self.root, self.peak_kb = root, {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self._poll()

    def _children(self) -> list[int]:
        out, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            try:
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            out += [int(k) for k in kids]
            todo += [int(k) for k in kids]
        return out

    def _poll(self) -> None:
        for pid in self._children():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    kb = int(line.split()[1])
                    self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), kb)

    def _loop(self) -> None:
        while not self._done.wait(0.5):
            self._poll()


def solve_whole(problem_file: Path, plan_file: Path, limit: float) -> tuple[float, int]:
    """Solve the whole problem in one process; return its wall seconds and peak memory (KB)."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "backoffice.cli", "assign", "solve", str(problem_file),
         "--time-limit", str(limit), "--out", str(plan_file)],
        cwd=Path(__file__).resolve().parents[1],
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        print(f"  one part in one process: exit status {status}")
    return wall, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, default=5)
    parser.add_argument("--professionals", type=int, default=1000, help="per city")
    parser.add_argument("--requests", type=int, default=8000, help="per city")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=float, default=120.0, help="seconds for each part")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to time")
    parser.add_argument("--whole-limit", type=float, default=None,
                        help="seconds for the one-part solve (default: the parts' added up)")
    parser.add_argument("--skip-whole", action="store_true", help="no one-part solve")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file")
    args = parser.parse_args()

    from assignment import parts, runs
    from assignment.models import PlanRun
    from assignment.planted import planted_cities
    from assignment.problem import parse_plan, problem_to_json
    from assignment.service import build_problem
    from assignment.service.worked import without_blocks
    from backoffice import migrate
    from backoffice.boundary import Boundary
    from tests.assignment.queue_support import worker_process

    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} cores")
    t = time.perf_counter()
    planted_problem, planted = planted_cities(args.cities, args.professionals, args.requests,
                                              args.seed)
    print(f"planted: {args.cities} cities x {args.professionals} professionals x "
          f"{args.requests} requests = {len(planted_problem.requests)} requests, "
          f"covered {planted.score.covered}, travel {planted.score.travel_km:,.0f} km "
          f"({time.perf_counter() - t:.1f} s)")

    tmp = Path(tempfile.mkdtemp(prefix="bench_country_"))
    url = args.database_url or f"sqlite:///{tmp / 'country.sqlite3'}"
    migrate.upgrade(url)
    today = date.today()
    monday = today + timedelta(days=7 - today.weekday())
    small = max(1, min(parts.MIN_PART_REQUESTS, args.requests // 2))
    os.environ["PLAN_PART_MIN_REQUESTS"] = str(small)  # read by the workers started below
    boundary = Boundary({"DATABASE_URL": url, "QUEUE_URL": f"sqlite:///{tmp / 'queue.sqlite3'}",
                         "INSTANCE_PATH": str(tmp)})
    t = time.perf_counter()
    with boundary.session("bench") as session:
        load(session, planted_problem, monday=monday)
    with boundary.session("bench") as session:
        built = build_problem(session, start=monday, days=7, now=datetime.now())
    problem = built.problem
    t_split = time.perf_counter()
    split = parts.split(problem, min_requests=small)
    t_split = time.perf_counter() - t_split
    print(f"database: {len(problem.requests)} requests, {len(problem.professionals)} "
          f"professionals from {monday} ({time.perf_counter() - t:.1f} s)")
    print(f"split: {split.components} groups that cannot reach each other, "
          f"{len(split.parts)} parts of {[len(p.requests) for p in split.parts]} requests "
          f"({t_split:.1f} s)")

    target = planted.score.covered
    rows = []
    for n in [int(x) for x in args.workers.split(",") if x]:
        load_before = os.getloadavg()[0]
        log = tmp / f"worker{n}.log"
        with worker_process(boundary, log, workers=n) as proc, Peak(proc.pid) as peak:
            ready = time.monotonic() + 60
            while "consumer started" not in (log.read_text() if log.exists() else ""):
                assert time.monotonic() < ready, f"the workers did not start: see {log}"
                time.sleep(0.2)
            started = time.perf_counter()
            with boundary.session("bench") as session:
                run, _ = runs.request_run(session, start=monday, days=7,
                                          time_limit_s=args.limit, config=boundary.config)
                run_id = run.id
            while True:
                with boundary.session("bench") as session:
                    run = session.get(PlanRun, run_id)
                    if run.status not in runs.ACTIVE:
                        break
                time.sleep(0.5)
            wall = time.perf_counter() - started
            with boundary.session("bench") as session:
                from assignment import run_parts

                run = session.get(PlanRun, run_id)
                part_walls = [round(p.plan["solver"]["wall_s"], 1) if p.plan else None
                              for p in run_parts.parts_of(session, run_id=run_id, documents=True)]
                status, error, score = run.status, run.error, run.score
            with boundary.session("bench") as session:  # the next run must not see a draft
                session.get(PlanRun, run_id).status = "discarded"
        peak_mb = sorted((kb / 1024 for kb in peak.peak_kb.values()), reverse=True)
        covered = score["covered"] if score else 0
        rows.append((n, wall, covered, peak_mb))
        print(f"{n} worker(s): {status} in {wall:.1f} s, covered {covered} / {target} planted "
              f"({100 * covered / target:.2f}%), travel "
              f"{(score or {}).get('travel_km', 0):,.0f} km; parts' solve s {part_walls}; "
              f"peak memory of the consumer's processes "
              f"{', '.join(f'{m:.0f}' for m in peak_mb)} MB; "
              f"load {load_before:.2f} -> {os.getloadavg()[0]:.2f}"
              + (f"; error: {error[:300]}" if error else ""))

    if not args.skip_whole:
        limit = args.whole_limit or args.limit * len(split.parts)
        problem_file, plan_file = tmp / "whole.json", tmp / "whole_plan.json"
        problem_file.write_text(json.dumps(problem_to_json(problem)))
        load_before = os.getloadavg()[0]
        wall, rss_kb = solve_whole(problem_file, plan_file, limit)
        whole = without_blocks(problem, parse_plan(json.loads(plan_file.read_text()))) \
            if plan_file.exists() else None
        covered = whole.score.covered if whole else 0
        travel = whole.score.travel_km if whole else 0
        print(f"one part in one process ({limit:.0f} s limit): {wall:.1f} s, covered {covered} / "
              f"{target} ({100 * covered / target:.2f}%), travel {travel:,.0f} km, peak memory "
              f"{rss_kb / 1024:.0f} MB; load {load_before:.2f} -> {os.getloadavg()[0]:.2f}")
        for n, w, c, _ in rows:
            print(f"  beside it: {n} worker(s) {w:.1f} s ({wall / w:.2f}x), covered {c}")
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
