"""Plan runs on the real queue: `backoffice worker` processes (Huey consumers) solve them.

The queue is a SQLite file (and, in one test, a redis-server the test starts); the database is
one of the tests' own (SQLite, or PostgreSQL with DATABASE_URL), committed, as the worker
process reads it.
"""

import os
import signal
import time

import pytest

from assignment import runs
from assignment.models import RunStatus
from assignment.problem import parse_plan
from tests.assignment.queue_support import (
    ask,
    close,
    ended,
    load,
    redis_server,
    running_with_progress,
    town,
    wait_for,
    worker_process,
)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("plan_queue")


@pytest.fixture(scope="module")
def plans(tmp):
    boundary = town(tmp, queue_url=f"sqlite:///{tmp / 'huey.sqlite3'}")
    yield boundary
    close(boundary)


@pytest.fixture(scope="module")
def worker(plans, tmp):
    with worker_process(plans, tmp / "worker.log") as proc:
        yield proc


@pytest.fixture(autouse=True)
def _no_run_left_running(request):
    yield
    if "plans" in request.fixturenames:  # a failed test must not leave a run to join
        boundary = request.getfixturevalue("plans")
        with boundary.session("test") as session:
            runs.sweep(session, stale_s=-1, wait_s=-1)


def test_a_queued_run_stopped_before_a_worker_takes_it_is_dropped(plans):
    # first in the module, before any worker: nobody takes the message before the stop
    run_id, _ = ask(plans, time_limit_s=5, days=3)
    with plans.session("agent@test") as session:
        runs.request_stop(session, run=session.get(type(load(plans, run_id)), run_id))
    run = load(plans, run_id)
    assert run.status == RunStatus.DISCARDED and run.plan is None
    with plans.session("agent@test") as session, pytest.raises(ValueError, match="only a failed"):
        runs.retry(session, run=session.get(type(run), run_id), config=plans.config)


def test_a_worker_solves_a_queued_run_reporting_progress_and_a_second_ask_joins_it(plans, worker):
    run_id, joined = ask(plans, time_limit_s=8)
    assert not joined
    seen = []
    run = wait_for(plans, run_id, running_with_progress, timeout=60, seen=seen)
    # the same days asked again while it runs: the agent follows the same run
    assert ask(plans, time_limit_s=8) == (run_id, True)
    run = wait_for(plans, run_id, ended, timeout=60, seen=seen)

    assert run.status == RunStatus.DRAFT, run.error
    assert run.worker and run.worker.rsplit(":", 1)[1] != str(os.getpid())
    stages = {p.get("stage") for status, p in seen if status == RunStatus.RUNNING}
    assert stages & {"chains", "leftovers", "travel", "finish"}, stages
    last = [p for status, p in seen if status == RunStatus.RUNNING][-1]
    assert last["requests"] >= run.score["requests"] and last["travel_km"] > 0
    # the worker kept a plan a draft can be reviewed from, solved within its limit
    plan = parse_plan(run.plan)
    assert run.score["covered"] == len(plan.assignments) > 0
    assert run.wall_s <= run.time_limit_s + 1.5
    assert run.base and run.diff_counts is not None and run.finished_at >= run.started_at


def test_stopping_a_running_run_keeps_the_best_plan_so_far(plans, worker):
    run_id, _ = ask(plans, time_limit_s=120)
    run = wait_for(plans, run_id, running_with_progress, timeout=60)
    with plans.session("agent@test") as session:
        runs.request_stop(session, run=session.get(type(run), run_id))

    run = wait_for(plans, run_id, ended, timeout=30)
    assert run.status == RunStatus.DRAFT, run.error
    assert run.plan["solver"]["status"] == "stopped"
    assert run.stop_requested_by == "agent@test"
    # it stopped soon after it was asked to, far from its two minutes
    assert (run.finished_at - run.stop_requested_at).total_seconds() < 15
    assert run.wall_s < 60 and run.score["covered"] > 0


def test_a_worker_killed_mid_run_leaves_the_run_failed_and_a_retry_solves_it(plans, worker):
    run_id, _ = ask(plans, time_limit_s=6)
    run = wait_for(plans, run_id, running_with_progress, timeout=60)
    pid = int(run.worker.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)

    # no heartbeat any more: the sweep (a scheduled job) fails it with the reason
    deadline = time.monotonic() + 20
    while True:
        with plans.session("system:sweep_plan_runs") as session:
            if run_id in runs.sweep(session, stale_s=3):
                break
        assert time.monotonic() < deadline, "the killed worker's run was never swept"
        time.sleep(0.5)
    run = load(plans, run_id)
    assert (run.status, run.error, run.plan) == (RunStatus.FAILED, runs.WORKER_LOST, None)

    with plans.session("agent@test") as session:
        again, joined = runs.retry(session, run=session.get(type(run), run_id), config=plans.config)
        again_id = again.id
    assert not joined and again_id != run_id
    # the consumer started a new worker process in place of the killed one
    again = wait_for(plans, again_id, ended, timeout=60)
    assert again.status == RunStatus.DRAFT, again.error
    assert again.retry_of_id == run_id and again.worker.rsplit(":", 1)[1] != str(pid)


def test_workers_on_a_redis_queue(tmp_path):
    with redis_server(tmp_path) as url:
        boundary = town(tmp_path, queue_url=url, suffix="redis", professionals=8, requests=80)
        try:
            with worker_process(boundary, tmp_path / "worker.log", workers=2):
                first, _ = ask(boundary, time_limit_s=3, days=7)
                second, _ = ask(boundary, time_limit_s=3, days=14)
                done = [wait_for(boundary, i, ended, timeout=60) for i in (first, second)]
        finally:
            close(boundary)
    assert [r.status for r in done] == [RunStatus.DRAFT, RunStatus.DRAFT]
    assert all(r.plan["score"]["covered"] > 0 for r in done)
