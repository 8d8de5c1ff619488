"""The stages of an application, the table of legal moves, and the one transition function."""

from datetime import datetime

from sqlalchemy.orm import Session

from backoffice import audit, mail
from backoffice.db import utcnow
from backoffice.i18n import Code, Refusal, Refusals
from backoffice.models import ProfessionalStatus, StaffUser
from backoffice.services import professionals as professional_service
from vetting import checks as check_rules
from vetting import compliance, documents
from vetting.models import Application, CheckKind, CheckStatus, InterviewOutcome, Stage, StageVisit

S = Stage
TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    S.APPLIED: frozenset({S.DOCUMENTS, S.REJECTED, S.ON_HOLD}),
    S.DOCUMENTS: frozenset({S.CHECKS, S.REJECTED, S.ON_HOLD}),
    S.CHECKS: frozenset({S.INTERVIEW, S.REJECTED, S.ON_HOLD}),
    S.INTERVIEW: frozenset({S.DECISION, S.REJECTED, S.ON_HOLD}),
    S.DECISION: frozenset({S.APPROVED, S.REJECTED, S.ON_HOLD}),
    # On hold resumes at the stage it was held from (checked in _blockers), or ends rejected.
    S.ON_HOLD: frozenset({S.APPLIED, S.DOCUMENTS, S.CHECKS, S.INTERVIEW, S.DECISION, S.REJECTED}),
    S.APPROVED: frozenset(),
    S.REJECTED: frozenset(),
}
NEXT: dict[Stage, Stage] = {S.APPLIED: S.DOCUMENTS, S.DOCUMENTS: S.CHECKS, S.CHECKS: S.INTERVIEW,
                            S.INTERVIEW: S.DECISION, S.DECISION: S.APPROVED}
OPEN_STAGES = (S.APPLIED, S.DOCUMENTS, S.CHECKS, S.INTERVIEW, S.DECISION, S.ON_HOLD)
# Each code has its own mail template: vetting/rejected_<code>.
REJECTION_REASONS = {
    "documents": "Required documents missing or not valid",
    "right_to_work": "No right to work in Spain",
    "background": "Background check not clear",
    "references": "References not satisfactory",
    "interview": "Interview not passed",
    "withdrawn": "Applicant withdrew",
}


def is_legal(current: Stage, to: Stage) -> bool:
    """Tell whether the table allows moving from current to to."""
    return Stage(to) in TRANSITIONS[Stage(current)]


def _blockers(session: Session, app: Application, to: Stage, *, user: StaffUser | None,
              reason: str | None, note: str | None, now: datetime,
              offering: bool = False) -> list[Refusal]:
    """Return why a move the table allows cannot happen yet (empty: it can).

    offering: only what the page can tell before the form is filled (no reason or note asked),
    and without creating the pending checks a real move creates."""
    problems = []
    pro = app.professional
    if app.stage == S.ON_HOLD and to != S.REJECTED and to.value != app.held_from:
        problems.append(Refusal("stage: an application held from %(stage)s resumes there",
                                stage=Code(app.held_from or "")))
    if to == S.CHECKS or to == S.APPROVED:
        missing = documents.missing_required(session, professional=pro, on=now.date())
        if missing:
            problems.append(Refusal("documents: missing, not accepted or expired: %(documents)s",
                                    documents=[Code(m) for m in missing]))
    if to == S.INTERVIEW or to == S.APPROVED:
        if not offering:
            check_rules.ensure_checks(session, application=app)
        pending = [Code(c.kind.value) for c in app.checks if c.status == CheckStatus.PENDING]
        if offering and len(app.checks) < len(CheckKind):
            pending += [Code(k.value) for k in CheckKind if k not in {c.kind for c in app.checks}]
        if pending:
            problems.append(Refusal("checks: still pending: %(checks)s", checks=pending))
    if to == S.DECISION:
        if not app.interviews or app.interviews[-1].outcome in (InterviewOutcome.PENDING.value,):
            problems.append(Refusal("interview: record the interview outcome first"))
        if user is None:
            problems.append(Refusal("user: a vetting user must prepare the decision"))
    if to == S.APPROVED:
        if user is None or not user.has_role("vetting", "admin"):
            problems.append(Refusal("user: approval needs a vetting user"))
        elif app.prepared_by_id is None or app.prepared_by_id == user.id:
            problems.append(Refusal("approver: four eyes — the user who prepared the decision "
                                    "cannot approve it; another vetting user must"))
        if not app.interviews or app.interviews[-1].outcome != InterviewOutcome.PASS.value:
            problems.append(Refusal("interview: approval needs a passed interview"))
        if (not offering and any(c.status == CheckStatus.CONSIDER for c in app.checks)
                and not note):
            problems.append(Refusal("note: a check says 'consider'; explain why you approve"))
    if not offering and to == S.REJECTED and reason not in REJECTION_REASONS:
        problems.append(Refusal("reason: choose a rejection reason: %(reasons)s",
                                reasons=[Code(r) for r in REJECTION_REASONS]))
    if not offering and to == S.ON_HOLD and not (note or "").strip():
        problems.append(Refusal("note: say why the application is on hold"))
    return problems


def why_not(session: Session, *, application: Application, to: Stage, user: StaffUser | None,
            now: datetime | None = None) -> list[Refusal]:
    """Return why the page should not offer a move to the reader (empty: offer it)."""
    return _blockers(session, application, to, user=user, reason=None, note=None,
                     now=now or utcnow(), offering=True)


def transition(session: Session, *, application: Application, to: Stage | str,
               user: StaffUser | None, reason: str | None = None, note: str | None = None,
               now: datetime | None = None) -> Application:
    """Move an application to another stage, or raise ValueError saying why it cannot."""
    now = now or utcnow()
    app, current = application, Stage(application.stage)
    try:
        to = Stage(to)
    except ValueError:
        raise Refusal("stage: unknown stage %(stage)s", stage=str(to)) from None
    if not is_legal(current, to):
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none (final)"
        raise Refusal("stage: an application in %(current)s cannot move to %(to)s; "
                      "allowed: %(allowed)s", current=current, to=to, allowed=allowed)
    problems = _blockers(session, app, to, user=user, reason=reason, note=note, now=now)
    if problems:
        raise Refusals(problems)

    actor = user.email if user else audit.current_actor().label
    for visit in app.visits:
        if visit.left_at is None:
            visit.left_at = now
    app.visits.append(StageVisit(stage=to, entered_at=now, actor=actor, note=note))
    app.held_from = current.value if to == S.ON_HOLD else None
    app.stage, app.stage_entered_at = to, now
    if to == S.DECISION:
        app.prepared_by_id = user.id
    if to in (S.APPROVED, S.REJECTED):
        app.decided_by_id, app.decided_at = (user.id if user else None), now
        app.rejection_reason = reason if to == S.REJECTED else None
    if note:
        app.note = note
    session.flush()
    audit.record(session, action="transition", entity="vetting_application", entity_id=app.id,
                 changes={"stage": [current.value, to.value],
                          **({"reason": [None, reason]} if reason else {})}, note=note)
    _after(session, app, to, reason=reason, now=now)
    return app


def _after(session: Session, app: Application, to: Stage, *, reason: str | None,
           now: datetime) -> None:
    pro = app.professional
    if to == S.APPROVED and pro.status != ProfessionalStatus.APPROVED:
        professional_service.set_status(session, professional=pro,
                                        status=ProfessionalStatus.APPROVED)
    if to == S.REJECTED and app.kind == "re_review":
        compliance.suspend(session, professional=pro, now=now,
                           reason=f"re-review rejected: {REJECTION_REASONS[reason]}")
    template = {S.APPROVED: "vetting/approved",
                S.REJECTED: f"vetting/rejected_{reason}"}.get(to)
    if template and pro.email:
        mail.enqueue(session, to=pro.email, template=template, lang=compliance.lang_of(pro),
                     context={"name": pro.name, "application_id": app.id},
                     entity="vetting_application", entity_id=app.id,
                     dedup_key=f"vetting:app{app.id}:{to.value}")
