"""Job-made tasks that close by themselves, with the line that says why: a re-plan whose
services are covered again, a re-review decided, a call about an invoice nobody can call about."""

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from assignment import jobs as assignment_jobs
from assignment.models import PlanRun, RunKind, RunStatus
from backoffice.models import ClientStatus, RequestStatus, Task, TaskStatus
from backoffice.services import tasks
from billing import actions, invoicing
from billing import service as billing_service
from billing.models import Invoice, InvoiceStatus
from vetting import service as vetting_service
from vetting.models import Application, Stage

NOW = datetime(2030, 3, 2, 9, 0)
DAY = NOW.date() + timedelta(days=2)


def test_the_checkers_are_registered_by_the_modules_that_make_the_tasks():
    assert tasks.CHECKERS["replan"] is assignment_jobs.replans_resolved
    assert tasks.CHECKERS["re_review"] is vetting_service.re_reviews_decided


def _close(session) -> dict:
    return tasks.close_resolved(session, now=NOW)["closed"]


def _replan(session, requests) -> Task:
    """A published repair that left these services without a professional, and its task."""
    run = PlanRun(created_by="system:replan_affected", kind=RunKind.REPAIR,
                  status=RunStatus.PUBLISHED, horizon_start=NOW.date(), horizon_days=14,
                  wall_s=0.1, time_limit_s=1.0, score={}, base={
                      f"R{r.id}": ["P1", f"{DAY}T09:00"] for r in requests},
                  plan={"version": 1, "assignments": [], "unassigned": [
                      {"request": f"R{r.id}", "reasons": [], "suggestion": None}
                      for r in requests]})
    session.add(run)
    session.flush()
    task = Task(role="ops_agent", kind="replan", title="Re-plan", entity="plan_run",
                entity_id=str(run.id), dedup_key=f"replan:test{run.id}")
    session.add(task)
    session.flush()
    return task


def _uncovered(factories, name: str):
    return factories.request(client=factories.client(name=name), day=DAY, start=time(9))


def test_a_replan_closes_once_its_service_is_covered_again(session, factories):
    lost = _uncovered(factories, "Aurora Gil")
    task = _replan(session, [lost])
    assert _close(session) == {}
    lost.professional_id = factories.professional(name="Lola Cubre").id
    lost.status, lost.start_at = RequestStatus.ASSIGNED, datetime.combine(DAY, time(10))
    lost.end_at = lost.start_at + timedelta(hours=2)
    session.flush()
    assert _close(session) == {"replan": 1}
    assert task.status == TaskStatus.CANCELLED and task.done_at == NOW
    assert task.outcome == (f"Closed by itself: Aurora Gil's service on {DAY:%d/%m} 10:00 is "
                            "covered again by Lola Cubre")


def test_a_replan_waits_for_every_service_it_names(session, factories):
    first, second = _uncovered(factories, "Uno"), _uncovered(factories, "Dos")
    task = _replan(session, [first, second])
    first.professional_id = factories.professional().id
    first.status, first.start_at = RequestStatus.CONFIRMED, datetime.combine(DAY, time(9))
    session.flush()
    assert _close(session) == {}  # the second still needs a professional
    second.status = RequestStatus.CANCELLED
    session.flush()
    assert _close(session) == {"replan": 1}
    assert task.outcome == ("Closed by itself: every service of this re-plan has a professional "
                            "again, or is cancelled or over (1 of 2 covered)")


def test_a_replan_does_not_count_a_suspended_professional_as_cover(session, factories):
    from backoffice.models import ProfessionalStatus

    lost = _uncovered(factories, "Tres")
    task = _replan(session, [lost])
    lost.professional_id = factories.professional(status=ProfessionalStatus.SUSPENDED).id
    lost.status, lost.start_at = RequestStatus.ASSIGNED, datetime.combine(DAY, time(9))
    session.flush()
    assert _close(session) == {} and task.status == TaskStatus.OPEN


def test_a_replan_about_a_plan_that_is_gone_closes(session, factories):
    task = Task(role="ops_agent", kind="replan", title="Re-plan", entity="plan_run",
                entity_id="987654")
    session.add(task)
    session.flush()
    assert _close(session) == {"replan": 1}
    assert task.outcome == "Closed by itself: the plan no longer exists"


@pytest.mark.parametrize(("stage", "line"), [
    (Stage.APPROVED, "kept on"), (Stage.REJECTED, "rejected")])
def test_a_re_review_closes_once_decided(session, factories, stage, line):
    pro = factories.professional(name="Nieves Queja")
    for day in (3, 4):
        app = vetting_service.record_incident(session, professional=pro, kind="complaint",
                                              occurred_on=date(2030, 2, day), note="late",
                                              threshold=1, now=NOW)
    task = session.scalars(sa.select(Task).where(Task.kind == "re_review")).one()
    assert task.entity_id == str(app.id)
    assert _close(session) == {}
    session.execute(sa.update(Application).where(Application.id == app.id).values(stage=stage))
    assert _close(session) == {"re_review": 1}
    assert task.outcome == f"Closed by itself: the re-review of Nieves Queja is done: {line}"


def test_a_re_review_on_hold_stays_open(session, factories):
    pro = factories.professional()
    for day in (3, 4):
        app = vetting_service.record_incident(session, professional=pro, kind="no_show",
                                              occurred_on=date(2030, 2, day), note=None,
                                              threshold=1, now=NOW)
    session.execute(sa.update(Application).where(Application.id == app.id)
                    .values(stage=Stage.ON_HOLD))
    assert _close(session) == {}


def _call_about(session, factories) -> tuple[Invoice, Task]:
    customer = factories.client(name="Inés Debe")
    start = date(2029, 11, 1)
    factories.request(client=customer, day=start, status=RequestStatus.DONE, price_cents=4000)
    inv = invoicing.issue(session, client=customer, start=start, end=date(2029, 11, 28),
                          issued_on=date(2029, 12, 1))
    actions.create_call_task(session, inv, customer, now=NOW)
    task = session.scalars(sa.select(Task).where(Task.kind == "dunning_call",
                                                 Task.entity_id == str(inv.id))).one()
    return inv, task


@pytest.mark.parametrize(("cause", "line"), [
    ("paid", "invoice {code} was paid"),
    ("written_off", "invoice {code} was written off"),
    ("paused", "invoice {code} is paused (promise: Friday)"),
    ("erased", "the client's personal data was erased"),
])
def test_a_call_closes_when_nobody_needs_to_call(session, factories, cause, line):
    inv, task = _call_about(session, factories)
    assert _close(session) == {}
    if cause == "erased":
        session.execute(sa.update(type(inv.client)).where(type(inv.client).id == inv.client_id)
                        .values(status=ClientStatus.ERASED))
    else:
        session.execute(sa.update(Invoice).where(Invoice.id == inv.id).values(
            status=InvoiceStatus(cause), pause_reason="promise: Friday"))
    assert _close(session) == {"dunning_call": 1}
    assert task.outcome == "Closed by itself: " + line.format(code=inv.code)


def test_a_pause_through_billing_closes_the_call_at_once(session, factories):
    inv, task = _call_about(session, factories)
    billing_service.pause(session, invoice=inv, kind="promise", reason="Friday",
                          until=NOW.date() + timedelta(days=4))
    assert task.status == TaskStatus.CANCELLED
    assert task.outcome == f"Closed by itself: invoice {inv.code} is paused (promise: Friday)"
