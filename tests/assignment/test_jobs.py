"""The re-plan job after a suspension or time off, and the nightly re-plan with coverage."""

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from assignment import jobs, runs, service
from assignment.models import CoverageSnapshot, PlanRun, RunKind, RunStatus
from backoffice.models import ProfessionalStatus, RequestStatus, Task, TimeOff

DAY = date.today() + timedelta(days=2)
NOW = datetime.combine(DAY - timedelta(days=1), time(18))
CONFIG = {"REPLAN_TIME_LIMIT_S": 1.0, "NIGHTLY_TIME_LIMIT_S": 2.0}


def work(session, queued: dict) -> dict:
    """Do what a worker does with the run a job queued; return what publishing it changed."""
    run = session.get(PlanRun, queued["run"])
    assert run.status == RunStatus.QUEUED and run.publish_when_done
    runs.execute(session, run=run, now=NOW, config=CONFIG)
    return run.diff_counts


def test_suspension_moves_the_professionals_services_and_tells_the_agents(session, factories):
    leaving = factories.professional(lat=39.47, lon=-0.376)
    stays = factories.professional(lat=39.48, lon=-0.37)
    row = factories.request(day=DAY, professional=leaving, start=time(9),
                            status=RequestStatus.CONFIRMED)
    kept = factories.request(day=DAY, professional=stays, start=time(13))
    assert jobs.replan_affected(session=session, now=NOW, config=CONFIG) == {"affected": 0}

    leaving.status = ProfessionalStatus.SUSPENDED
    session.flush()
    # At once, before the job runs, the board counts the booking as at risk, not covered.
    assert sum(c.covered for c in service.coverage_cells(session, start=DAY, days=1)) == 1
    risky = service.at_risk(session, start=DAY, days=1)
    assert [(x["request"].id, x["reasons"][0]["rule"]) for x in risky] == [(row.id, "unavailable")]
    queued = jobs.replan_affected(session=session, now=NOW, config=CONFIG)
    # a second pass before a worker took it joins the queued repair
    assert jobs.replan_affected(session=session, now=NOW, config=CONFIG) == {
        "affected": 1, "run": queued["run"], "joined": True}
    result = {**queued, **work(session, queued)}

    assert result["affected"] == 1 and result["moved"] == 1
    # the new professional confirms again; the other service did not move
    assert (row.professional_id, row.status) == (stays.id, RequestStatus.ASSIGNED)
    assert (kept.professional_id, kept.start_at) == (stays.id, datetime.combine(DAY, time(13)))
    run = session.get(PlanRun, result["run"])
    assert (run.kind, run.status) == (RunKind.REPAIR, RunStatus.PUBLISHED)
    task = session.scalars(sa.select(Task).where(Task.kind == "replan")).one()
    assert task.role == "ops_agent" and f"#{row.id}" in task.details
    assert "moved" in task.details and stays.name in task.details
    # a second pass finds nothing left to do
    assert jobs.replan_affected(session=session, now=NOW, config=CONFIG) == {"affected": 0}


def test_time_off_leaves_a_service_uncovered_when_nobody_else_can(session, factories):
    pro = factories.professional()
    row = factories.request(day=DAY, professional=pro, start=time(9))
    session.add(TimeOff(professional_id=pro.id, starts_on=DAY, ends_on=DAY, reason="sick"))
    session.flush()
    session.expire(pro)

    result = work(session, jobs.replan_affected(session=session, now=NOW, config=CONFIG))

    assert result["unassigned"] == 1
    assert (row.status, row.professional_id) == (RequestStatus.NEW, None)
    task = session.scalars(sa.select(Task).where(Task.kind == "replan")).one()
    assert "1 need one" in task.title and "NOT COVERED" in task.details


def test_services_already_started_are_left_alone(session, factories):
    pro = factories.professional()
    row = factories.request(day=DAY, professional=pro, start=time(9))
    pro.status = ProfessionalStatus.SUSPENDED
    session.flush()

    later = datetime.combine(DAY, time(10))
    assert jobs.replan_affected(session=session, now=later, config=CONFIG) == {"affected": 0}
    assert row.professional_id == pro.id


def test_nightly_replan_publishes_and_records_coverage_once_a_day(session, factories):
    factories.professional()
    factories.request(day=DAY, start=time(9), zone="Benimaclet")
    factories.request(day=DAY, start=time(9), skill="gardening", zone="Benimaclet")

    result = work(session, jobs.nightly_replan(session=session, now=NOW, config=CONFIG))

    assert result["new"] == 1 and result["uncovered"] == 1
    snaps = session.scalars(sa.select(CoverageSnapshot).where(
        CoverageSnapshot.taken_on == NOW.date(), CoverageSnapshot.day == DAY)).all()
    assert {(s.zone, s.skill, s.requests, s.covered) for s in snaps} == {
        ("Benimaclet", "cleaning", 1, 1), ("Benimaclet", "gardening", 1, 0)}
    again = jobs.nightly_replan(session=session, now=NOW, config=CONFIG)
    assert "already planned" in again["skipped"]


def test_a_second_scheduler_skips_while_the_first_holds_the_lock(session, app, is_postgres):
    if not is_postgres:
        return  # SQLite: BEGIN IMMEDIATE serialises the passes instead (nothing to skip)
    from backoffice.db import make_engine

    engine = make_engine(app.config["DATABASE_URL"])
    try:
        with engine.connect() as other:
            other.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": jobs.LOCK_KEY})
            try:
                assert jobs.replan_affected(session=session, now=NOW, config=CONFIG) == {
                    "skipped": "locked"}
            finally:
                other.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": jobs.LOCK_KEY})
    finally:
        engine.dispose()
