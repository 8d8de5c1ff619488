"""Demo data: applicants in every stage, twelve weeks of history, an expiring document and a
suspended professional."""

import random
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from faker import Faker
from sqlalchemy.orm import Session

from backoffice.models import Professional, ProfessionalStatus, StaffUser
from vetting import checks, compliance, documents, service, workflow
from vetting.models import CheckKind, Document, Stage

PDF = b"%PDF-1.4\n% demo document\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PATH = (Stage.DOCUMENTS, Stage.CHECKS, Stage.INTERVIEW, Stage.DECISION)
REJECTED_AT = {"documents": Stage.DOCUMENTS, "right_to_work": Stage.DOCUMENTS,
               "withdrawn": Stage.APPLIED, "background": Stage.CHECKS,
               "references": Stage.CHECKS, "interview": Stage.DECISION}


def _user(session: Session, email: str) -> StaffUser | None:
    return session.scalar(sa.select(StaffUser).where(StaffUser.email == email))


def _docs(session, pro, config, now: datetime, *, expires_on: date | None = None,
          with_files: bool = True) -> None:
    """Give a professional accepted required documents; expires_on applies to the insurance."""
    for t in documents.required_types(pro.skill_list):
        until = expires_on if expires_on and t == "insurance" else now.date() + timedelta(days=700)
        fields = dict(professional=pro, doc_type=t, number=f"{t[:3].upper()}{pro.id}",
                      issued_on=now.date() - timedelta(days=400), expires_on=until)
        if with_files:
            doc = service.add_document(session, data=PDF, filename=f"{t}.pdf",
                                       upload_dir=config["UPLOAD_DIR"], max_bytes=10 ** 6,
                                       **fields)
        else:  # checked on paper before the back office existed
            doc = Document(professional_id=pro.id, **{k: v for k, v in fields.items()
                                                      if k != "professional"})
            session.add(doc)
        service.review_document(session, document=doc, accept=True, user=None, now=now)


def _walk(session, app, target: Stage, *, start: datetime, rng, config, prep, approver,
          reason: str | None = None) -> None:
    """Move an application along the path until target, with realistic gaps between steps."""
    t = start
    stop = {Stage.ON_HOLD: Stage.DOCUMENTS, Stage.APPROVED: Stage.DECISION,
            Stage.REJECTED: REJECTED_AT.get(reason, Stage.DECISION)}.get(target, target)
    for step in PATH:
        if app.stage == stop:
            break
        t += timedelta(hours=rng.randint(4, 70))
        if step == Stage.CHECKS:
            _docs(session, app.professional, config, t)
        if step == Stage.INTERVIEW:
            for i in range(2):
                checks.add_reference(session, application=app, name=f"Referencia {i + 1}",
                                     contact=f"+34 600 10{i} 00{app.id % 10}", contacted=True,
                                     outcome="positive", now=t)
            for kind in CheckKind:
                checks.record_check(session, application=app, kind=kind, status="clear",
                                    user=prep, now=t, external_ref=f"CRC-{app.id}"
                                    if kind == CheckKind.BACKGROUND else None)
        if step == Stage.DECISION:
            iv = service.schedule_interview(session, application=app, interviewer=prep,
                                            at=datetime.combine(t.date(), time(10)))
            service.record_interview(session, interview=iv, outcome="pass", notes=None,
                                     user=prep, scores={k: rng.randint(3, 5)
                                                        for k in service.SCORE_CRITERIA})
        workflow.transition(session, application=app, to=step, user=prep, now=t)
    t += timedelta(hours=rng.randint(4, 48))
    if target == Stage.APPROVED:
        workflow.transition(session, application=app, to=target, user=approver, now=t)
    elif target == Stage.REJECTED:
        workflow.transition(session, application=app, to=target, user=prep, now=t,
                            reason=reason or "references")
    elif target == Stage.ON_HOLD:
        workflow.transition(session, application=app, to=target, user=prep, now=t,
                            note="Waiting for the applicant to send the insurance policy")


def seed_demo(session: Session, *, today: date, rng: random.Random, config) -> None:
    """Fill the vetting pipeline for the demo."""
    fake = Faker("es_ES")
    fake.seed_instance(rng.randint(0, 10 ** 6))
    prep = _user(session, "vetting@demo.example.com")
    approver = _user(session, "vetting2@demo.example.com")
    zones = [z for z in session.scalars(sa.select(Professional.zone).distinct()) if z]
    zones = zones or ["Russafa"]
    skills_pool = [("cleaning",), ("cleaning", "ironing"), ("elderly_care",), ("childcare",),
                   ("gardening",), ("cleaning", "childcare")]
    now = datetime.combine(today, time(9))
    # Finished history over twelve weeks (for the funnel), then applicants in every open stage.
    plan = [(Stage.APPROVED, None)] * 16 + [
        (Stage.REJECTED, r) for r in ("references", "background", "interview", "documents",
                                      "withdrawn", "references", "right_to_work")]
    plan = [(target, reason, rng.randint(10, 84)) for target, reason in plan]
    for stage in (Stage.APPLIED, Stage.DOCUMENTS, Stage.CHECKS, Stage.INTERVIEW, Stage.DECISION,
                  Stage.ON_HOLD):
        plan += [(stage, None, days) for days in (1, rng.randint(6, 9))]
    plan.sort(key=lambda p: -p[2])
    for target, reason, days_ago in plan:
        # An open one walks its earlier stages first (each takes up to 70 hours), then reaches
        # its stage days_ago: its timeline stays in order.
        start = now - timedelta(days=days_ago if target in (Stage.APPROVED, Stage.REJECTED)
                                else days_ago + 1 if target == Stage.APPLIED else days_ago + 14)
        app = service.new_applicant(
            session, name=fake.name(), email=fake.unique.email(), phone=fake.phone_number()[:32],
            skills=list(rng.choice(skills_pool)), zone=rng.choice(zones), now=start)
        if target in (Stage.APPLIED,):
            continue
        # Open ones reach their stage a day or a week ago (the week-old ones are past the SLA).
        walk_start = start if target in (Stage.APPROVED, Stage.REJECTED) else \
            start + timedelta(hours=2)
        _walk(session, app, target, start=walk_start, rng=rng, config=config, prep=prep,
              approver=approver, reason=reason)
        if target not in (Stage.APPROVED, Stage.REJECTED):
            app.stage_entered_at = now - timedelta(days=days_ago)
            app.visits[-1].entered_at = app.stage_entered_at
    _compliance(session, today=today, now=now, config=config)
    session.flush()


def _compliance(session: Session, *, today: date, now: datetime, config) -> None:
    """Give the seeded professionals documents; one expires soon, one has expired."""
    pros = session.scalars(sa.select(Professional).where(
        Professional.status == ProfessionalStatus.APPROVED).order_by(Professional.id)).all()
    have_docs = set(session.scalars(sa.select(Document.professional_id).distinct()))
    pros = [p for p in pros if p.id not in have_docs]
    for p in pros[2:]:
        _docs(session, p, config, now - timedelta(days=200), with_files=False)
    expiring, expired = pros[0], pros[1]
    _docs(session, expiring, config, now - timedelta(days=300),
          expires_on=today + timedelta(days=12))
    _docs(session, expired, config, now - timedelta(days=380),
          expires_on=today - timedelta(days=2))
    compliance.check_documents(session, now=now, days=30)
