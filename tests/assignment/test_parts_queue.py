"""Country scale on the real queue: a run whose town is two cities is solved in two parts by
`backoffice worker` processes, joined, validated whole and kept as one draft; a part that fails
the validator or loses its worker fails the run, and nothing is published."""

import os
import signal
import time

import pytest

from assignment import queue, runs
from assignment.models import PartStatus, PlanRun, PlanRunPart, RunStatus
from assignment.problem import Assignment, Plan, parse_plan, parse_problem
from assignment.validate import check
from tests.assignment.country_support import move_half_to_madrid
from tests.assignment.queue_support import (
    ask,
    close,
    ended,
    load,
    running_with_progress,
    town,
    wait_for,
    worker_process,
)

# the seeded town is small: parts of a few dozen requests still go to workers of their own
SETTINGS = {"PLAN_PART_MIN_REQUESTS": "50", "PLAN_RUN_STALE_S": "4"}


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("plan_parts")


@pytest.fixture(scope="module")
def settings():
    with pytest.MonkeyPatch.context() as mp:  # read by this process and the workers it starts
        for name, value in SETTINGS.items():
            mp.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def country(tmp, settings):
    boundary = town(tmp, queue_url=f"sqlite:///{tmp / 'huey.sqlite3'}", suffix="parts")
    move_half_to_madrid(boundary)
    yield boundary
    close(boundary)


@pytest.fixture(scope="module")
def workers(country, tmp):
    with worker_process(country, tmp / "worker.log", workers=2) as proc:
        yield proc


@pytest.fixture(autouse=True)
def _no_run_left_running(request):
    yield
    if "country" in request.fixturenames:  # a failed test must not leave a run to join
        boundary = request.getfixturevalue("country")
        with boundary.session("test") as session:
            runs.sweep(session, stale_s=-1, wait_s=-1)


def _parts(boundary, run_id: int) -> list[PlanRunPart]:
    with boundary.session("test") as session:
        from assignment import run_parts

        return run_parts.parts_of(session, run_id=run_id, documents=True)


def test_a_part_the_validator_rejects_fails_the_run_naming_the_violations(country, monkeypatch):
    # solved here, in this process (queue.work is what a worker runs): the engine's plan for
    # the first part has a service moved to 03:00, outside its window and any shift
    import assignment.solver

    real = assignment.solver.solve
    moved_ids = []

    def broken(problem, **kwargs):
        plan = real(problem, **kwargs)
        if moved_ids:
            return plan
        first = next(a for a in plan.assignments if not a.request.startswith("W"))
        moved_ids.append(first.request)
        moved = Assignment(first.request, first.professional, first.start.replace(hour=3))
        return Plan(tuple(moved if a is first else a for a in plan.assignments),
                    plan.unassigned, plan.score, plan.solver)

    monkeypatch.setattr(assignment.solver, "solve", broken)
    run_id, _ = ask(country, time_limit_s=2)
    queue.work(country, run_id)

    run = load(country, run_id)
    assert run.status == RunStatus.FAILED and run.plan is None and run.score is None
    assert run.error.startswith("engine: PartsRejected: part 1 of 2: part's plan rejected")
    assert f"[window] {moved_ids[0]} on" in run.error
    parts = _parts(country, run_id)
    assert [p.status for p in parts] == [PartStatus.FAILED, PartStatus.DONE]
    # nothing to publish: the run never became a draft
    with country.session("agent@test") as session, pytest.raises(ValueError, match="only a draft"):
        from assignment.service import plans

        plans.publish(session, run=session.get(PlanRun, run_id))


def test_two_workers_solve_the_two_cities_and_the_joined_plan_is_kept_as_one_draft(
    country, workers
):
    run_id, joined = ask(country, time_limit_s=6)
    assert not joined
    seen = []
    wait_for(country, run_id, running_with_progress, timeout=60, seen=seen)
    run = wait_for(country, run_id, ended, timeout=90, seen=seen)
    assert run.status == RunStatus.DRAFT, run.error

    parts = _parts(country, run_id)
    assert [p.status for p in parts] == [PartStatus.DONE, PartStatus.DONE]
    # in parallel: the run's worker took one part, the other worker the other
    assert len({p.worker for p in parts}) == 2 and run.worker in {p.worker for p in parts}
    for p in parts:
        assert check(parse_problem(p.problem), parse_plan(p.plan)) == []
    # one plan: the parts' services (without the weekly blocks), validated whole in the worker
    plan = parse_plan(run.plan)
    real = [a for p in parts for a in parse_plan(p.plan).assignments
            if not a.request.startswith("W")]
    assert sorted(a.request for a in plan.assignments) == sorted(a.request for a in real)
    assert run.score["covered"] == len(real) > 0 and plan.solver["parts"] == 2
    # the page's progress: both parts summed while they ran
    running = [p for status, p in seen if status == RunStatus.RUNNING and "parts" in p]
    assert running and all(p["parts"] == 2 for p in running)
    assert max(p["requests"] for p in running) == sum(p.requests for p in parts)
    assert run.progress["parts_done"] == 2


def test_a_part_whose_worker_is_killed_fails_the_run_with_that_worker_named(country, workers):
    run_id, _ = ask(country, time_limit_s=120)

    def both_parts_running(run):
        return run.status == RunStatus.RUNNING and [
            p.status for p in _parts(country, run_id)
        ] == [PartStatus.RUNNING, PartStatus.RUNNING]

    run = wait_for(country, run_id, both_parts_running, timeout=60)
    other = next(p for p in _parts(country, run_id) if p.worker != run.worker)
    os.kill(int(other.worker.rsplit(":", 1)[1]), signal.SIGKILL)

    # the run's worker sees the part's heartbeat go stale (PLAN_RUN_STALE_S) and fails the run
    run = wait_for(country, run_id, ended, timeout=40)
    assert (run.status, run.error, run.plan) == (RunStatus.FAILED, runs.WORKER_LOST, None)
    assert run.worker == other.worker
    # its own part stopped with the run, long before its two minutes
    deadline = time.monotonic() + 20
    while _parts(country, run_id)[1 - other.part].status == PartStatus.RUNNING:
        assert time.monotonic() < deadline, "the run's own part kept running"
        time.sleep(0.2)


def test_stopping_a_run_of_parts_keeps_the_joined_best_plans_so_far(country, workers):
    run_id, _ = ask(country, time_limit_s=120)

    def parts_running(run):
        return run.status == RunStatus.RUNNING and all(
            p.status == PartStatus.RUNNING and (p.progress or {}).get("covered") is not None
            for p in _parts(country, run_id)
        )

    wait_for(country, run_id, parts_running, timeout=60)
    with country.session("agent@test") as session:
        runs.request_stop(session, run=session.get(PlanRun, run_id))

    run = wait_for(country, run_id, ended, timeout=40)
    assert run.status == RunStatus.DRAFT, run.error
    # every part stopped and kept its best plan; the join is one draft, far from two minutes
    assert run.plan["solver"]["status"] == "stopped" and run.plan["solver"]["parts"] == 2
    assert (run.finished_at - run.stop_requested_at).total_seconds() < 20
    assert run.score["covered"] > 0


def test_a_split_runs_page_says_how_many_parts_are_solved(app):
    from backoffice.admin.plan_run_progress import _stage_label

    progress = {"stage": "travel", "covered": 900, "requests": 1000, "parts": 5,
                "parts_done": 3}
    with app.test_request_context(headers={"Accept-Language": "es"}):
        assert _stage_label(progress).endswith(" · 3 de 5 partes resueltas")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert _stage_label(progress).endswith(" · 3 of 5 parts solved")
        assert _stage_label({"stage": "travel"}) == _stage_label(progress).split(" · ")[0]
