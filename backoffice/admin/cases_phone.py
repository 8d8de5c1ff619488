"""The phone page: what the agent's telephony opens when the phone rings."""

from datetime import datetime

import sqlalchemy as sa
from flask import flash, g, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext

from backoffice.admin import cases_queue as queue
from backoffice.admin.base import refusal
from backoffice.admin.cases_calls import log_call, outcomes
from backoffice.admin.cases_common import case_url, me, now
from backoffice.admin.urls import parse_id
from backoffice.db import db
from backoffice.models import Client, Professional, ServiceRequest
from backoffice.phones import normalise
from cases import service, workflow
from cases.models import Case, CaseCategory, CaseChannel

LIST_MAX = 10


def callers(e164: str | None) -> list:
    """Return the clients and professionals with this phone number."""
    if not e164:
        return []
    found: list = []
    for model in (Client, Professional):
        found += db.session.scalars(sa.select(model).where(model.phone_e164 == e164)
                                    .order_by(model.id).limit(LIST_MAX)).all()
    return found


def open_cases(people: list, contact_ids: list[int]) -> list[Case]:
    """Return the active cases of these people (and of the contacts kept for the number)."""
    conditions = [Case.client_id.in_([p.id for p in people if isinstance(p, Client)]),
                  Case.professional_id.in_([p.id for p in people
                                            if isinstance(p, Professional)]),
                  Case.contact_id.in_(contact_ids)]
    return list(db.session.scalars(sa.select(Case).where(
        sa.or_(*conditions), Case.state.in_(workflow.ACTIVE), service.visible_filter(g.user))
        .order_by(Case.id.desc()).limit(LIST_MAX)))


def next_bookings(people: list) -> list[ServiceRequest]:
    """Return the coming booked services of these clients and professionals."""
    clients = [p.id for p in people if isinstance(p, Client)]
    pros = [p.id for p in people if isinstance(p, Professional)]
    if not clients and not pros:
        return []
    local_now = datetime.now()  # start_at is the local wall-clock time of the booking
    return list(db.session.scalars(sa.select(ServiceRequest).where(
        sa.or_(ServiceRequest.client_id.in_(clients),
               ServiceRequest.professional_id.in_(pros)),
        ServiceRequest.start_at > local_now).order_by(ServiceRequest.start_at).limit(LIST_MAX)))


def unpaid_invoices(people: list) -> list:
    """Return the clients' invoices that still owe money (none when billing is not installed)."""
    clients = [p.id for p in people if isinstance(p, Client)]
    if not clients:
        return []
    try:
        from billing.models import Invoice, InvoiceStatus
    except ImportError:
        return []
    owing = (InvoiceStatus.OPEN, InvoiceStatus.IN_DUNNING, InvoiceStatus.PAUSED,
             InvoiceStatus.UNCOLLECTIBLE)
    return [i for i in db.session.scalars(sa.select(Invoice).where(
        Invoice.client_id.in_(clients), Invoice.status.in_(owing))
        .order_by(Invoice.due_on).limit(LIST_MAX)) if i.due_cents > 0]


def _contacts(e164: str | None) -> list[int]:
    from cases.models import Contact

    if not e164:
        return []
    return list(db.session.scalars(sa.select(Contact.id).where(Contact.phone == e164)
                                   .limit(LIST_MAX)))


class PhoneMixin:
    @expose("/phone")
    def phone(self):
        raw = (request.args.get("number") or "").replace("\x00", "")[:40]
        e164 = normalise(raw)
        people = callers(e164)
        return self.render(
            "admin/cases_phone.html", raw=raw, e164=e164, people=people,
            cases=open_cases(people, _contacts(e164)) if e164 else [],
            bookings=next_bookings(people), invoices=unpaid_invoices(people),
            categories=[c for c in queue.categories(db.session) if c.active],
            outcomes=outcomes())

    @expose("/phone/log", methods=("POST",))
    def phone_log(self):
        form = request.form
        raw = (form.get("number") or "")[:40]
        e164 = normalise(raw)
        try:
            case = self._call_case(form, e164, raw)
            log_call(case, form, number=e164 or raw)
        except ValueError as exc:
            db.session.rollback()
            flash(refusal(exc), "error")
            return redirect(url_for(".phone", number=raw))
        db.session.commit()
        flash(gettext("Call logged in %(number)s.", number=case.number), "success")
        return redirect(case_url(case, "conversation"))

    def _call_case(self, form, e164: str | None, raw: str) -> Case:
        """Return the open case the call goes into, or open a new one for the caller."""
        choice = form.get("case_id") or "new"
        if choice != "new":
            case = db.session.scalar(sa.select(Case).where(
                Case.id == (parse_id(choice) or 0), service.visible_filter(g.user)))
            if case is None or not service.can_work(g.user, case):
                raise ValueError("case_id: choose one of the caller's open cases or a new case")
            return case
        category = None
        if form.get("category_id"):
            category = db.session.get(CaseCategory, parse_id(form.get("category_id")) or 0)
            if category is None:
                raise ValueError("category: choose a category from the list")
        people = callers(e164)
        chosen = form.get("person") or ""
        requester = next((p for p in people if f"{_kind(p)}:{p.id}" == chosen), None)
        if requester is None:
            requester = people[0] if len(people) == 1 else None
        if requester is None:
            if not e164:
                raise ValueError("number: give the caller's phone number")
            requester = service.contact_for(db.session, phone=e164)
        return service.open_case(db.session, subject=form.get("subject", ""),
                                 channel=CaseChannel.PHONE, requester=requester,
                                 category=category, now=now(),
                                 assignee=me() if g.user.has_role("ops_agent", "admin")
                                 else None)


def _kind(person) -> str:
    return "client" if isinstance(person, Client) else "professional"
