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
import logging
import os
import socket
import threading
from datetime import datetime
from pathlib import Path

from assignment.models import PlanRun, RunStatus
from backoffice.db import utcnow

log = logging.getLogger("assignment.queue")
QUEUE_NAME = "plans"
HEARTBEAT_S = 1.0  # the run's page polls every second; the engine's progress is this fresh
ACTOR = "system:plan-worker"
RETRIES = 10  # a message can arrive before the transaction that queued its run commits

_queues: dict[str, tuple] = {}
_boundary = None  # the worker process's settings and database (run_worker sets it)


class NotCommittedYet(RuntimeError):
    """The run a message names is not visible yet: Huey delivers the message again."""


def plan_queue(url: str):
    """Return (huey, task) for the queue at url, made once per process."""
    if url not in _queues:
        huey = _huey(url)
        task = huey.task(retries=RETRIES, retry_delay=1, name="solve_plan_run")(_solve)
        _queues[url] = (huey, task)
    return _queues[url]


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


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def work(boundary, run_id: int) -> None:
    """Take a queued run, solve it with the engine's full time limit, keep the plan."""
    from assignment import runs
    from assignment.service import build_problem, plans

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
        beat.start()
        # no transaction is open while the engine works: the web and the heartbeat write freely
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
                runs.fail(session, run=run, reason=f"engine: {exc.__class__.__name__}: {exc}")


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
