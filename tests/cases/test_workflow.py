"""The case's states: the transition table, reopening, follow-ups, the nightly close."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice.i18n import Refusal
from backoffice.models import AuditEvent
from cases import jobs, service, workflow
from cases.models import ArticleKind, CaseLink, CaseState

S = CaseState
NOW = datetime(2026, 12, 1, 10, 0)  # a Tuesday, 11:00 in Madrid
PAIRS = [(a, b) for a in S for b in S if a != b]


def _case_in(session, make_case, category, state: CaseState):
    """Return a case brought to state through the transition function."""
    case = make_case(now=NOW, category=category("other"))
    path = {S.NEW: [], S.OPEN: [S.OPEN], S.PENDING: [S.PENDING], S.ON_HOLD: [S.ON_HOLD],
            S.SOLVED: [S.SOLVED], S.CLOSED: [S.SOLVED, S.CLOSED], S.MERGED: None}[state]
    if path is None:
        target = make_case(now=NOW, requester=case.requester, category=category("other"))
        service.merge(session, source=case, target=target, now=NOW)
        return case
    for to in path:
        workflow.transition(session, case=case, to=to, now=NOW)
    return case


@pytest.mark.parametrize(("current", "to"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_move_follows_the_table(session, make_case, category, current, to):
    case = _case_in(session, make_case, category, current)
    assert case.state == current
    if to == S.MERGED and workflow.is_legal(current, to):
        target = make_case(now=NOW, requester=case.requester)
        service.merge(session, source=case, target=target, now=NOW)
        assert case.state == S.MERGED and case.merged_into_id == target.id
    elif workflow.is_legal(current, to):
        workflow.transition(session, case=case, to=to, now=NOW)
        assert case.state == to
        assert case.visits[-1].state == to and case.visits[-2].left_at == NOW
    else:
        with pytest.raises(Refusal, match="^state: a .* case cannot become"):
            workflow.transition(session, case=case, to=to, now=NOW)
        assert case.state == current


def test_a_move_is_audited_with_its_states(session, make_case, category):
    case = make_case(now=NOW, category=category("other"))
    workflow.transition(session, case=case, to=S.PENDING, now=NOW)
    changes = session.scalars(sa.select(AuditEvent.changes).where(
        AuditEvent.entity == "case", AuditEvent.entity_id == str(case.id),
        AuditEvent.action == "update")).all()
    assert {"state": ["new", "pending"]} in [{k: v for k, v in c.items() if k == "state"}
                                             for c in changes]


def test_solving_needs_a_category(session, make_case):
    case = make_case(now=NOW)
    with pytest.raises(Refusal, match="^category:"):
        workflow.transition(session, case=case, to=S.SOLVED, now=NOW)
    assert case.state == S.NEW
    assert S.SOLVED not in workflow.allowed(case, now=NOW)


def test_merged_needs_the_merge_door(session, make_case):
    case = make_case(now=NOW)
    with pytest.raises(Refusal, match="^merged_into:"):
        workflow.transition(session, case=case, to=S.MERGED, now=NOW)


def test_a_reply_to_a_solved_case_reopens_it(session, make_case, category):
    case = _case_in(session, make_case, category, S.SOLVED)
    service.add_article(session, case=case, kind=ArticleKind.MAIL_IN, body="Sigue igual",
                        now=NOW + timedelta(hours=2))
    assert case.state == S.OPEN and case.solved_at is None
    assert case.awaiting_since == NOW + timedelta(hours=2)


def test_a_reply_to_a_closed_case_opens_a_follow_up(session, make_case, category):
    case = _case_in(session, make_case, category, S.CLOSED)
    with pytest.raises(Refusal, match="^state:"):
        service.add_article(session, case=case, kind=ArticleKind.MAIL_IN, body="Otra vez")
    new = service.follow_up(session, closed=case, now=NOW + timedelta(days=9))
    assert new.id != case.id and new.follows_id == case.id and new.state == S.NEW
    assert new.client_id == case.client_id
    assert [c.id for c in service.cases_of(session, entity="case", entity_id=case.id)] == [new.id]


def test_solved_cases_close_after_seven_days(session, make_case, category):
    old = _case_in(session, make_case, category, S.SOLVED)
    recent = make_case(now=NOW, category=category("other"))
    workflow.transition(session, case=recent, to=S.SOLVED, now=NOW + timedelta(days=3))
    closed = jobs.close_solved(session=session, now=(NOW + timedelta(days=7, minutes=1))
                               .replace(tzinfo=UTC), config={})
    assert closed == 1
    assert old.state == S.CLOSED and recent.state == S.SOLVED
    assert old.visits[-1].note == "closed_after_7_days"


def test_merge_moves_the_conversation_and_links(session, make_case, factories):
    client = factories.client()
    kept = make_case(now=NOW, requester=client, subject="Factura")
    gone = make_case(now=NOW, requester=client, subject="Factura otra vez", tags=["factura"])
    service.add_article(session, case=gone, kind=ArticleKind.MAIL_IN, body="Hola", now=NOW)
    booking = factories.request(client=client)
    service.link(session, case=gone, entity="service_request", entity_id=booking.id)
    service.merge(session, source=gone, target=kept, now=NOW)
    session.expire_all()
    assert gone.state == S.MERGED and gone.merged_into_id == kept.id
    assert [a.body for a in kept.articles] == ["Hola"] and gone.articles == []
    assert kept.tag_names == ["factura"]
    assert session.scalars(sa.select(CaseLink.case_id).where(
        CaseLink.entity == "service_request")).all() == [kept.id]


def test_merge_refuses_another_requester(session, make_case):
    a, b = make_case(now=NOW), make_case(now=NOW)
    with pytest.raises(Refusal, match="^target: only cases of the same requester"):
        service.merge(session, source=a, target=b, now=NOW)
    assert a.state == S.NEW
