"""Vetting operations the panel, the CLI and the jobs call: they flush, the boundary commits."""

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit
from backoffice.db import utcnow
from backoffice.i18n import Code, Keyed, Refusal, for_team, task_message
from backoffice.models import SKILLS, Professional, ProfessionalStatus, StaffUser, Task
from backoffice.services import tasks
from vetting import documents
from vetting.compliance import on_professional_suspended
from vetting.models import (
    Application,
    Document,
    DocumentStatus,
    Incident,
    Interview,
    InterviewOutcome,
    Stage,
    StageVisit,
)
from vetting.workflow import OPEN_STAGES

__all__ = ["on_professional_suspended", "create_application", "add_document", "review_document",
           "schedule_interview", "record_interview", "record_incident", "open_application"]
SCORE_CRITERIA = ("punctuality", "communication", "experience", "attitude")
INCIDENT_KINDS = ("complaint", "no_show")


def create_application(session: Session, *, professional: Professional, kind: str = "initial",
                       now: datetime | None = None, note: str | None = None) -> Application:
    """Open an application in the applied stage; one open application per professional."""
    now = now or utcnow()
    if open_application(session, professional_id=professional.id) is not None:
        raise ValueError("professional: already has an open application")
    app = Application(professional=professional, kind=kind, stage=Stage.APPLIED,
                      stage_entered_at=now, created_at=now, note=note)
    app.visits.append(StageVisit(stage=Stage.APPLIED, entered_at=now,
                                 actor=audit.current_actor().label, note=note))
    session.add(app)
    session.flush()
    return app


def new_applicant(session: Session, *, name: str, email: str | None, phone: str | None,
                  skills: list[str], zone: str | None = None, language: str = "es",
                  now: datetime | None = None) -> Application:
    """Register a person who applies to work with us and open their application."""
    if not (name or "").strip():
        raise ValueError("name: required")
    if not skills or set(skills) - set(SKILLS):
        raise Refusal("skills: choose at least one of %(skills)s",
                      skills=[Code(s) for s in SKILLS])
    pro = Professional(name=name.strip(), email=(email or "").strip().lower() or None,
                       phone=phone or None, zone=zone or None, language=language,
                       status=ProfessionalStatus.APPLICANT)
    pro.skill_list = skills
    session.add(pro)
    session.flush()
    return create_application(session, professional=pro, now=now)


def open_application(session: Session, *, professional_id: int) -> Application | None:
    """Return the professional's application that has no decision yet."""
    return session.scalar(sa.select(Application).where(
        Application.professional_id == professional_id, Application.stage.in_(OPEN_STAGES)))


def add_document(session: Session, *, professional: Professional, doc_type: str,
                 data: bytes, filename: str | None, upload_dir: str, max_bytes: int,
                 number: str | None = None, issued_on: date | None = None,
                 expires_on: date | None = None, user: StaffUser | None = None) -> Document:
    """Check and store an uploaded document file; it waits for review."""
    if doc_type not in documents.DOC_TYPES:
        raise Refusal("doc_type: choose one of %(types)s",
                      types=[Code(t) for t in documents.DOC_TYPES])
    if issued_on and expires_on and expires_on < issued_on:
        raise ValueError("expires_on: the expiry date is before the issue date")
    content_type, ext = documents.check_upload(data, field="file", max_bytes=max_bytes)
    stored, digest = documents.store(upload_dir, data, ext)
    doc = Document(professional_id=professional.id, doc_type=doc_type, number=number or None,
                   issued_on=issued_on, expires_on=expires_on, stored_name=stored,
                   original_name=documents.sanitise_name(filename), content_type=content_type,
                   size_bytes=len(data), sha256=digest, uploaded_by_id=user.id if user else None)
    session.add(doc)
    session.flush()
    return doc


def review_document(session: Session, *, document: Document, accept: bool, user: StaffUser | None,
                    reason: str | None = None, now: datetime | None = None) -> Document:
    """Accept a document, or reject it with a reason."""
    if not accept and not (reason or "").strip():
        raise ValueError("rejection_reason: say why the document is rejected")
    if accept and document.expires_on and document.expires_on < (now or utcnow()).date():
        raise ValueError("expires_on: the document has already expired")
    document.status = DocumentStatus.ACCEPTED if accept else DocumentStatus.REJECTED
    document.rejection_reason = None if accept else reason.strip()
    document.reviewed_by_id = user.id if user else None
    document.reviewed_at = now or utcnow()
    session.flush()
    return document


def schedule_interview(session: Session, *, application: Application, at: datetime,
                       interviewer: StaffUser | None) -> Interview:
    """Book an interview slot with an interviewer."""
    interview = Interview(scheduled_at=at, interviewer_id=interviewer.id if interviewer else None,
                          outcome=InterviewOutcome.PENDING.value)
    application.interviews.append(interview)
    session.flush()
    return interview


def record_interview(session: Session, *, interview: Interview, outcome: str,
                     scores: dict[str, int], notes: str | None, user: StaffUser | None,
                     now: datetime | None = None) -> Interview:
    """Record the scorecard (1-5 per criterion) and the outcome of an interview."""
    if outcome not in {o.value for o in InterviewOutcome} - {"pending"}:
        raise ValueError("outcome: pass, fail or no_show")
    card = {}
    for key in SCORE_CRITERIA:
        value = scores.get(key)
        if outcome != "no_show":
            if value is None or not 1 <= int(value) <= 5:
                raise Refusal("%(field)s: score from 1 to 5", field=key)
            card[key] = int(value)
    interview.scorecard, interview.outcome, interview.notes = card or None, outcome, notes
    interview.recorded_by_label = user.email if user else audit.current_actor().label
    interview.recorded_at = now or utcnow()
    session.flush()
    return interview


def record_incident(session: Session, *, professional: Professional, kind: str, occurred_on: date,
                    note: str | None, threshold: int, service_request_id: int | None = None,
                    now: datetime | None = None) -> Application | None:
    """Record a complaint or no-show; over threshold in its month, open a re-review."""
    if kind not in INCIDENT_KINDS:
        raise ValueError("kind: complaint or no_show")
    session.add(Incident(professional_id=professional.id, kind=kind, occurred_on=occurred_on,
                         note=note, service_request_id=service_request_id))
    session.flush()
    return maybe_open_re_review(session, professional=professional, month=occurred_on,
                                threshold=threshold, now=now)


def maybe_open_re_review(session: Session, *, professional: Professional, month: date,
                         threshold: int, now: datetime | None = None) -> Application | None:
    """Open a re-review when the month's incidents exceed threshold and none is open."""
    first = month.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    count = session.scalar(sa.select(sa.func.count(Incident.id)).where(
        Incident.professional_id == professional.id,
        Incident.occurred_on >= first, Incident.occurred_on < after))
    if count <= threshold or professional.status != ProfessionalStatus.APPROVED:
        return None
    if open_application(session, professional_id=professional.id) is not None:
        return None
    why = Keyed("%(count)d complaints/no-shows in %(month)s (threshold %(threshold)d)",
                count=count, month=f"{first:%m/%Y}", threshold=threshold)
    note = why.text
    app = create_application(session, professional=professional, kind="re_review", now=now,
                             note=note)
    title = Keyed("Re-review %(name)s", name=professional.name)
    session.add(Task(role="vetting", kind=RE_REVIEW, title=title.text, details=note,
                     message=task_message(title=title, details=why),
                     entity="vetting_application", entity_id=str(app.id),
                     dedup_key=f"vetting:re-review:pro{professional.id}:{first:%Y%m}"))
    session.flush()
    audit.record(session, action="re_review_opened", entity="professional",
                 entity_id=professional.id, note=note)
    return app


RE_REVIEW = "re_review"


@tasks.resolves(RE_REVIEW)
def re_reviews_decided(session: Session, open_tasks: list[Task],
                       now: datetime) -> dict[int, str]:
    """Return the re-review tasks whose application was decided (approved or rejected)."""
    ids = {int(t.entity_id) for t in open_tasks
           if t.entity == "vetting_application" and (t.entity_id or "").isdigit()}
    apps = {r.id: r for r in session.execute(
        sa.select(Application.id, Application.stage, Professional.name)
        .join(Professional, Professional.id == Application.professional_id)
        .where(Application.id.in_(ids)))} if ids else {}
    found = {}
    for task in open_tasks:
        if task.entity != "vetting_application" or not (task.entity_id or "").isdigit():
            continue
        app = apps.get(int(task.entity_id))
        if app is None:
            found[task.id] = tasks.closed_line(for_team("the application no longer exists"))
        elif app.stage == Stage.APPROVED:
            found[task.id] = tasks.closed_line(for_team(
                "the re-review of %(name)s is done: kept on", name=app.name))
        elif app.stage == Stage.REJECTED:
            found[task.id] = tasks.closed_line(for_team(
                "the re-review of %(name)s is done: rejected", name=app.name))
    return found
