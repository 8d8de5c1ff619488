"""The daily document check, suspension, services at risk, re-reviews from incidents."""

from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from click.testing import CliRunner

from backoffice import mail
from backoffice.cli import Runtime
from backoffice.db import db
from backoffice.models import ProfessionalStatus, RequestStatus, Task
from vetting import jobs, service
from vetting.commands import vetting_group
from vetting.models import Application, Stage

EXPIRES = date(2026, 12, 10)


def _approved_with_insurance_expiring(vet, factories, **kw):
    pro = factories.professional(email=kw.pop("email", "marta.pro@example.com"), **kw)
    for t in ("identity", "right_to_work"):
        vet.document(pro, t)
    ins = vet.document(pro, "insurance", expires_on=EXPIRES)
    return pro, ins


def _tasks(session, kind):
    return session.scalars(sa.select(Task).where(Task.kind == kind).order_by(Task.id)).all()


def test_reminder_within_30_days_only_once(session, app, vet, factories):
    pro, ins = _approved_with_insurance_expiring(vet, factories)
    assert jobs.check_documents(session=session, now=datetime(2026, 11, 9, 6), config=app.config
                                )["reminded"] == 0
    result = jobs.check_documents(session=session, now=datetime(2026, 11, 10, 6),
                                  config=app.config)
    assert result == {"reminded": 1, "suspended": []}
    (task,) = _tasks(session, "document_expiring")
    assert task.role == "vetting" and "10/12/2026" in task.title
    again = jobs.check_documents(session=session, now=datetime(2026, 11, 11, 6), config=app.config)
    assert again["reminded"] == 0 and len(_tasks(session, "document_expiring")) == 1


def test_expired_required_document_suspends_on_the_day_after(session, app, vet, factories,
                                                             mail_sink):
    pro, ins = _approved_with_insurance_expiring(vet, factories, email="suspend.me@example.com")
    client = factories.client()
    upcoming = factories.request(client=client, professional=pro, day=date(2026, 12, 14))
    done = factories.request(client=client, professional=pro, day=date(2026, 12, 1),
                             status=RequestStatus.DONE)

    last_valid = jobs.check_documents(session=session, now=datetime.combine(EXPIRES, time(23, 59)),
                                      config=app.config)
    assert last_valid["suspended"] == [] and pro.status == ProfessionalStatus.APPROVED

    result = jobs.check_documents(session=session, now=datetime(2026, 12, 11, 0, 5),
                                  config=app.config)
    assert result["suspended"] == [pro.id]
    assert pro.status == ProfessionalStatus.SUSPENDED
    # The services stay assigned but are flagged for agents, one task each.
    (task,) = _tasks(session, "service_at_risk")
    assert (task.role, task.entity_id) == ("ops_agent", str(upcoming.id))
    assert upcoming.professional_id == pro.id and done.id != int(task.entity_id)

    mail.deliver(session, host="127.0.0.1", port=mail_sink.port, sender="vetting@example.com")
    got = [m for m in mail_sink.messages if m["To"] == "suspend.me@example.com"]
    assert [m["Subject"] for m in got] == ["Tu documento caduca el 10/12/2026",
                                          "Tu actividad está suspendida"]
    assert "insurance" in got[1].get_content()


def test_a_renewed_document_prevents_suspension(session, app, vet, factories):
    pro, ins = _approved_with_insurance_expiring(vet, factories)
    vet.document(pro, "insurance", expires_on=date(2027, 12, 10))
    result = jobs.check_documents(session=session, now=datetime(2026, 12, 20), config=app.config)
    assert result == {"reminded": 0, "suspended": []}


def test_hook_can_be_called_again_without_duplicates(session, factories):
    pro = factories.professional()
    factories.request(professional=pro, day=date(2026, 12, 2))
    now = datetime(2026, 12, 1)
    assert len(service.on_professional_suspended(session, pro.id, now)) == 1
    assert service.on_professional_suspended(session, pro.id, now) == []


def test_cli_runs_the_job_for_a_given_moment(session, app, vet, factories):
    pro, _ = _approved_with_insurance_expiring(vet, factories)
    rt = Runtime(app.config, sessionmaker=db.sessionmaker)  # on the test's connection
    result = CliRunner().invoke(vetting_group, ["check-documents", "--now", "2026-12-11T06:00"],
                                obj=rt)
    assert result.exit_code == 0, result.output
    assert result.output == ("Document check at 2026-12-11 06:00: 0 expiry reminders, "
                             f"1 professionals suspended (#{pro.id}).\n")
    bad = CliRunner().invoke(vetting_group, ["check-documents", "--now", "tomorrow"], obj=rt)
    assert bad.exit_code == 2 and "not an ISO date" in bad.output


def test_incidents_over_threshold_open_a_re_review(session, factories):
    pro = factories.professional()
    for day in (3, 10):
        assert service.record_incident(session, professional=pro, kind="no_show",
                                       occurred_on=date(2026, 11, day), note=None,
                                       threshold=2) is None
    app = service.record_incident(session, professional=pro, kind="complaint",
                                  occurred_on=date(2026, 11, 20), note="late again", threshold=2)
    assert (app.kind, app.stage) == ("re_review", Stage.APPLIED)
    assert "3 complaints/no-shows in 11/2026" in app.note
    assert [t.kind for t in _tasks(session, "re_review")] == ["re_review"]
    # A fourth does not open a second one.
    assert service.record_incident(session, professional=pro, kind="complaint",
                                   occurred_on=date(2026, 11, 21), note=None, threshold=2) is None
    assert session.scalar(sa.select(sa.func.count(Application.id)).where(
        Application.professional_id == pro.id)) == 1


def test_rejected_re_review_suspends(session, vet, make_user, factories):
    from vetting import workflow

    pro = factories.professional()
    app = service.create_application(session, professional=pro, kind="re_review")
    workflow.transition(session, application=app, to="rejected", user=make_user("vetting"),
                        reason="references")
    assert pro.status == ProfessionalStatus.SUSPENDED


def test_a_job_reads_the_day_in_madrid_when_the_machine_says_utc(session, app, vet, factories):
    # 23:30 UTC on the day the insurance expires is already the next day in Madrid: the
    # document is expired there, and the professional is suspended.
    pro, _ = _approved_with_insurance_expiring(vet, factories)
    late = datetime(EXPIRES.year, EXPIRES.month, EXPIRES.day, 23, 30, tzinfo=UTC)

    result = jobs.check_documents(session=session, now=late, config=app.config)

    assert result["suspended"] == [pro.id] and pro.status == ProfessionalStatus.SUSPENDED
