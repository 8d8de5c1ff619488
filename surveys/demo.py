"""Demo answers: most solved cases and done services of the demo were rated, mostly well."""

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from backoffice.db import utcnow
from backoffice.models import Client, Professional, RequestStatus, ServiceRequest, StaffUser
from surveys.models import Survey, SurveyStatus, SurveySubject
from surveys.service import REASONS

SCORES = (5, 5, 5, 5, 4, 4, 4, 3, 2, 1)


def seed_demo(session, *, today: date, rng, config) -> None:
    """Answer surveys for about two thirds of the solved cases and done services."""
    from cases.models import Case, CaseCategory

    # nine in the morning of the demo's day, or now if the demo starts earlier: no answer
    # from the future
    now = min(datetime.combine(today, datetime.min.time()) + timedelta(hours=9), utcnow())
    rows = []
    cases = session.execute(
        sa.select(Case.id, Case.client_id, Case.solved_at, Case.assignee_id, StaffUser.name,
                  CaseCategory.code)
        .outerjoin(StaffUser, StaffUser.id == Case.assignee_id)
        .outerjoin(CaseCategory, CaseCategory.id == Case.category_id)
        .where(Case.solved_at.is_not(None), Case.client_id.is_not(None))).all()
    for case_id, client_id, solved_at, staff_id, staff_name, code in cases:
        if rng.random() < 0.66:
            rows.append(_answer(rng, SurveySubject.CASE, f"case:{case_id}:solved:1", solved_at,
                                now, case_id=case_id, client_id=client_id,
                                concerned_staff_id=staff_id, concerned_name=staff_name,
                                category_code=code))
    services = session.execute(
        sa.select(ServiceRequest.id, ServiceRequest.client_id, ServiceRequest.professional_id,
                  ServiceRequest.end_at, ServiceRequest.skill, Professional.name)
        .join(Professional, Professional.id == ServiceRequest.professional_id)
        .join(Client, Client.id == ServiceRequest.client_id)
        .where(ServiceRequest.status == RequestStatus.DONE,
               ServiceRequest.end_at.is_not(None))).all()
    for request_id, client_id, pro_id, end_at, skill, pro_name in services:
        if rng.random() < 0.66:
            rows.append(_answer(rng, SurveySubject.SERVICE, f"service:{request_id}", end_at,
                                now, service_request_id=request_id, client_id=client_id,
                                concerned_professional_id=pro_id, concerned_name=pro_name,
                                category_code=skill))
    session.add_all(r for r in rows if r is not None)
    session.flush()


def _answer(rng, subject, key, cause_at, now, **fields):
    sent = cause_at + timedelta(hours=24)
    if sent >= now:
        return None  # not due yet: the job will send it
    score = rng.choice(SCORES)
    reason = rng.choice(sorted(REASONS[subject])) if score <= 2 else None
    answered = min(sent + timedelta(hours=rng.randint(1, 30)), now)
    return Survey(subject=subject, dedup_key=key, language="es", status=SurveyStatus.ANSWERED,
                  send_after=sent, sent_at=sent, expires_at=sent + timedelta(days=14),
                  answered_at=answered, score=score, reason=reason, **fields)
