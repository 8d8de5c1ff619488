"""Suspension and what it does to the services a professional holds."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit, mail
from backoffice.i18n import for_team
from backoffice.models import Professional, ProfessionalStatus, Task
from backoffice.services import professionals as professional_service
from vetting.documents import DOC_TYPES


def lang_of(professional: Professional) -> str:
    """Return the mail language for a professional (Spanish unless English)."""
    return "en" if professional.language == "en" else "es"


def on_professional_suspended(session: Session, professional_id: int, now: datetime) -> list[int]:
    """Flag the upcoming services of a suspended professional as at risk; return their ids.

    Each service gets an ops_agent task (one per service, deduplicated) and stays assigned, so
    nothing disappears from the agents' view; the assignment engine re-plans these services.
    """
    services = professional_service.upcoming_services(
        session, professional_id=professional_id, since=now
    )
    flagged = []
    for s in services:
        key = f"vetting:at-risk:sr{s.id}:pro{professional_id}"
        if session.scalar(sa.select(Task.id).where(Task.dedup_key == key)) is not None:
            continue
        session.add(Task(
            role="ops_agent", kind="service_at_risk",
            title=for_team("Service #%(id)d on %(start)s needs another professional", id=s.id,
                           start=f"{s.start_at:%d/%m %H:%M}"),
            details=for_team("Professional #%(id)d was suspended by vetting; the service is "
                             "still assigned to them and must be re-covered.",
                             id=professional_id),
            entity="service_request", entity_id=str(s.id), dedup_key=key, due_at=s.start_at,
        ))
        flagged.append(s.id)
    session.flush()
    if flagged:
        audit.record(session, action="services_at_risk", entity="professional",
                     entity_id=professional_id, changes={"service_request_ids": flagged})
    return flagged


def suspend(session: Session, *, professional: Professional, reason: str, now: datetime) -> bool:
    """Suspend an approved professional, mail them, flag their services; False if not approved."""
    if professional.status != ProfessionalStatus.APPROVED:
        return False
    professional_service.set_status(session, professional=professional,
                                    status=ProfessionalStatus.SUSPENDED)
    audit.record(session, action="suspended", entity="professional", entity_id=professional.id,
                 changes={"status": ["approved", "suspended"]}, note=reason)
    if professional.email:
        mail.enqueue(session, to=professional.email, template="vetting/suspended",
                     lang=lang_of(professional), context={"name": professional.name,
                                                          "reason": reason},
                     entity="professional", entity_id=professional.id,
                     dedup_key=f"vetting:suspended:pro{professional.id}:{now:%Y%m%d}")
    on_professional_suspended(session, professional.id, now)
    return True


def check_documents(session: Session, *, now: datetime, days: int = 30) -> dict:
    """Remind about documents expiring within days; suspend for an expired required document."""
    from vetting.documents import is_valid, missing_required
    from vetting.models import Document, DocumentStatus

    today = now.date()
    horizon = today + timedelta(days=days)
    reminded = 0
    expiring = session.scalars(
        sa.select(Document).join(Professional, Professional.id == Document.professional_id)
        .where(Document.status == DocumentStatus.ACCEPTED,
               Document.expires_on.between(today, horizon),
               Professional.status == ProfessionalStatus.APPROVED)
        .order_by(Document.expires_on, Document.id)
    )
    for doc in expiring:
        pro = doc.professional
        # A renewal already accepted makes the reminder pointless.
        renewed = session.scalar(sa.select(Document.id).where(
            Document.professional_id == pro.id, Document.doc_type == doc.doc_type,
            Document.id != doc.id, Document.status == DocumentStatus.ACCEPTED,
            sa.or_(Document.expires_on.is_(None), Document.expires_on > horizon)))
        if renewed is not None:
            continue
        key = f"vetting:expiring:doc{doc.id}:{doc.expires_on:%Y%m%d}"
        context = {"name": pro.name, "doc_type": doc.doc_type.replace("_", " "),
                   "expires_on": doc.expires_on.strftime("%d/%m/%Y"),
                   "days_left": (doc.expires_on - today).days}
        if pro.email:
            mail.enqueue(session, to=pro.email, template="vetting/document_expiring",
                         lang=lang_of(pro), context=context, entity="vetting_document",
                         entity_id=doc.id, dedup_key=key)
        if session.scalar(sa.select(Task.id).where(Task.dedup_key == key)) is None:
            document = for_team(DOC_TYPES.get(doc.doc_type, doc.doc_type))
            session.add(Task(role="vetting", kind="document_expiring",
                             title=for_team("%(name)s: %(document)s expires %(date)s",
                                            name=pro.name, document=document,
                                            date=context["expires_on"]),
                             details=for_team("Ask for the renewed document and review it "
                                              "before expiry."),
                             entity="professional", entity_id=str(pro.id), dedup_key=key,
                             due_at=datetime.combine(doc.expires_on, datetime.min.time())))
            reminded += 1
    suspended = []
    candidates = session.scalars(
        sa.select(Professional).where(
            Professional.status == ProfessionalStatus.APPROVED,
            Professional.id.in_(sa.select(Document.professional_id).where(
                Document.status == DocumentStatus.ACCEPTED, Document.expires_on < today)))
        .order_by(Professional.id)
    )
    for pro in candidates:
        missing = missing_required(session, professional=pro, on=today)
        expired = sorted({d.doc_type for d in session.scalars(sa.select(Document).where(
            Document.professional_id == pro.id, Document.doc_type.in_(missing)))
            if not is_valid(d, today)})
        if expired and suspend(session, professional=pro, now=now,
                               reason="expired required document: " + ", ".join(expired)):
            suspended.append(pro.id)
    session.flush()
    return {"reminded": reminded, "suspended": suspended}
