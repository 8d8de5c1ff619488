"""Satisfaction surveys: made 24 hours after a case is solved or a service is done, mailed once
with a one-time link, answered once; a low score opens a task, a reopened case cancels its
survey.

Services flush; the boundary (the job, the CLI command, the public page) commits. Times are
naive UTC, as every column stores them. The link's token is made when its mail is written and
lives only in that mail: the row keeps its sha256.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.db import is_postgres
from backoffice.i18n import Refusal, for_team
from backoffice.models import (
    AuditEvent,
    Client,
    ClientStatus,
    Professional,
    RequestStatus,
    ServiceRequest,
    StaffUser,
)
from backoffice.services import tasks
from cases.models import Case, CaseState, CaseStateVisit, format_number
from surveys import mail
from surveys.models import Survey, SurveyStatus, SurveySubject

S = SurveyStatus
AFTER = timedelta(hours=24)  # a survey goes out this long after its cause
# A cause the job has not seen for this long after it was due (the scheduler was down, the
# first run on old data) is not surveyed any more: a late question gets careless answers.
LATE = timedelta(days=3)
# A service is done on or after its day; one marked done later than this is not looked for.
DONE_WITHIN = timedelta(days=60)
VALID_FOR = timedelta(days=14)
LOW = 2  # a score at or below needs a reason and opens a task
PENDING = (S.SCHEDULED, S.SENT)
LANGUAGES = ("es", "en")  # the page and the mails; any other language reads Spanish
MAX_COMMENT = 2000
MAX_TOKEN = 100
TASK_KIND = "csat_low"
# What a low score is about, by code, per subject (the page offers them in its language).
REASONS = {
    SurveySubject.SERVICE: {
        "late": "The professional arrived late",
        "quality": "The work was not done well",
        "incomplete": "Part of the service was not done",
        "damage": "Something was damaged or went missing",
        "manners": "The professional's manners",
        "other": "Another reason",
    },
    SurveySubject.CASE: {
        "slow": "It took too long",
        "not_solved": "My problem was not solved",
        "unclear": "The answers were not clear",
        "manners": "The agent's manners",
        "other": "Another reason",
    },
}
# Why a survey was cancelled or never sent, by code (the panel words them).
CANCEL_REASONS = {
    "reopened": "The case was reopened",
    "erased": "The person's data was erased",
    "merged": "The client was merged into another",
    "failing_address": "Mail to the person's address bounces",
    "no_email": "The person has no mail address",
    "unknown_requester": "The requester is not a known client or professional",
}


def hash_token(token: str) -> str:
    """Return the sha256 a survey keeps of its link's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def reason_text(subject: SurveySubject | str, code: str | None) -> str | None:
    """Return the English wording of a low score's reason (the msgid pages translate)."""
    return REASONS[SurveySubject(subject)].get(code) if code else None


# --- making surveys

def create_due(session: Session, *, now: datetime) -> list[Survey]:
    """Make the surveys whose cause is 24 hours old: solved cases, then done services."""
    made = [*_case_surveys(session, now=now), *_service_surveys(session, now=now)]
    session.flush()
    return made


def _new_keys(session: Session, keys: list[str]) -> set[str]:
    taken = set()
    for i in range(0, len(keys), 500):
        taken.update(session.scalars(sa.select(Survey.dedup_key)
                                     .where(Survey.dedup_key.in_(keys[i:i + 500]))))
    return set(keys) - taken


def _case_surveys(session: Session, *, now: datetime) -> list[Survey]:
    due, oldest = now - AFTER, now - AFTER - LATE
    cases = session.scalars(sa.select(Case).where(
        Case.updated_at >= oldest,  # a move to solved sets it: the index narrows the search
        Case.state.in_((CaseState.SOLVED, CaseState.CLOSED)),
        Case.solved_at <= due, Case.solved_at >= oldest).order_by(Case.id)).all()
    if not cases:
        return []
    # One survey per time a case is solved: solved, reopened and solved again asks again.
    times = dict(session.execute(
        sa.select(CaseStateVisit.case_id, sa.func.count())
        .where(CaseStateVisit.case_id.in_([c.id for c in cases]),
               CaseStateVisit.state == CaseState.SOLVED)
        .group_by(CaseStateVisit.case_id)).all())
    keys = {c.id: f"case:{c.id}:solved:{times.get(c.id, 1)}" for c in cases}
    new = _new_keys(session, list(keys.values()))
    made = []
    for case in cases:
        if keys[case.id] not in new:
            continue
        staff = _case_staff(session, case)
        survey = Survey(subject=SurveySubject.CASE, dedup_key=keys[case.id], case_id=case.id,
                        concerned_staff_id=staff.id if staff else None,
                        concerned_name=staff.name if staff else None,
                        category_code=case.category.code if case.category else None,
                        send_after=case.solved_at + AFTER, status=S.SCHEDULED)
        # Only a known client or professional is asked: an unlinked sender's address was
        # never checked to be theirs, and their answer could be about no one we know.
        _ask(survey, case.client or case.professional)
        session.add(survey)
        made.append(survey)
    return made


def _case_staff(session: Session, case: Case) -> StaffUser | None:
    """Return the agent a case's answer is about: its assignee, else whoever solved it."""
    if case.assignee is not None:
        return case.assignee
    actor = session.scalar(sa.select(CaseStateVisit.actor).where(
        CaseStateVisit.case_id == case.id, CaseStateVisit.state == CaseState.SOLVED)
        .order_by(CaseStateVisit.id.desc()).limit(1))
    if not actor:
        return None
    return session.scalar(sa.select(StaffUser).where(StaffUser.email == actor))


def _service_surveys(session: Session, *, now: datetime) -> list[Survey]:
    due, oldest = now - AFTER, now - AFTER - LATE
    rows = session.scalars(sa.select(ServiceRequest).where(
        ServiceRequest.status == RequestStatus.DONE,
        ServiceRequest.service_date >= (oldest - DONE_WITHIN).date(),
        ServiceRequest.updated_at >= oldest,  # marking it done set it
        ~sa.exists().where(Survey.service_request_id == ServiceRequest.id))
        .order_by(ServiceRequest.id)).all()
    done_at = done_moments(session, [r.id for r in rows])
    made = []
    for row in rows:
        moment = done_at.get(row.id, row.updated_at)
        if not oldest <= moment <= due:
            continue
        pro = row.professional
        survey = Survey(subject=SurveySubject.SERVICE, dedup_key=f"service:{row.id}",
                        service_request_id=row.id, concerned_professional_id=row.professional_id,
                        concerned_name=pro.name if pro else None, category_code=row.skill,
                        send_after=moment + AFTER, status=S.SCHEDULED)
        _ask(survey, row.client)
        session.add(survey)
        made.append(survey)
    return made


def done_moments(session: Session, ids: list[int]) -> dict[int, datetime]:
    """Return when each of these services became done, as the audit trail recorded it.

    A service has no column for it: the trail's row of the move (every door ends in
    requests.transition, whose flush writes it) is the record. A service loaded in bulk
    without a trail has none; the caller falls back on its updated_at."""
    found: dict[int, datetime] = {}
    keys = [str(i) for i in ids]
    for i in range(0, len(keys), 500):
        rows = session.execute(
            sa.select(AuditEvent.entity_id, AuditEvent.at, AuditEvent.changes)
            .where(AuditEvent.entity == "service_request",
                   AuditEvent.entity_id.in_(keys[i:i + 500]),
                   AuditEvent.action.in_(("create", "update")))
            .order_by(AuditEvent.id))
        for entity_id, at, changes in rows:
            status = changes.get("status") if isinstance(changes, dict) else None
            if isinstance(status, list) and len(status) == 2 and status[1] == "done":
                found[int(entity_id)] = at
    return found


def _ask(survey: Survey, person: Client | Professional | None) -> None:
    """Address the survey to person in their language, or cancel it saying why not."""
    if isinstance(person, Client):
        survey.client_id = person.id
    elif isinstance(person, Professional):
        survey.professional_id = person.id
    if person is not None:
        survey.email = person.email
        survey.language = person.language if person.language in LANGUAGES else "es"
    why = unaskable(person)
    if why:
        survey.status, survey.cancel_reason = S.CANCELLED, why


def unaskable(person: Client | Professional | None) -> str | None:
    """Return why this person is not to be asked (a CANCEL_REASONS code), or None."""
    if person is None:
        return "unknown_requester"
    if getattr(person, "status", None) == ClientStatus.ERASED or getattr(
            person, "erased_at", None) is not None:
        return "erased"
    if getattr(person, "merged_into_id", None) is not None:
        return "merged"
    if person.email_failing_since is not None:
        return "failing_address"
    if not (person.email or "").strip():
        return "no_email"
    return None


# --- sending, expiring

def send_due(session: Session, *, now: datetime, base_url: str, tz: str = "Europe/Madrid"
             ) -> int:
    """Mail each scheduled survey whose time has come with a new one-time link."""
    query = (sa.select(Survey).where(Survey.status == S.SCHEDULED, Survey.send_after <= now)
             .order_by(Survey.id))
    if is_postgres(session):  # a second scheduler takes the rows this one has not
        query = query.with_for_update(skip_locked=True)
    sent = 0
    for survey in session.scalars(query).all():
        person = (session.get(Client, survey.client_id) if survey.client_id
                  else session.get(Professional, survey.professional_id)
                  if survey.professional_id else None)
        why = unaskable(person)
        if why:  # erased, merged or bouncing since the survey was made
            survey.status, survey.cancel_reason = S.CANCELLED, why
            continue
        token = secrets.token_urlsafe(32)
        survey.token_hash = hash_token(token)
        survey.status, survey.sent_at, survey.expires_at = S.SENT, now, now + VALID_FOR
        mail.enqueue(session, survey=survey, person=person,
                     link=f"{base_url.rstrip('/')}/survey/{token}", tz=tz)
        sent += 1
    session.flush()
    return sent


def expire(session: Session, *, now: datetime) -> int:
    """Mark the sent surveys whose link has expired unanswered."""
    rows = session.scalars(sa.select(Survey).where(Survey.status == S.SENT,
                                                   Survey.expires_at <= now)).all()
    for survey in rows:
        survey.status = S.EXPIRED
    session.flush()
    return len(rows)


def case_moved(session: Session, *, case: Case, to: CaseState, now: datetime) -> int:
    """Cancel the unanswered surveys of a case that is no longer solved (reopened)."""
    if CaseState(to) in (CaseState.SOLVED, CaseState.CLOSED):
        return 0
    # The visits are loaded by the transition: a case never solved costs no query.
    if not any(v.state == CaseState.SOLVED for v in case.visits):
        return 0
    pending = session.scalars(sa.select(Survey).where(Survey.case_id == case.id,
                                                      Survey.status.in_(PENDING))).all()
    for survey in pending:
        survey.status, survey.cancel_reason = S.CANCELLED, "reopened"
    if pending:
        session.flush()
    return len(pending)


# --- answering

def find(session: Session, *, token: str | None) -> Survey | None:
    """Return the survey a link's token opens, or None for a token no survey has."""
    if not token or len(token) > MAX_TOKEN:
        return None
    return session.scalar(sa.select(Survey).where(Survey.token_hash == hash_token(token)))


def standing(survey: Survey | None, *, now: datetime) -> str:
    """Say what a link can do: open, answered, expired, cancelled or invalid."""
    if survey is None or survey.status == S.SCHEDULED:
        return "invalid"
    if survey.status == S.ANSWERED:
        return "answered"
    if survey.status == S.CANCELLED:
        return "cancelled"
    if survey.status == S.EXPIRED or survey.expires_at is None or survey.expires_at <= now:
        return "expired"
    return "open"


def answer(session: Session, *, survey: Survey, score, comment: str | None,
           reason: str | None, now: datetime) -> Survey:
    """Record the one answer to an open survey, opening a task for a low score; or refuse."""
    if standing(survey, now=now) != "open":
        raise Refusal("survey: this survey can no longer be answered")
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        raise Refusal("score: choose a score from 1 to 5")
    if score <= LOW:
        if reason not in REASONS[SurveySubject(survey.subject)]:
            raise Refusal("reason: choose a reason when the score is 2 or less")
    else:
        reason = None
    comment = (comment or "").strip()
    if "\x00" in comment:
        raise Refusal("comment: contains a character that cannot be stored (NUL); remove it")
    if len(comment) > MAX_COMMENT:
        raise Refusal("comment: at most %(n)d characters", n=MAX_COMMENT)
    # One statement that answers only a survey still open: of two answers sent at once, the
    # second changes nothing.
    done = session.execute(
        sa.update(Survey).where(Survey.id == survey.id, Survey.status == S.SENT,
                                Survey.expires_at > now)
        .values(status=S.ANSWERED, answered_at=now, score=score, comment=comment or None,
                reason=reason)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Refusal("survey: this survey can no longer be answered")
    session.expire(survey)
    # The comment is the person's words: the trail keeps the score and the reason.
    audit.record(session, action="survey_answered", entity="survey", entity_id=survey.id,
                 changes={"score": [None, score], "reason": [None, reason]})
    if score <= LOW:
        low_score_task(session, survey=survey)
    return survey


def low_score_task(session: Session, *, survey: Survey):
    """Open the task a low score asks for: vetting looks at the professional, the admin at
    the case."""
    reason = for_team(reason_text(survey.subject, survey.reason) or "Another reason")
    details = for_team("Score %(score)d/5. Reason: %(reason)s. Comment: %(comment)s",
                       score=survey.score, reason=reason, comment=survey.comment or "—")
    if survey.subject == SurveySubject.SERVICE:
        about = ("professional", survey.concerned_professional_id) \
            if survey.concerned_professional_id else ("service_request", survey.service_request_id)
        task = tasks.create(
            session, role="vetting", kind=TASK_KIND, entity=about[0], entity_id=about[1],
            title=for_team("Low satisfaction with service #%(id)d by %(name)s: possible "
                           "incident, consider a re-review", id=survey.service_request_id,
                           name=survey.concerned_name or "—"),
            details=details, user=None)
    else:
        task = tasks.create(
            session, role="admin", kind=TASK_KIND, entity="case", entity_id=survey.case_id,
            title=for_team("Low satisfaction with case %(number)s: take a look",
                           number=format_number(survey.case_id)),
            details=details, user=None)
    task.dedup_key = f"{TASK_KIND}:survey{survey.id}"
    session.flush()
    return task
