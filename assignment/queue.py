"""The plan queue: Huey carries run ids from the panel and the jobs to `backoffice worker`.

QUEUE_URL names the broker: sqlite:///path (one machine: the web, the scheduler and the
workers share the file; the default is queue.sqlite3 in the instance folder) or
redis://host:port/db (workers on as many machines as reach it).
The database stays the truth about a run (assignment.runs); a message only says "run #n is
waiting". A worker takes the run, builds its problem, solves it with no transaction open
while a heartbeat thread writes its progress and reads the stop flag, and stores the plan.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import socket
import threading
import time
from datetime import datetime
from pathlib import Path

from assignment.models import PartStatus, PlanRun, RunStatus
from backoffice.db import utcnow

log = logging.getLogger("assignment.queue")
QUEUE_NAME = "plans"
HEARTBEAT_S = 1.0  # the run's page polls every second; the engine's progress is this fresh
ACTOR = "system:plan-worker"
RETRIES = 10  # a message can arrive before the transaction that queued its run commits
PART_POLL_S = 0.5  # how often a run's worker looks at the parts other workers hold

_queues: dict[str, tuple] = {}
_part_tasks: dict[str, object] = {}
_boundary = None  # the worker process's settings and database (run_worker sets it)


class NotCommittedYet(RuntimeError):
    """The run a message names is not visible yet: Huey delivers the message again."""


def plan_queue(url: str):
    """Return (huey, task) for the queue at url, made once per process."""
    if url not in _queues:
        huey = _huey(url)
        task = huey.task(retries=RETRIES, retry_delay=1, name="solve_plan_run")(_solve)
        # a part's message only offers it: whoever takes it first in the database solves it
        _part_tasks[url] = huey.task(retries=0, name="solve_plan_run_part")(_solve_part)
        _queues[url] = (huey, task)
    return _queues[url]


def part_queue(url: str):
    """Return the task that offers one part of a run to the workers of the queue at url."""
    plan_queue(url)
    return _part_tasks[url]


def _huey(url: str):
    from huey import RedisHuey, SqliteHuey

    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=str(path), results=False, timeout=30)
    if scheme in ("redis", "rediss", "unix"):
        return RedisHuey(QUEUE_NAME, url=url, results=False)
    raise ValueError(
        f"QUEUE_URL: {scheme}:// is not a queue this back office knows; use "
        "sqlite:///path or redis://host:port/db"
    )


def queue_url(config) -> str | None:
    """Return QUEUE_URL, else the instance folder's queue file, else None (nothing queued)."""
    config = config or {}
    if config.get("QUEUE_URL"):
        return config["QUEUE_URL"]
    if config.get("INSTANCE_PATH"):
        return f"sqlite:///{Path(config['INSTANCE_PATH']) / 'queue.sqlite3'}"
    return None


def enqueue(url: str, run_id: int) -> None:
    """Send run_id to the workers of the queue at url."""
    _, task = plan_queue(url)
    task(run_id)


def _solve(run_id: int) -> None:
    if _boundary is None:
        raise RuntimeError("solve_plan_run runs in `backoffice worker`, not in this process")
    work(_boundary, run_id)


def _solve_part(run_id: int, part: int) -> None:
    if _boundary is None:
        raise RuntimeError("solve_plan_run_part runs in `backoffice worker`, not in this process")
    from assignment import run_parts

    with _boundary.session(ACTOR) as session:
        taken = run_parts.claim(session, run_id=run_id, part=part, worker=worker_name())
        part_id = taken.id if taken is not None else None
    if part_id is None:  # the run's own worker or another took it, or the run ended
        return
    solve_part(_boundary, part_id)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def work(boundary, run_id: int) -> None:
    """Take a queued run, solve it with the engine's full time limit, keep the plan."""
    from assignment import runs
    from assignment.service import build_problem, plans
    from assignment.service.worked import without_blocks

    with boundary.session(ACTOR) as session:
        run = session.get(PlanRun, run_id)
        if run is None:
            raise NotCommittedYet(f"plan run #{run_id} is not there (yet)")
        if not runs.start(session, run=run, worker=worker_name()):
            log.info("plan run #%d is %s: nothing to do", run_id, run.status)
            return
    beat = Heartbeat(boundary, run_id)
    try:
        with boundary.session(ACTOR) as session:
            run = session.get(PlanRun, run_id)
            built = build_problem(
                session,
                start=run.horizon_start,
                days=run.horizon_days,
                now=datetime.now(),
                speed_kmh=float(boundary.config.get("TRAVEL_SPEED_KMH", 25.0)),
            )
            limit, repair = run.time_limit_s, run.repair
        split = None if repair else _split(boundary.config, built.problem)
        if split is not None and len(split.parts) > 1:
            # the rows the problem was built from are not needed again: this worker solves
            # parts too, in the memory they held
            built.requests.clear()
            built.professionals.clear()
            gc.collect()
            beat = RunBeat(boundary, run_id, started=time.monotonic())
            plan = solve_in_parts(boundary, run_id, built.problem, split.parts, beat=beat)
            plan = without_blocks(built.problem, plan)
        else:
            beat.start()
            # no transaction is open while the engine works: the web and the heartbeat write
            plan = plans.solve_built(
                built,
                time_limit_s=limit,
                repair=repair,
                progress=beat.report,
                should_stop=beat.should_stop,
            )
            beat.stop()
        with boundary.session(ACTOR) as session:
            run = session.get(PlanRun, run_id)
            runs.complete(
                session, run=run, plan=plan, base=built.base, progress=beat.last or run.progress
            )
    except Exception as exc:
        beat.stop()
        log.exception("plan run #%d failed", run_id)
        with boundary.session(ACTOR) as session:
            run = session.get(PlanRun, run_id)
            if run is not None and run.status == RunStatus.RUNNING:
                if isinstance(exc, PartFailed):  # what went wrong in the part, and which
                    runs.fail(session, run=run, reason=f"engine: {exc}")
                else:
                    runs.fail(session, run=run, reason=f"engine: {exc.__class__.__name__}: {exc}")


def _setting(config, name: str, default: float) -> float:
    # read from the environment too: `backoffice worker` gets its settings from there
    return float((config or {}).get(name) or os.environ.get(name) or default)


def _split(config, problem):
    from assignment import parts

    return parts.split(
        problem,
        max_parts=int(_setting(config, "PLAN_PARTS_MAX", parts.MAX_PARTS)),
        min_requests=int(_setting(config, "PLAN_PART_MIN_REQUESTS", parts.MIN_PART_REQUESTS)),
    )


class RunEnded(RuntimeError):
    """The run failed while its parts were solved (a part lost its worker; the sweep)."""


class PartFailed(RuntimeError):
    """A part's solve ended in an error, or the validator rejected the part's plan."""


def solve_in_parts(boundary, run_id: int, problem, parts_: tuple, *, beat: RunBeat):
    """Solve a run's parts on every worker of the queue, join their plans, check the whole.

    This worker (the run's) writes the parts and offers each to the queue; then it takes parts
    itself while any is left, so that one worker alone still finishes, and waits for those
    other workers hold, watching their heartbeats. Returns the joined plan of the whole problem,
    which the independent validator accepted; raises if any part failed or the whole is
    rejected (nothing is published)."""
    from assignment import parts, run_parts
    from assignment.problem import parse_plan

    with boundary.session(ACTOR) as session:
        run_parts.create(session, run=session.get(PlanRun, run_id), parts=parts_)
    url = queue_url(boundary.config)
    if url is not None:
        offer = part_queue(url)
        for i in range(len(parts_)):
            offer(run_id, i)
    beat.start()
    try:
        while True:
            with boundary.session(ACTOR) as session:
                mine = run_parts.claim(session, run_id=run_id, worker=worker_name())
                mine_id = mine.id if mine is not None else None
            if mine_id is not None:
                solve_part(boundary, mine_id)
                continue
            with boundary.session(ACTOR) as session:
                rows = run_parts.parts_of(session, run_id=run_id)
                failed = [p for p in rows if p.status == PartStatus.FAILED]
                if failed:
                    p = failed[0]
                    kind, _, what = (p.error or "?").partition(": ")
                    raise PartFailed(f"{kind}: part {p.part + 1} of {len(rows)}: {what}")
                plans = None
                if all(p.status == PartStatus.DONE for p in rows):
                    rows = run_parts.parts_of(session, run_id=run_id, documents=True)
                    plans = [parse_plan(p.plan) for p in rows]
                # failed meanwhile: a part lost its worker (the beat saw it) or the sweep
                status = session.get(PlanRun, run_id, populate_existing=True).status
                if status != RunStatus.RUNNING:
                    raise RunEnded(f"plan run #{run_id} is {status}")
            if plans is not None:
                break
            time.sleep(PART_POLL_S)
    finally:
        beat.stop()
    beat.beat_now()  # the run's last progress: every part done
    joined = parts.join(problem, plans)
    parts.check_joined(problem, joined)  # raises PartsRejected naming the violations
    # the run's time: from the split to the join, however the parts overlapped
    wall = round(time.monotonic() - beat.started, 3)
    return dataclasses.replace(joined, solver={**joined.solver, "wall_s": wall})


def solve_part(boundary, part_id: int) -> None:
    """Solve one part this worker took; keep its plan if the validator accepts it on its part,
    else its failure. Never raises: the run's worker reads the outcome from the part's row."""
    from assignment import run_parts
    from assignment.models import PlanRunPart
    from assignment.parts import PartsRejected
    from assignment.problem import parse_problem, plan_to_json
    from assignment.solver import solve
    from assignment.validate import check

    with boundary.session(ACTOR) as session:
        part = session.get(PlanRunPart, part_id)
        problem = parse_problem(part.problem)
        limit = session.get(PlanRun, part.run_id).time_limit_s
        log.info("plan run #%d part %d: %d requests", part.run_id, part.part + 1,
                 len(problem.requests))
    beat = PartBeat(boundary, part_id)
    beat.start()
    try:
        plan = solve(problem, time_limit_s=limit, progress=beat.report,
                     should_stop=beat.should_stop)
        violations = check(problem, plan)
        beat.stop()
        with boundary.session(ACTOR) as session:
            if violations:  # never joined, never published: the run fails naming them
                rejected = PartsRejected(violations, what="part's plan")
                run_parts.finish(session, part_id=part_id, error=f"PartsRejected: {rejected}",
                                 progress=beat.last)
            else:
                run_parts.finish(session, part_id=part_id, plan=plan_to_json(plan),
                                 progress=beat.last)
    except Exception as exc:
        beat.stop()
        log.exception("plan run part #%d failed", part_id)
        with boundary.session(ACTOR) as session:
            run_parts.finish(session, part_id=part_id, error=f"{exc.__class__.__name__}: {exc}")


class Heartbeat:
    """Beside the engine, in the worker: write heartbeat_at and progress, read the stop flag."""

    def __init__(self, boundary, run_id: int, every_s: float = HEARTBEAT_S) -> None:
        self.boundary, self.run_id, self.every_s = boundary, run_id, every_s
        self.last: dict | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def report(self, progress) -> None:
        """Keep the engine's latest progress for the next beat (called by the engine: cheap)."""
        self.last = dataclasses.asdict(progress)

    def should_stop(self) -> bool:
        """Tell the engine whether the agent asked to stop (read at the last beat)."""
        return self._stop.is_set()

    def start(self) -> None:
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _beat(self) -> None:
        from assignment import runs

        with self.boundary.session(ACTOR) as session:
            if runs.heartbeat(session, run_id=self.run_id, progress=self.last, now=utcnow()):
                self._stop.set()

    def _loop(self) -> None:
        while not self._done.wait(self.every_s):
            try:
                self._beat()
            except Exception:  # a busy database skips a beat; the next one tries again
                log.exception("heartbeat of plan run #%d failed", self.run_id)


class PartBeat(Heartbeat):
    """Beside the engine solving a part: the part's heartbeat and progress; stop with the run."""

    def _beat(self) -> None:
        from assignment import run_parts

        with self.boundary.session(ACTOR) as session:
            if run_parts.beat(session, part_id=self.run_id, progress=self.last, now=utcnow()):
                self._stop.set()


class RunBeat(Heartbeat):
    """Beside a run of parts, in its worker: the run's heartbeat, its progress the parts' sum;
    a part whose worker stopped answering fails the run (its other parts then stop)."""

    def __init__(self, boundary, run_id: int, *, started: float) -> None:
        super().__init__(boundary, run_id)
        self.started = started
        self.stale_s = _setting(boundary.config, "PLAN_RUN_STALE_S", 30.0)

    def beat_now(self) -> None:
        self._beat()

    def _beat(self) -> None:
        from assignment import run_parts, runs

        with self.boundary.session(ACTOR) as session:
            rows = run_parts.parts_of(session, run_id=self.run_id)
            self.last = run_parts.summary([run_parts.part_progress(p) for p in rows],
                                          elapsed_s=time.monotonic() - self.started)
            runs.heartbeat(session, run_id=self.run_id, progress=self.last, now=utcnow())
            gone = run_parts.lost(rows, now=utcnow(), stale_s=self.stale_s)
            run = session.get(PlanRun, self.run_id)
            if gone is not None and run.status == RunStatus.RUNNING:
                # the page names the part's worker and its last beat, not this worker
                log.warning("plan run #%d: part %d lost its worker %s", self.run_id,
                            gone.part + 1, gone.worker)
                run.worker, run.heartbeat_at = (gone.worker or "?")[:120], gone.heartbeat_at
                runs.fail(session, run=run, reason=runs.WORKER_LOST)


def run_worker(boundary, *, workers: int = 1) -> None:
    """Run the queue's consumer with `workers` worker processes until it is stopped."""
    global _boundary
    _boundary = boundary
    huey, _ = plan_queue(queue_url(boundary.config))
    # processes, not threads: each solve holds a core; a worker that dies is started again
    consumer = huey.create_consumer(
        workers=workers,
        worker_type="process",
        periodic=False,
        initial_delay=0.1,
        backoff=1.15,
        max_delay=1.0,
        check_worker_health=True,
        health_check_interval=1,
    )
    consumer.run()
