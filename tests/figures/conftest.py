"""A small world whose every figure is counted by hand: two weeks of cases, surveys, calls and
bookings (weeks of Monday 16 and Monday 23 November 2026, Madrid time: UTC+1)."""

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from backoffice import audit
from backoffice.models import (
    AuditEvent,
    Interaction,
    InteractionKind,
    RequestStatus,
    ServiceRequest,
    TimeOff,
)
from cases.models import Article, ArticleKind, Case, CaseCategory, CaseStateVisit, CaseTag
from surveys.models import Survey, SurveyStatus, SurveySubject

W1, W2 = date(2026, 11, 16), date(2026, 11, 23)
NOW = datetime(2026, 11, 25, 10, 0)  # Wednesday of W2, naive UTC


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """Return a naive UTC moment (in November Madrid is UTC+1: 09:00 UTC is 10:00 there)."""
    return datetime.combine(day, time(hour, minute))


@pytest.fixture()
def world(session, factories, make_user):
    a, b = make_user("ops_agent"), make_user("ops_agent")
    cat = {c.code: c for c in session.scalars(sa.select(CaseCategory))}
    policy = session.scalar(sa.text("SELECT min(id) FROM case_sla_policy"))
    client = factories.client()

    def case(created, *, category=None, agent=None, first=None, solved=None, state="open",
             policy_id=None, breached="", tags=()):
        c = Case(subject="Figures", channel="mail", state=state, client_id=client.id,
                 category_id=cat[category].id if category else None,
                 assignee_id=agent.id if agent else None, assigned_at=created if agent else None,
                 created_at=created, updated_at=created, state_entered_at=created,
                 first_response_at=first, solved_at=solved, sla_policy_id=policy_id,
                 sla_breached=breached)
        c.tags = [CaseTag(name=t) for t in tags]
        open_state = "new" if first is None else "open"
        c.visits = [CaseStateVisit(state=open_state, entered_at=created, left_at=solved,
                                   actor="test")]
        if solved:
            c.visits.append(CaseStateVisit(state="solved", entered_at=solved, actor="test"))
        session.add(c)
        session.flush()
        return c

    d = timedelta
    c1 = case(at(W1, 9), category="booking_change", agent=a, first=at(W1, 9, 30),
              solved=at(W1, 11), state="solved", policy_id=policy, tags=("vip",))
    c2 = case(at(W1 + d(1), 9), category="booking_change", agent=a,
              first=at(W1 + d(1), 10, 30), solved=at(W1 + d(2), 11), state="solved",
              policy_id=policy, breached="first_response", tags=("vip", "late"))
    c3 = case(at(W1 + d(2), 9), category="cancellation", agent=b, first=at(W1 + d(2), 9, 10))
    c4 = case(at(W2, 9), state="new")
    c5 = case(at(W2, 10), category="booking_change", agent=b, first=at(W2, 10, 45),
              solved=at(W2 + d(1), 10), state="solved", tags=("late",))

    p1, p2 = factories.professional(), factories.professional()
    session.add(TimeOff(professional_id=p1.id, starts_on=W1 + d(3), ends_on=W1 + d(3)))

    def survey(n, answered, score, *, subject="case", case_=None, staff=None, pro=None,
               category=None, status=SurveyStatus.ANSWERED):
        session.add(Survey(subject=SurveySubject(subject), dedup_key=f"figures:{n}",
                           case_id=case_.id if case_ else None, client_id=client.id,
                           concerned_staff_id=staff.id if staff else None,
                           concerned_professional_id=pro.id if pro else None,
                           category_code=category, status=status, send_after=at(W1, 8),
                           answered_at=answered, score=score))

    survey(1, at(W1 + d(1), 12), 5, case_=c1, staff=a, category="booking_change")
    survey(2, at(W1 + d(3), 12), 2, case_=c2, staff=a, category="booking_change")
    survey(3, at(W1 + d(4), 12), 4, subject="service", pro=p1)
    survey(4, at(W2, 12), 3, subject="service", pro=p1)
    survey(5, None, None, subject="service", pro=p2, status=SurveyStatus.SENT)

    session.add_all([
        Article(case_id=c1.id, kind=ArticleKind.CALL_IN, author_id=a.id, call_seconds=120,
                created_at=at(W1, 9, 5)),
        Article(case_id=c3.id, kind=ArticleKind.CALL_OUT, author_id=b.id, call_seconds=300,
                created_at=at(W1 + d(2), 9, 20)),
        Interaction(kind=InteractionKind.CALL_IN, client_id=client.id, staff_id=a.id,
                    duration_s=60, at=at(W1 + d(4), 15)),
        Interaction(kind=InteractionKind.CALL_OUT, client_id=client.id, staff_id=a.id,
                    duration_s=None, at=at(W1 + d(4), 16)),  # no length: not timed
        Interaction(kind=InteractionKind.NOTE, client_id=client.id, staff_id=a.id,
                    at=at(W1 + d(4), 17)),
    ])

    def booking(day, status, *, pro=None, minutes=120, price=3000, created=None,
                assigned_after=None):
        r = factories.request(client=client, day=day, duration_min=minutes, price_cents=price,
                              cancellation_reason="x" if status == "cancelled" else None)
        start = datetime.combine(day, time(9))
        session.execute(sa.update(ServiceRequest).where(ServiceRequest.id == r.id).values(
            status=status, professional_id=pro.id if pro else None,
            start_at=start if pro else None,
            end_at=start + timedelta(minutes=minutes) if pro else None,
            created_at=created or at(day - d(3), 8)))
        if assigned_after is not None:
            row = audit.row("update", "service_request", r.id,
                            {"status": ["new", "assigned"]})
            row["at"] = (created or at(day - d(3), 8)) + timedelta(minutes=assigned_after)
            session.execute(sa.insert(AuditEvent.__table__), [row])
        return r

    booking(W1, RequestStatus.DONE.value, pro=p1, minutes=120, price=3000,
            created=at(W1, 8), assigned_after=60)
    booking(W1 + d(1), RequestStatus.NO_SHOW.value, pro=p1, minutes=60, price=2000,
            created=at(W1, 9), assigned_after=180)
    booking(W1 + d(2), RequestStatus.CANCELLED.value, price=3000, created=at(W1 + d(1), 8))
    booking(W1 + d(3), RequestStatus.NEW.value, price=4000, created=at(W1 + d(1), 9))
    booking(W1 + d(4), RequestStatus.ASSIGNED.value, pro=p2, minutes=90, price=2500,
            created=at(W1 + d(1), 10), assigned_after=30)
    session.flush()
    session.expire_all()
    return SimpleNamespace(a=a, b=b, p1=p1, p2=p2, c1=c1, c2=c2, c3=c3, c4=c4, c5=c5,
                           client=client, cat=cat)
