"""The case page's playbook panel: a complaint's incident, a no-show, a rebooking, a credit.

Only the steps the case and its records admit are offered; each posts to one endpoint that
calls cases.playbooks, which audits it on the case.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import current_app, request
from flask_admin import expose
from flask_babel import format_currency, gettext

from backoffice.admin.cases_common import me
from backoffice.admin.urls import parse_id
from backoffice.db import db
from backoffice.i18n import Refusal
from backoffice.models import Professional, RequestStatus
from cases import playbooks
from cases.models import Case, CaseCategory

DONE = {"complaint": "Complaint recorded against the professional; vetting counts it.",
        "withdraw_incident": "Incident withdrawn.",
        "no_show": "Marked as a no-show.",
        "rebook": "Service booked again; it is linked to the case.",
        "undo_rebook": "Rebooking cancelled.",
        "credit": "Credit offered.",
        "withdraw_credit": "Credit withdrawn."}
_DUE = (RequestStatus.ASSIGNED, RequestStatus.CONFIRMED, RequestStatus.IN_PROGRESS)
_OPEN = (RequestStatus.NEW, RequestStatus.ASSIGNED, RequestStatus.CONFIRMED)


def local_now() -> datetime:
    """Return the business's wall-clock time: how service requests store their starts."""
    tz = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Madrid"))
    return datetime.now(tz).replace(tzinfo=None)


def panel(page_case) -> dict | None:
    """Return what the playbook panel offers on a complaint or no-show case, or None."""
    category = (db.session.get(CaseCategory, page_case.category_id)
                if page_case.category_id else None)
    if category is None or category.code not in playbooks.SERVICE_PLAYBOOKS:
        return None
    from billing import credits

    session, at = db.session, local_now()
    case = session.get(Case, page_case.id)
    incidents = playbooks.case_incidents(session, case)
    recorded = {i.service_request_id for i in incidents}
    rows, linked = [], playbooks.links(session, case)
    for r in playbooks.linked_requests(session, case, linked=linked):
        pro = session.get(Professional, r.professional_id) if r.professional_id else None
        offers = []
        if (case.category.code == playbooks.COMPLAINT and pro is not None
                and r.id not in recorded):
            offers.append("complaint")
        if r.status in _DUE and r.start_at is not None and r.start_at <= at:
            offers.append("no_show")
        slot = None
        if r.status == RequestStatus.NO_SHOW:
            slot = playbooks.rebook_slot(session, case=case, request_id=r.id, now=at)
            offers.append("rebook" if slot else "no_slot")
        if r.status in _OPEN and playbooks._rebooked_by(session, case, r.id):
            offers.append("undo_rebook")
        rows.append({"request": r, "professional": pro, "offers": offers, "slot": slot})
    invoices = [i for i in playbooks.credit_invoices(session, case, linked=linked)
                if credits.creditable_cents(i) > 0 and i.status != "written_off"]
    return {"rows": rows, "incidents": incidents, "invoices": invoices,
            "credits": credits.for_case(session, case_id=case.id),
            "limit": euros(credits.limit_cents(session)), "euros": euros,
            "credit_words": {"proposed": gettext("waiting for a second person's approval"),
                             "issued": gettext("issued"), "cancelled": gettext("withdrawn")},
            "final": case.state in ("solved", "closed", "merged")}


def euros(cents: int) -> str:
    """Return cents as euros in the reader's format (3.400,00 € or €3,400.00)."""
    return format_currency(Decimal(cents) / 100, "EUR")


def parse_euros(text: str | None) -> int:
    """Return an amount typed in euros ("12,50", "12.50", "12") in cents, or refuse it."""
    raw = (text or "").strip().replace("€", "").replace(" ", "")
    if "," in raw:  # Spanish: 1.234,50
        raw = raw.replace(".", "").replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise Refusal("amount: write an amount in euros, such as 12,50") from None
    if value <= 0 or value != value.quantize(Decimal("0.01")):
        raise Refusal("amount: write an amount in euros, such as 12,50")
    return int(value * 100)


class CasePlaybookMixin:
    @expose("/<int:case_id>/playbook", methods=("POST",))
    def playbook(self, case_id: int):
        case = self._work(case_id)
        op = request.form.get("op", "")
        if op not in DONE:
            return self._done(case, _refuse("op: choose a step of the playbook"), "", "playbook")
        form, user, at = request.form, me(), local_now()
        threshold = int(current_app.config.get("VETTING_INCIDENT_THRESHOLD", 2))
        request_id = parse_id(form.get("request_id")) or 0
        steps = {
            "complaint": lambda: playbooks.record_complaint(
                db.session, case=case, request_id=request_id, user=user, now=at,
                threshold=threshold),
            "withdraw_incident": lambda: playbooks.withdraw_incident(
                db.session, case=case, incident_id=parse_id(form.get("incident_id")) or 0,
                user=user),
            "no_show": lambda: playbooks.mark_no_show(
                db.session, case=case, request_id=request_id, by=form.get("by", ""), user=user,
                now=at, threshold=threshold),
            "rebook": lambda: playbooks.rebook(db.session, case=case, request_id=request_id,
                                               user=user, now=at),
            "undo_rebook": lambda: playbooks.undo_rebook(
                db.session, case=case, request_id=request_id, user=user, now=at),
            "credit": lambda: playbooks.offer_credit(
                db.session, case=case, invoice_id=parse_id(form.get("invoice_id")) or 0,
                amount_cents=parse_euros(form.get("amount")), reason=form.get("reason", ""),
                user=user, today=at.date()),
            "withdraw_credit": lambda: playbooks.withdraw_credit(
                db.session, case=case, credit_id=parse_id(form.get("credit_id")) or 0,
                user=user),
        }
        message = gettext(DONE[op])
        if op == "credit":
            message = _credit_message
        return self._done(case, steps[op], message, "playbook")


def _credit_message(credit) -> str:
    if credit.status == "issued":
        return gettext("Credit issued: a rectifying invoice lowers what the client owes.")
    return gettext("Credit proposed; it is above the limit, so a second person in finance must "
                   "approve it.")


def _refuse(message: str):
    def run():
        raise Refusal(message)
    return run
