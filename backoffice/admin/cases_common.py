"""What every page of the case desk shares: the case a user may read (else 404), the clock,
labels of stored codes, and where a form goes back to."""

from dataclasses import dataclass
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
from cases.models import Case, CaseCategory, CaseLink, CaseTag, Contact, format_number


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


@dataclass(frozen=True)
class Person:
    """A case's requester or contact as its page shows them."""

    name: str | None
    email: str | None
    phone: str | None
    fallback: str = ""

    def __str__(self) -> str:
        return self.name or self.email or self.phone or self.fallback


class PageCase:
    """A case as its page reads it: its columns, the names of what it points at, its links and
    tags, from plain rows of one statement (loading the ORM object with five joined relations
    cost more than the rest of the page's SQL)."""

    def __init__(self, rows):
        self.__dict__.update(rows[0]._mapping)
        key = str(self.id)
        self.links, self.pointing, self.tag_names = [], [], []
        for row in rows:
            if row.is_tag:
                self.tag_names.append(row.entity_id)
                continue
            if row.link_case_id == self.id:
                self.links.append(row)
            if row.entity == "case" and row.entity_id == key:
                self.pointing.append(row.link_case_id)
        self.number = format_number(self.id)
        self.contact = None if self.contact_id is None else Person(
            self.contact_name, self.contact_email, self.contact_phone, f"#{self.contact_id}")
        if self.client_id:
            self.requester_kind = "client"
            self.requester = Person(self.client_name, self.client_email, self.client_phone)
        elif self.professional_id:
            self.requester_kind = "professional"
            self.requester = Person(self.pro_name, self.pro_email, self.pro_phone)
        else:
            self.requester_kind, self.requester = "contact", self.contact

    def category_name(self, lang: str) -> str:
        if self.category_id is None:
            return ""
        return self.category_en if lang == "en" else self.category_es


_case, _category, _contact = Case.__table__, CaseCategory.__table__, Contact.__table__
_client = Case.client.property.mapper.local_table
_pro = Case.professional.property.mapper.local_table
_assignee = Case.assignee.property.mapper.local_table
_link, _tag = CaseLink.__table__, CaseTag.__table__
# The records the case points at, the cases that point at it (the rows of service.links_of and
# of the "pointing" query, told apart by PageCase) and its tags.
_LINKS_AND_TAGS = sa.union_all(
    sa.select(_link.c.case_id.label("link_case_id"), _link.c.entity, _link.c.entity_id,
              sa.literal(0).label("is_tag"), _link.c.id.label("o1"), sa.literal("").label("o2"))
    .where(sa.or_(_link.c.case_id == sa.bindparam("case_id"),
                  sa.and_(_link.c.entity == "case",
                          _link.c.entity_id == sa.bindparam("case_key")))),
    sa.select(_tag.c.case_id, sa.literal(""), _tag.c.name, sa.literal(1), sa.literal(0),
              _tag.c.name)
    .where(_tag.c.case_id == sa.bindparam("case_id")),
).subquery("lt")
# The case, the names of what it points at, and one row per link or tag: one statement.
_PAGE_CASE = (
    sa.select(*_case.c, _category.c.name_es.label("category_es"),
              _category.c.name_en.label("category_en"), _client.c.name.label("client_name"),
              _client.c.email.label("client_email"), _client.c.phone.label("client_phone"),
              _pro.c.name.label("pro_name"), _pro.c.email.label("pro_email"),
              _pro.c.phone.label("pro_phone"), _contact.c.name.label("contact_name"),
              _contact.c.email.label("contact_email"), _contact.c.phone.label("contact_phone"),
              _assignee.c.name.label("assignee_name"), _LINKS_AND_TAGS.c.link_case_id,
              _LINKS_AND_TAGS.c.entity, _LINKS_AND_TAGS.c.entity_id, _LINKS_AND_TAGS.c.is_tag)
    .select_from(_case.outerjoin(_category, _category.c.id == _case.c.category_id)
                 .outerjoin(_client, _client.c.id == _case.c.client_id)
                 .outerjoin(_pro, _pro.c.id == _case.c.professional_id)
                 .outerjoin(_contact, _contact.c.id == _case.c.contact_id)
                 .outerjoin(_assignee, _assignee.c.id == _case.c.assignee_id)
                 .outerjoin(_LINKS_AND_TAGS, sa.true()))
    .where(_case.c.id == sa.bindparam("case_id"))
    .order_by(_LINKS_AND_TAGS.c.is_tag, _LINKS_AND_TAGS.c.entity, _LINKS_AND_TAGS.c.o1,
              _LINKS_AND_TAGS.c.o2))
_page_case_for_roles: dict[str, sa.Select] = {}


def page_case(case_id) -> PageCase:
    """Return the case as its page reads it when this user may read it; otherwise 404."""
    number = parse_id(case_id)
    if number is None:
        abort(404)
    # The statement depends only on the roles: built once per role set, not per request.
    statement = _page_case_for_roles.get(g.user.roles)
    if statement is None:
        statement = _page_case_for_roles[g.user.roles] = _PAGE_CASE.where(
            service.visible_filter(g.user))
    rows = db.session.execute(statement, {"case_id": number, "case_key": str(number)}).all()
    if not rows:
        abort(404)
    return PageCase(rows)


def case_url(case: Case | int, anchor: str | None = None) -> str:
    case_id = case if isinstance(case, int) else case.id
    return url_for("cases.case", case_id=case_id, _anchor=anchor)


def when(value: datetime | None) -> str:
    """Return a stored (UTC) time in the desk's time zone (BABEL_DEFAULT_TIMEZONE), dd/mm/yyyy
    hh:mm as Spanish and English readers here both write it."""
    if value is None:
        return ""
    return value.replace(tzinfo=UTC).astimezone(desk_zone()).strftime("%d/%m/%Y %H:%M")


def desk_zone() -> ZoneInfo:
    """Return the time zone the desk shows times in, for this request."""
    zone = g.get("_case_zone")
    if zone is None:  # babel's format_datetime costs a pattern parse per call: one zone instead
        zone = g._case_zone = ZoneInfo(str(get_timezone()))
    return zone


def code_label(context: str, value) -> str:
    """Return a stored code (a state, a priority, a channel, a kind) in the reader's words."""
    value = getattr(value, "value", value)
    if not value:
        return ""
    memo = g.setdefault("_case_labels", {})  # once per request, not once per row
    key = (str(get_locale()), context, value)  # nothing worded is kept across languages
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
