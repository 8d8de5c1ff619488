"""What every page of the case desk shares: the case a user may read (else 404), the clock,
labels of stored codes, and where a form goes back to."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, g, url_for
from flask_babel import get_locale, get_timezone

from backoffice.admin.urls import parse_id
from backoffice.db import db, utcnow
from backoffice.i18n import in_context
from cases import service
from cases.display import mailbox_label
from cases.models import Case


def now() -> datetime:
    """Return the time the desk's services read: naive UTC, as every column stores it."""
    return utcnow()


def me():
    """Return the logged-in user's StaffUser row, which the services record as the actor."""
    from backoffice.models import StaffUser

    user = g.get("_case_staff_user")
    if user is None:
        user = g._case_staff_user = db.session.get(StaffUser, g.user.id)
    return user


def visible_case(case_id, *options) -> Case:
    """Return the case when this user may read it; otherwise 404, so its existence stays
    unknown to a role that may not see it."""
    number = parse_id(case_id)
    if number is None:
        abort(404)
    # unique(): a collection (the tags) may be joined in.
    case = db.session.execute(sa.select(Case).options(*options).where(
        Case.id == number, service.visible_filter(g.user))).unique().scalar_one_or_none()
    if case is None:
        abort(404)
    return case


def case_url(case: Case | int, anchor: str | None = None) -> str:
    case_id = case if isinstance(case, int) else case.id
    return url_for("cases.case", case_id=case_id, _anchor=anchor)


def when(value: datetime | None) -> str:
    """Return a stored (UTC) time in the desk's time zone (BABEL_DEFAULT_TIMEZONE), dd/mm/yyyy
    hh:mm as Spanish and English readers here both write it."""
    if value is None:
        return ""
    zone = g.get("_case_zone")
    if zone is None:  # babel's format_datetime costs a pattern parse per call: one zone instead
        zone = g._case_zone = ZoneInfo(str(get_timezone()))
    return value.replace(tzinfo=UTC).astimezone(zone).strftime("%d/%m/%Y %H:%M")


def code_label(context: str, value) -> str:
    """Return a stored code (a state, a priority, a channel, a kind) in the reader's words."""
    value = getattr(value, "value", value)
    if not value:
        return ""
    memo = g.setdefault("_case_labels", {})  # once per request, not once per row
    key = (context, value)
    if key not in memo:
        memo[key] = in_context(context, value)
    return memo[key]


def category_name(category) -> str:
    if category is None:
        return ""
    return category.name(str(get_locale()))


def requester_url(kind: str, requester_id) -> str | None:
    """Return the record page of a case's requester (a contact has none)."""
    if kind == "client" and requester_id:
        return url_for("client.details_view", id=requester_id)
    if kind == "professional" and requester_id:
        return url_for("professional.details_view", id=requester_id)
    return None


def record_url(entity: str, entity_id) -> str | None:
    """Return the page of a record a case links to."""
    endpoints = {"service_request": "service_request.details_view",
                 "professional": "professional.details_view",
                 "invoice": "billing_invoice.details_view", "client": "client.details_view"}
    if entity == "case":
        return url_for("cases.case", case_id=int(entity_id))
    endpoint = endpoints.get(entity)
    return url_for(endpoint, id=entity_id) if endpoint else None


JINJA_HELPERS = {"case_when": when, "case_mailbox": mailbox_label, "case_label": code_label,
                 "case_category": category_name, "case_requester_url": requester_url,
                 "case_record_url": record_url}
