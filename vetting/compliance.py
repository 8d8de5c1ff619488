"""Suspension and what it does to the services a professional holds."""

import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import audit, mail
from backoffice.i18n import Code, Keyed, WallClock, for_team, task_message
from backoffice.models import (
    Professional,
    ProfessionalStatus,
    RequestStatus,
    Task,
)
from backoffice.services import professionals as professional_service
from backoffice.services import requests, tasks
from vetting.documents import DOC_TYPES

AT_RISK, EXPIRING = "service_at_risk", "document_expiring"


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
    name = session.get(Professional, professional_id).name
    for s in services:
        key = f"vetting:at-risk:sr{s.id}:pro{professional_id}"
        if session.scalar(sa.select(Task.id).where(Task.dedup_key == key)) is not None:
            continue
        title = Keyed("%(client)s's service on %(start)s needs another professional",
                      client=s.client.name, start=WallClock(s.start_at.isoformat()))
        details = Keyed("%(name)s was suspended by vetting; the service is still assigned to "
                        "them and must be re-covered.", name=name)
        session.add(Task(
            role="ops_agent", kind=AT_RISK, title=title.text, details=details.text,
            message=task_message(title=title, details=details),
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
            title = Keyed("%(name)s: %(document)s expires %(date)s", name=pro.name,
                          document=Code(doc.doc_type), date=doc.expires_on)
            details = Keyed("Ask for the renewed document and review it before expiry.")
            session.add(Task(role="vetting", kind=EXPIRING, title=title.text,
                             details=details.text,
                             message=task_message(title=title, details=details),
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


@tasks.resolves(AT_RISK)
def services_covered(session: Session, open_tasks: list[Task], now: datetime) -> dict[int, str]:
    """Return the at-risk tasks whose service has an approved professional again, or is
    cancelled or over, with why."""
    ids = {int(t.entity_id) for t in open_tasks
           if t.entity == "service_request" and (t.entity_id or "").isdigit()}
    rows = requests.cover_rows(session, ids)
    found = {}
    for task in open_tasks:
        row = rows.get(int(task.entity_id)) if (task.entity_id or "").isdigit() else None
        if row is None:
            if task.entity == "service_request":
                found[task.id] = tasks.closed_line(for_team("the service no longer exists"))
            continue
        when = f"{row.start_at:%d/%m %H:%M}" if row.start_at else f"{row.service_date:%d/%m}"
        if row.status == RequestStatus.CANCELLED:
            why = for_team("%(client)s's service on %(start)s was cancelled",
                           client=row.client, start=when)
        elif row.status in (RequestStatus.DONE, RequestStatus.NO_SHOW):
            why = for_team("%(client)s's service on %(start)s is over", client=row.client,
                           start=when)
        elif row.pro_status == ProfessionalStatus.APPROVED:
            why = for_team("%(client)s's service on %(start)s is covered again by %(name)s",
                           client=row.client, start=when, name=row.pro)
        else:
            continue
        found[task.id] = tasks.closed_line(why)
    return found


_EXPIRING_DOC = re.compile(r"^vetting:expiring:doc(\d+):")


@tasks.resolves(EXPIRING)
def renewals_accepted(session: Session, open_tasks: list[Task],
                      now: datetime) -> dict[int, str]:
    """Return the expiring-document tasks whose renewed document was accepted, with why."""
    from vetting.models import Document, DocumentStatus

    doc_of = {t.id: int(m.group(1)) for t in open_tasks
              if (m := _EXPIRING_DOC.match(t.dedup_key or ""))}
    docs = {d.id: d for d in session.execute(
        sa.select(Document.id, Document.professional_id, Document.doc_type, Document.expires_on,
                  Professional.name)
        .join(Professional, Professional.id == Document.professional_id)
        .where(Document.id.in_(set(doc_of.values()))))} if doc_of else {}
    accepted = session.execute(
        sa.select(Document.id, Document.professional_id, Document.doc_type, Document.expires_on)
        .where(Document.status == DocumentStatus.ACCEPTED,
               Document.professional_id.in_({d.professional_id for d in docs.values()}))
    ).all() if docs else []
    found = {}
    for task_id, doc_id in doc_of.items():
        doc = docs.get(doc_id)
        if doc is None:
            found[task_id] = tasks.closed_line(for_team("the document no longer exists"))
            continue
        if any(a.id != doc.id and a.professional_id == doc.professional_id
               and a.doc_type == doc.doc_type
               and (a.expires_on is None or doc.expires_on is None
                    or a.expires_on > doc.expires_on) for a in accepted):
            found[task_id] = tasks.closed_line(for_team(
                "%(name)s's renewed %(document)s was accepted", name=doc.name,
                document=for_team(DOC_TYPES.get(doc.doc_type, doc.doc_type))))
    return found
