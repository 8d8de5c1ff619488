"""The transition table, four eyes, decisions and what they leave behind."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from backoffice import mail
from backoffice.models import AuditEvent, OutboxMessage, ProfessionalStatus, StaffUser
from tests.vetting.conftest import NOW
from vetting import workflow
from vetting.models import Stage

PAIRS = [(a, b) for a in Stage for b in Stage if a != b]
WORKING = (Stage.APPLIED, Stage.DOCUMENTS, Stage.CHECKS, Stage.INTERVIEW, Stage.DECISION)


def _application_in(vet, stage, preparer, held_from=Stage.CHECKS):
    app = vet.applicant()
    if stage in WORKING:
        return vet.bring_to(app, stage, preparer)
    if stage == Stage.ON_HOLD:
        vet.bring_to(app, held_from, preparer)
        workflow.transition(vet.session, application=app, to=Stage.ON_HOLD, user=preparer,
                            note="waiting for the applicant", now=NOW + timedelta(days=1))
        return app
    vet.bring_to(app, Stage.DECISION, preparer)
    if stage == Stage.APPROVED:
        other = vet.make_user("vetting")
        workflow.transition(vet.session, application=app, to=stage, user=other, now=NOW)
    else:
        workflow.transition(vet.session, application=app, to=stage, user=preparer,
                            reason="interview", now=NOW)
    return app


@pytest.fixture()
def staff(session):
    """Make vetting users that never log in (no password hashing: keeps the table test fast)."""
    from itertools import count

    n = count(1)

    def make(*roles):
        i = next(n)
        user = StaffUser(email=f"table{i}@staff.example.com", name=f"Vetter {i}",
                         password_hash="!", roles=",".join(roles or ("vetting",)))
        session.add(user)
        session.flush()
        return user

    return make


@pytest.mark.parametrize(("current", "to"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_transition_table(vet, staff, current, to):
    vet.make_user = staff
    preparer, approver = staff(), staff()
    held_from = to if current == Stage.ON_HOLD and to in WORKING else Stage.CHECKS
    app = _application_in(vet, current, preparer, held_from=held_from)
    assert app.stage == current
    kwargs = {"reason": "documents" if to == Stage.REJECTED else None,
              "note": "checked" if to == Stage.ON_HOLD else None}
    if not workflow.is_legal(current, to):
        with pytest.raises(ValueError, match=f"cannot move to {to.value}"):
            workflow.transition(vet.session, application=app, to=to, user=approver, **kwargs)
        assert app.stage == current
        return
    if to in (Stage.CHECKS, Stage.INTERVIEW, Stage.DECISION) and current != Stage.ON_HOLD:
        vet.ready_for(app, to, preparer)
    workflow.transition(vet.session, application=app, to=to, user=approver, **kwargs)
    assert app.stage == to
    assert app.visits[-1].stage == to and app.visits[-1].left_at is None
    assert all(v.left_at is not None for v in app.visits[:-1])


def test_terminal_stages_allow_nothing():
    assert workflow.TRANSITIONS[Stage.APPROVED] == frozenset()
    assert workflow.TRANSITIONS[Stage.REJECTED] == frozenset()


def test_illegal_move_names_the_allowed_ones(vet, make_user):
    app = vet.applicant()
    with pytest.raises(ValueError) as err:
        workflow.transition(vet.session, application=app, to="approved", user=make_user("vetting"))
    assert str(err.value) == ("stage: an application in applied cannot move to approved; "
                              "allowed: documents, on_hold, rejected")


def test_checks_need_the_documents_the_skills_require(vet, make_user):
    user = make_user("vetting")
    app = vet.bring_to(vet.applicant(skills=("childcare",)), Stage.DOCUMENTS, user)
    for t in ("identity", "right_to_work", "insurance"):
        vet.document(app.professional, t)
    with pytest.raises(ValueError, match="first_aid, childcare_certificate"):
        workflow.transition(vet.session, application=app, to=Stage.CHECKS, user=user)


def test_references_need_two_contacted(vet, make_user):
    from vetting import checks

    app = vet.applicant()
    checks.add_reference(vet.session, application=app, name="A", contact="a@x.es", contacted=True)
    checks.add_reference(vet.session, application=app, name="B", contact="b@x.es")
    with pytest.raises(ValueError, match="at least 2 references"):
        checks.record_check(vet.session, application=app, kind="references", status="clear",
                            user=make_user("vetting"))


def test_four_eyes(vet, make_user):
    preparer, second = make_user("vetting"), make_user("vetting")
    app = vet.bring_to(vet.applicant(), Stage.DECISION, preparer)
    assert app.prepared_by_id == preparer.id
    with pytest.raises(ValueError, match="four eyes"):
        workflow.transition(vet.session, application=app, to=Stage.APPROVED, user=preparer)
    with pytest.raises(ValueError, match="approval needs a vetting user"):
        workflow.transition(vet.session, application=app, to=Stage.APPROVED,
                            user=make_user("ops_agent"))
    assert app.stage == Stage.DECISION
    assert app.professional.status == ProfessionalStatus.APPLICANT
    workflow.transition(vet.session, application=app, to=Stage.APPROVED, user=second)
    assert app.decided_by_id == second.id
    assert app.professional.status == ProfessionalStatus.APPROVED


def test_every_step_is_audited_and_time_in_stage_recorded(vet, session, make_user):
    user = make_user("vetting")
    app = vet.bring_to(vet.applicant(), Stage.DECISION, user)
    rows = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity == "vetting_application", AuditEvent.entity_id == str(app.id),
        AuditEvent.action == "transition")).all()
    assert [r.changes["stage"] for r in rows] == [
        ["applied", "documents"], ["documents", "checks"], ["checks", "interview"],
        ["interview", "decision"]]
    assert [v.seconds / 3600 for v in app.visits[:-1]] == [5, 5, 5, 5]


def test_rejection_needs_a_reason_and_sends_its_mail(vet, session, make_user, mail_sink):
    user = make_user("vetting")
    app = vet.bring_to(vet.applicant(email="ana.rejected@example.com", language="en"),
                       Stage.CHECKS, user)
    with pytest.raises(ValueError, match="reason: choose a rejection reason"):
        workflow.transition(session, application=app, to=Stage.REJECTED, user=user)
    workflow.transition(session, application=app, to=Stage.REJECTED, user=user,
                        reason="background")
    assert app.rejection_reason == "background"
    msg = session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_address == "ana.rejected@example.com"))
    assert msg.template == "vetting/rejected_background"
    mail.deliver(session, host="127.0.0.1", port=mail_sink.port, sender="vetting@example.com")
    got = [m for m in mail_sink.messages if m["To"] == "ana.rejected@example.com"]
    assert len(got) == 1
    assert got[0]["Subject"] == "Your application was not approved"
    assert "background check result does not allow us" in got[0].get_content()


def test_approval_mail_reaches_the_sink(vet, session, make_user, mail_sink):
    preparer, approver = make_user("vetting"), make_user("vetting")
    app = vet.bring_to(vet.applicant(email="luis.ok@example.com"), Stage.DECISION, preparer)
    workflow.transition(session, application=app, to=Stage.APPROVED, user=approver)
    mail.deliver(session, host="127.0.0.1", port=mail_sink.port, sender="vetting@example.com")
    got = [m for m in mail_sink.messages if m["To"] == "luis.ok@example.com"]
    assert [m["Subject"] for m in got] == ["Bienvenida: tu solicitud ha sido aprobada"]
