"""The states of a case, the table of legal moves, and the one transition function.

Every door that changes a case's state (the case page, bulk actions, a macro, an inbound reply,
the nightly close, a merge) ends in transition().
"""

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.db import utcnow
from backoffice.i18n import Refusal
from backoffice.models import StaffUser
from cases.models import Case, CaseState, CaseStateVisit

S = CaseState
TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    S.NEW: frozenset({S.OPEN, S.PENDING, S.ON_HOLD, S.SOLVED, S.MERGED}),
    S.OPEN: frozenset({S.PENDING, S.ON_HOLD, S.SOLVED, S.MERGED}),
    S.PENDING: frozenset({S.OPEN, S.ON_HOLD, S.SOLVED, S.MERGED}),
    S.ON_HOLD: frozenset({S.OPEN, S.PENDING, S.SOLVED, S.MERGED}),
    # A reply to a solved case reopens it; a week later it closes for good.
    S.SOLVED: frozenset({S.OPEN, S.CLOSED}),
    # A reply to a closed case opens a new case that follows it (service.follow_up).
    S.CLOSED: frozenset(),
    S.MERGED: frozenset(),
}
ACTIVE = (S.NEW, S.OPEN, S.PENDING, S.ON_HOLD)
PAUSED = (S.PENDING, S.ON_HOLD)  # the SLA clocks stop while the case waits on someone else
FINAL = (S.CLOSED, S.MERGED)
CLOSE_AFTER = timedelta(days=7)


def is_legal(current: CaseState, to: CaseState) -> bool:
    """Tell whether the table allows moving from current to to."""
    return CaseState(to) in TRANSITIONS[CaseState(current)]


def blockers(case: Case, to: CaseState, *, merged_into: Case | None, now: datetime
             ) -> list[Refusal]:
    """Return why a move the table allows cannot happen now (empty: it can)."""
    problems = []
    if to == S.SOLVED and case.category_id is None:
        problems.append(Refusal("category: choose what the case is about before solving it"))
    if to == S.MERGED and merged_into is None:
        problems.append(Refusal("merged_into: a case is merged into another case; use Merge"))
    return problems


def allowed(case: Case, *, now: datetime) -> list[CaseState]:
    """Return the states an agent can move this case to now (merge has its own door)."""
    # In the states' own order: a frozenset's order differs from one process to the next, and
    # the buttons must stand where the agent expects them on every worker.
    return [to for to in CaseState if to in TRANSITIONS[CaseState(case.state)]
            and to != S.MERGED and not blockers(case, to, merged_into=None, now=now)]


def transition(session: Session, *, case: Case, to: CaseState | str,
               user: StaffUser | None = None, note: str | None = None,
               merged_into: Case | None = None, now: datetime | None = None) -> Case:
    """Move a case to another state, or raise Refusal saying why it cannot."""
    from cases import deadlines, playbooks  # the SLA clocks and playbooks follow every move
    from surveys import service as surveys

    now = now or utcnow()
    current = CaseState(case.state)
    try:
        to = CaseState(to)
    except ValueError:
        raise Refusal("state: unknown state %(to)s", to=str(to)) from None
    if to == current:
        return case
    if not is_legal(current, to):
        raise Refusal("state: a %(current)s case cannot become %(to)s", current=current, to=to)
    problems = blockers(case, to, merged_into=merged_into, now=now)
    if problems:
        raise problems[0]

    actor = user.email if user else audit.current_actor().label
    for visit in case.visits:
        if visit.left_at is None:
            visit.left_at = now
    case.visits.append(CaseStateVisit(state=to, entered_at=now, actor=actor, note=note))
    case.state, case.state_entered_at, case.updated_at = to, now, now
    if to == S.SOLVED:
        case.solved_at = now
    elif to == S.OPEN:
        case.solved_at = None
    if to == S.CLOSED:
        case.closed_at = now
    if to == S.MERGED:
        case.merged_into_id = merged_into.id
    deadlines.apply(session, case=case, now=now)
    session.flush()  # the audit trail records the state change with the flush
    # The one door every move passes: a solved dispute resumes the dunning its case paused.
    playbooks.after_transition(session, case, to, now)
    surveys.case_moved(session, case=case, to=to, now=now)  # a reopened case cancels its own
    return case
