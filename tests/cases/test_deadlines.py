"""The SLA clocks against the database: stored due times and the sweep's warnings and breaches."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from backoffice.models import AuditEvent, OutboxMessage
from cases import deadlines
from cases.models import (
    BusinessHours,
    Case,
    CaseCategory,
    CasePriority,
    CaseState,
    CaseStateVisit,
    ClosedDay,
    SlaPolicy,
)

MADRID = ZoneInfo("Europe/Madrid")


def local(y, m, d, h=0, mi=0) -> datetime:
    """Return a Madrid wall-clock time as the naive UTC moment the database stores."""
    return datetime(y, m, d, h, mi, tzinfo=MADRID).astimezone(UTC).replace(tzinfo=None)


# Tuesday 9:00: the seeded normal policy gives 4 h to the first response (due 13:00, 75% at
# 12:00) and 30 h to the resolution (due Thursday 19:00).
CREATED = local(2026, 11, 24, 9)


@pytest.fixture()
def make_case(session):
    def make(*, state=CaseState.NEW, priority=CasePriority.NORMAL, assignee=None,
             created_at=CREATED, **kw) -> Case:
        case = Case(subject="Cambio de hora", channel="mail", state=state, priority=priority,
                    assignee_id=assignee.id if assignee else None, created_at=created_at,
                    updated_at=created_at, state_entered_at=created_at, **kw)
        case.visits.append(CaseStateVisit(state=state, entered_at=created_at, actor="test"))
        session.add(case)
        session.flush()
        deadlines.apply(session, case=case, now=created_at)
        session.flush()
        return case

    return make


def move(session, case: Case, to: CaseState, at: datetime) -> None:
    """Move a case as the workflow does: close the stay, open the next, reapply the clocks."""
    for v in case.visits:
        if v.left_at is None:
            v.left_at = at
    case.visits.append(CaseStateVisit(state=to, entered_at=at, actor="test"))
    case.state = to
    deadlines.apply(session, case=case, now=at)
    session.flush()


def outbox(session, template: str) -> list[OutboxMessage]:
    return list(session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == template)
                                .order_by(OutboxMessage.id)))


def breaches(session, case: Case) -> list[AuditEvent]:
    return list(session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "sla_breach", AuditEvent.entity_id == str(case.id))))


def test_the_calendar_comes_from_the_seeded_hours_and_the_closed_days(session):
    calendar = deadlines.load_calendar(session, tz="Europe/Madrid")
    assert calendar.open_intervals(date(2026, 11, 24)) == ((local(2026, 11, 24, 9),
                                                            local(2026, 11, 24, 19)),)
    assert calendar.open_intervals(date(2026, 11, 28)) == ()
    assert calendar.is_closed(date(2026, 3, 19))
    assert deadlines.load_calendar(session, tz="Europe/Madrid") is calendar

    session.add(ClosedDay(day=date(2026, 11, 24), note="Inventario"))
    session.add(BusinessHours(weekday=5, opens=time(10), closes=time(13)))
    session.flush()
    edited = deadlines.load_calendar(session, tz="Europe/Madrid")
    assert edited is not calendar
    assert edited.open_intervals(date(2026, 11, 24)) == ()
    assert edited.open_intervals(date(2026, 11, 28)) == ((local(2026, 11, 28, 10),
                                                          local(2026, 11, 28, 13)),)


def test_a_category_policy_comes_before_the_general_one(session, make_case):
    general = session.scalar(sa.select(SlaPolicy).where(
        SlaPolicy.priority == CasePriority.HIGH, SlaPolicy.category_id.is_(None)))
    case = make_case(priority=CasePriority.HIGH, category_id=None)
    assert deadlines.policy_for(session, case) == general
    category = session.scalar(sa.select(CaseCategory).order_by(CaseCategory.id).limit(1))
    special = SlaPolicy(name="high complaints", priority=CasePriority.HIGH,
                        category_id=category.id, first_response_minutes=15,
                        next_response_minutes=60, resolution_minutes=120)
    retired = SlaPolicy(name="old", priority=CasePriority.HIGH, category_id=category.id,
                        first_response_minutes=1, next_response_minutes=1, resolution_minutes=1,
                        active=False)
    session.add_all([special, retired])
    session.flush()
    case.category_id = category.id
    assert deadlines.policy_for(session, case) == special
    deadlines.apply(session, case=case, now=CREATED)
    assert case.sla_policy_id == special.id
    assert case.first_response_due_at == local(2026, 11, 24, 9, 15)


def test_apply_stores_the_due_times_and_the_earliest(session, make_case):
    case = make_case()
    assert case.sla_policy_id is not None
    assert case.first_response_due_at == local(2026, 11, 24, 13)
    assert case.next_response_due_at is None
    assert case.resolution_due_at == local(2026, 11, 26, 19)
    assert case.next_due_at == case.first_response_due_at

    case.first_response_at = local(2026, 11, 24, 10)
    case.awaiting_since = local(2026, 11, 24, 11)
    deadlines.apply(session, case=case, now=local(2026, 11, 24, 11))
    assert case.first_response_due_at is None
    assert case.next_response_due_at == local(2026, 11, 24, 19)  # 8 h, to the closing
    assert case.next_due_at == case.next_response_due_at


def test_a_paused_case_stores_no_due_time_and_resumes_later(session, make_case):
    case = make_case(state=CaseState.OPEN)
    move(session, case, CaseState.PENDING, local(2026, 11, 24, 10))
    assert (case.first_response_due_at, case.resolution_due_at, case.next_due_at) == \
        (None, None, None)
    move(session, case, CaseState.OPEN, local(2026, 11, 25, 10))
    # Paused Tuesday 10:00 to Wednesday 10:00: ten business hours later than before.
    assert case.first_response_due_at == local(2026, 11, 25, 13)
    assert case.resolution_due_at == local(2026, 11, 27, 19)


def test_a_solved_case_stops_its_resolution_clock(session, make_case):
    case = make_case(state=CaseState.OPEN, first_response_at=local(2026, 11, 24, 10))
    move(session, case, CaseState.SOLVED, local(2026, 11, 24, 12))
    assert (case.resolution_due_at, case.next_due_at) == (None, None)


def test_the_sweep_warns_the_assignee_once_at_75_percent(session, make_case, make_user):
    agent = make_user("ops_agent", locale="es")
    case = make_case(assignee=agent)

    assert deadlines.sweep(session, now=local(2026, 11, 24, 11, 59)) == \
        {"warned": 0, "breached": 0}
    assert deadlines.sweep(session, now=local(2026, 11, 24, 12)) == {"warned": 1, "breached": 0}
    assert deadlines.sweep(session, now=local(2026, 11, 24, 12, 1)) == \
        {"warned": 0, "breached": 0}

    [warning] = outbox(session, "cases/sla_warning")
    assert warning.to_address == agent.email
    assert case.number in warning.subject and "primera respuesta" in warning.subject
    assert "24/11/2026 13:00" in warning.body  # the due time in Madrid
    assert (warning.entity, warning.entity_id) == ("case", str(case.id))
    assert case.sla_warned == "first_response"
    assert case.sla_breached == ""


def test_the_sweep_marks_a_breach_once_and_tells_every_active_admin(session, make_case,
                                                                   make_user):
    agent = make_user("ops_agent")
    admins = [make_user("admin", locale="en"), make_user("admin", "finance", locale="es")]
    retired = make_user("admin")
    retired.active = False
    session.flush()
    case = make_case(assignee=agent)

    assert deadlines.sweep(session, now=local(2026, 11, 24, 12)) == {"warned": 1, "breached": 0}
    assert deadlines.sweep(session, now=local(2026, 11, 24, 13)) == {"warned": 0, "breached": 1}
    assert deadlines.sweep(session, now=local(2026, 11, 24, 13, 1)) == \
        {"warned": 0, "breached": 0}

    mails = outbox(session, "cases/sla_breach")
    assert sorted(m.to_address for m in mails) == sorted(a.email for a in admins)
    english = next(m for m in mails if m.to_address == admins[0].email)
    assert english.subject == f"{case.number} · SLA breached: first response"
    [event] = breaches(session, case)
    assert event.changes["sla_breached"] == [None, "first_response"]
    assert case.sla_breached == "first_response"
    assert len(outbox(session, "cases/sla_warning")) == 1


def test_a_case_past_due_at_once_is_breached_without_a_late_warning(session, make_case,
                                                                    make_user):
    agent = make_user("ops_agent")
    case = make_case(assignee=agent)
    # The scheduler was down all morning: 100% comes before any 75% was seen.
    assert deadlines.sweep(session, now=local(2026, 11, 24, 14)) == {"warned": 0, "breached": 1}
    assert outbox(session, "cases/sla_warning") == []
    assert case.sla_warned == "first_response"
    assert deadlines.sweep(session, now=local(2026, 11, 24, 14)) == {"warned": 0, "breached": 0}


def test_paused_and_stopped_cases_are_never_swept(session, make_case, make_user):
    agent = make_user("ops_agent")
    make_user("admin")
    pending = make_case(state=CaseState.OPEN, assignee=agent)
    move(session, pending, CaseState.PENDING, local(2026, 11, 24, 9, 30))
    on_hold = make_case(state=CaseState.OPEN, assignee=agent)
    move(session, on_hold, CaseState.ON_HOLD, local(2026, 11, 24, 9, 30))
    solved = make_case(state=CaseState.OPEN, assignee=agent,
                       first_response_at=local(2026, 11, 24, 9, 10))
    move(session, solved, CaseState.SOLVED, local(2026, 11, 24, 9, 30))

    assert deadlines.sweep(session, now=local(2026, 12, 15, 12)) == {"warned": 0, "breached": 0}
    assert outbox(session, "cases/sla_warning") == outbox(session, "cases/sla_breach") == []


def test_an_unassigned_case_is_flagged_without_a_mail(session, make_case):
    case = make_case()
    assert deadlines.sweep(session, now=local(2026, 11, 24, 12)) == {"warned": 1, "breached": 0}
    assert outbox(session, "cases/sla_warning") == []
    assert case.sla_warned == "first_response"


def test_each_wait_of_the_requester_has_its_own_next_response_clock(session, make_case,
                                                                    make_user):
    agent = make_user("ops_agent")
    case = make_case(state=CaseState.OPEN, assignee=agent,
                     first_response_at=local(2026, 11, 24, 9, 30),
                     awaiting_since=local(2026, 11, 24, 10))
    deadlines.apply(session, case=case, now=local(2026, 11, 24, 10))
    # 8 h from Tuesday 10:00: due 18:00, 75% at 16:00.
    assert case.next_response_due_at == local(2026, 11, 24, 18)
    assert deadlines.sweep(session, now=local(2026, 11, 24, 16))["warned"] == 1

    case.awaiting_since = None  # the agent answered
    deadlines.apply(session, case=case, now=local(2026, 11, 24, 17))
    assert "next_response" not in case.sla_warned
    case.awaiting_since = local(2026, 11, 25, 10)  # the requester wrote again
    deadlines.apply(session, case=case, now=local(2026, 11, 25, 10))
    session.flush()
    assert deadlines.sweep(session, now=local(2026, 11, 25, 16))["warned"] == 1
    assert len([m for m in outbox(session, "cases/sla_warning")
                if "siguiente respuesta" in m.subject or "next response" in m.subject]) == 2


def test_reapply_follows_an_edited_calendar(session, make_case):
    case = make_case()
    assert case.first_response_due_at == local(2026, 11, 24, 13)
    session.add(ClosedDay(day=date(2026, 11, 24), note="Inventario"))
    session.flush()
    assert deadlines.reapply(session, now=CREATED) == 1
    assert case.first_response_due_at == local(2026, 11, 25, 13)
