"""Clients: the people who book services, and each client's page: their whole story."""

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app, flash, g, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import FloatField

from backoffice import timeline
from backoffice.admin import person as page
from backoffice.admin.base import SecureModelView, commit_or_flash
from backoffice.admin.fastlist import FastListView
from backoffice.admin.form_groups import Group, grouped
from backoffice.admin.forms import language_choices
from backoffice.admin.listing import label
from backoffice.admin.urls import parse_id
from backoffice.admin.validators import person_form_args
from backoffice.db import db
from backoffice.geo import zone_for
from backoffice.i18n import LANGUAGE_NAMES
from backoffice.models import (
    LANGUAGES,
    Client,
    ClientStatus,
    Professional,
    RequestStatus,
    ServiceRequest,
)
from backoffice.optional import optional_module
from backoffice.services import clients as client_service
from backoffice.services import interactions, merge
from backoffice.services import requests as request_service

BOOKINGS_SHOWN = 15
CASES_SHOWN = 10
# Invoices that still owe money: what the balance adds up.
UNPAID = ("open", "in_dunning", "paused", "uncollectible")


@dataclass(frozen=True)
class Booking:
    id: int
    day: date
    start: str
    skill: str
    status: str
    professional: str | None
    reason: str | None
    can_cancel: bool


def due_cents(row) -> int:
    return max(row.total_cents - row.paid_cents - row.credited_cents, 0)


@dataclass(frozen=True)
class UnpaidInvoice:
    id: int
    series: str
    number: int
    due_on: date
    status: str
    total_cents: int
    paid_cents: int
    credited_cents: int
    dunning_day: int | None
    paused_until: date | None
    hard_declined: bool


@dataclass(frozen=True)
class CaseRow:
    id: int
    subject: str
    state: str
    created_at: datetime
    code: str | None


# One shape for the page's side lists (bookings, unpaid invoices, cases), read in one round
# trip: (part, id, day, time, moment, four texts, six numbers), each part leaving the rest null.
_SIDE_TYPES = (("day", sa.Date), ("at_time", sa.Time), ("moment", sa.DateTime),
               ("s1", sa.String), ("s2", sa.String), ("s3", sa.String), ("s4", sa.String),
               ("n1", sa.Integer), ("n2", sa.Integer), ("n3", sa.Integer), ("n4", sa.Integer),
               ("n5", sa.Integer), ("n6", sa.Integer))
_SIDE: dict = {}


def _side_part(part: str, row_id, **values):
    columns = [sa.literal_column(f"'{part}'", sa.String).label("part"), row_id.label("id")]
    for name, type_ in _SIDE_TYPES:
        value = values.get(name)
        columns.append((sa.cast(sa.null(), type_) if value is None
                        else sa.type_coerce(value, type_)).label(name))
    return columns


def _side_statement(visible, visible_key):
    """Build once per reader's case visibility: bookings, unpaid invoices and cases."""
    key = visible_key
    if key in _SIDE:
        return _SIDE[key]
    r = ServiceRequest
    client = sa.bindparam("client_id", type_=sa.Integer)
    today = sa.bindparam("today", type_=sa.Date)
    name = (sa.select(Professional.name).where(Professional.id == r.professional_id)
            .scalar_subquery())

    def bookings_part(coming: bool):
        order = (r.service_date, r.id) if coming else (r.service_date.desc(), r.id.desc())
        return (sa.select(*_side_part(
            "coming" if coming else "past", r.id, day=r.service_date, at_time=r.window_start,
            moment=r.start_at, s1=r.skill, s2=sa.cast(r.status, sa.String),
            s3=r.cancellation_reason, s4=name))
            .where(r.client_id == client,
                   r.service_date >= today if coming else r.service_date < today)
            .order_by(*order).limit(BOOKINGS_SHOWN))

    parts = [bookings_part(True), bookings_part(False)]
    billing = optional_module("billing.models")
    if billing is not None:
        inv = billing.Invoice
        parts.append(sa.select(*_side_part(
            "invoice", inv.id, day=inv.due_on, s1=inv.series, s2=sa.cast(inv.status, sa.String),
            n1=inv.number, n2=inv.total_cents, n3=inv.paid_cents, n4=inv.credited_cents,
            n5=inv.dunning_day, n6=sa.cast(inv.hard_declined, sa.Integer),
            moment=sa.cast(inv.paused_until, sa.DateTime)))
            .where(inv.client_id == client, inv.status.in_(UNPAID)))
    models = optional_module("cases.models")
    if models is not None:
        case, link, category = models.Case, models.CaseLink, models.CaseCategory
        linked = sa.select(link.case_id).where(link.entity == "client",
                                               link.entity_id == sa.bindparam("client_key"))
        parts.append(sa.select(*_side_part(
            "case", case.id, moment=case.created_at, s1=case.subject,
            s2=sa.cast(case.state, sa.String), s3=category.code))
            .outerjoin(category, category.id == case.category_id)
            .where(sa.or_(case.client_id == client, case.id.in_(linked)),
                   *(() if visible is None else (visible,)))
            .order_by(case.id.desc()).limit(CASES_SHOWN + 1))
    # Each part wrapped: SQLite takes no ORDER BY or LIMIT in a compound's members.
    stmt = sa.union_all(*(sa.select(p.subquery()) for p in parts))
    if len(_SIDE) > 64:
        _SIDE.clear()
    _SIDE[key] = stmt
    return stmt


def side_lists(session, *, client_id: int, today: date, visible, visible_key) -> dict:
    """Return a client's coming and past bookings, unpaid invoices and newest cases (with
    whether there are more; None without the case desk), in one round trip."""
    out = {"coming": [], "past": [], "invoice": [], "case": []}
    for row in session.execute(_side_statement(visible, visible_key), {
            "client_id": client_id, "client_key": str(client_id), "today": today}):
        if row.part in ("coming", "past"):
            start = row.moment.time() if row.moment else row.at_time
            status = RequestStatus(row.s2)
            out[row.part].append(Booking(row.id, row.day, f"{start:%H:%M}", row.s1,
                                         status.value, row.s4, row.s3,
                                         status in request_service.OPEN))
        elif row.part == "invoice":
            out["invoice"].append(UnpaidInvoice(
                row.id, row.s1, row.n1, row.day, row.s2, row.n2, row.n3, row.n4, row.n5,
                row.moment.date() if row.moment else None, bool(row.n6)))
        else:
            out["case"].append(CaseRow(row.id, row.s1, row.s2, row.moment, row.s3))
    out["coming"].sort(key=lambda b: (b.day, b.id))
    out["past"].sort(key=lambda b: (b.day, b.id), reverse=True)
    out["invoice"].sort(key=lambda i: (i.due_on, i.id))
    out["case"].sort(key=lambda c: c.id, reverse=True)
    cases = out.pop("case")
    has_cases = optional_module("cases.models") is not None
    out["cases"] = (cases[:CASES_SHOWN], len(cases) > CASES_SHOWN) if has_cases else None
    return out


def cancel_form(*, action: str, csrf: str, client_id: int) -> tuple[str, str]:
    """Return the cancel form of a coming booking as the HTML before and after its id, built
    once per page: the reasons' list is the same on every row."""
    w = page.words()
    options = "".join(f'<option value="{escape(code)}">{w.h[text]}</option>'
                      for code, text in interactions.CANCEL_REASONS.items())
    return (f'<form method="post" action="{escape(action)}" class="form-inline d-inline-flex '
            f'cancel-form"><input type="hidden" name="csrf_token" value="{escape(csrf)}">'
            f'<input type="hidden" name="id" value="{client_id}">'
            '<input type="hidden" name="booking" value="',
            f'"><select name="reason" class="form-control form-control-sm mr-1" '
            f'aria-label="{w.h["Reason"]}" required><option value="">{w.h["Reason..."]}'
            f"</option>{options}</select>"
            f'<button class="btn btn-sm btn-outline-danger">{w.h["Cancel booking"]}</button>'
            "</form>")


def booking_rows(rows: list[Booking], *, urls: dict, coming: bool,
                 cancel: tuple[str, str] | None) -> Markup:
    """Return a client's coming (or past) bookings as the rows of their table, drawn in one
    pass: cancel is the cancel form's HTML around the booking's id (None: no form)."""
    w = page.words()
    booking, coverage = urls.get("booking"), urls.get("coverage")
    board = w.h["Coverage board"]
    out = []
    for b in rows:
        number = f'<a href="{booking.format(b.id)}">{b.id}</a>' if booking else str(b.id)
        when = (f"{w.weekdays[b.day.weekday()]} {b.day:%d/%m}" if coming
                else f"{b.day:%d/%m/%Y}")
        status = str(escape(w.code("request_status", b.status)))
        if b.reason:
            status += f" · <small>{escape(w.t[b.reason])}</small>"
        cells = (f'<tr data-booking="{b.id}"><td>{number}</td><td>{when}</td><td>{b.start}</td>'
                 f"<td>{w.h[b.skill]}</td>"
                 f'<td data-status="{escape(b.status)}">{status}</td>'
                 f"<td>{escape(b.professional or '—')}</td>")
        if coming:
            cells += '<td class="text-nowrap">'
            if coverage:
                cells += (f'<a class="btn btn-sm btn-link p-0 mr-2" '
                          f'href="{coverage.format(b.id)}">{board}</a>')
            if cancel is not None and b.can_cancel:
                cells += f"{cancel[0]}{b.id}{cancel[1]}"
            cells += "</td>"
        out.append(cells + "</tr>")
    if not out:
        empty = "No coming bookings." if coming else "No past bookings."
        out.append(f'<tr><td colspan="{7 if coming else 6}" class="text-muted">{w.h[empty]}'
                   "</td></tr>")
    return Markup("\n".join(out))


def kept_client(session, client: Client) -> tuple[int, str] | None:
    """Return (id, name) of the client a merged client now lives in; None if not merged."""
    if client.merged_into_id is None:
        return None
    kept_id = merge.kept_for(session, client.id)
    name = session.scalar(sa.select(Client.name).where(Client.id == kept_id))
    return kept_id, name


class MergedFilter(BaseSQLAFilter):
    """Merged clients are left out of the list; this filter brings them back."""

    def apply(self, query, value, alias=None):
        if value == "only":
            return query.filter(Client.merged_into_id.is_not(None))
        if value == "hide":  # what the list does when no merged filter is chosen
            return query.filter(Client.merged_into_id.is_(None))
        return query

    def operation(self):
        return _l("show")  # Flask-Admin words its filters once, at start-up: lazily


class ClientView(page.PersonActionsMixin, FastListView, SecureModelView):
    allowed_roles = frozenset({"ops_agent", "finance"})
    write_roles = frozenset({"ops_agent"})
    bulk_done_message = "%(n)d clients updated."
    bulk_forbidden_message = "Your role cannot change clients."
    column_list = ("id", "name", "email", "phone", "zone", "language", "status", "request_count",
                   "created_at")
    column_searchable_list = ("name", "email", "phone")
    column_filters = ("status", "zone", "language", "created_at", MergedFilter(
        Client.merged_into_id, _l("Merged clients"),
        options=(("too", _l("merged ones too")), ("only", _l("merged ones only")))))
    column_default_sort = ("id", True)
    plain_rows = True  # every cell reads a column (the formatter reads m.language)
    column_formatters = {"language": lambda v, c, m, n: label(
        LANGUAGE_NAMES.get(m.language, m.language))}
    column_formatters_export = {}  # the file carries the stored codes
    column_labels = {"zone": _l("Zone"), "created_at": _l("Created"),
                     "request_count": _l("Services")}
    column_export_list = (
        "id", "name", "email", "phone", "address", "zone", "language", "status",
        "stripe_customer_id", "request_count", "created_at",
    )
    # The Stripe customer is billing's to keep; the form neither shows nor changes it.
    form_columns = ("name", "email", "phone", "address", "lat", "lon", "language", "notes",
                    "status")
    # Grouped as a call changes them; the coordinates sit with the address they locate (they
    # decide the zone and the engine's travel).
    form_rules = grouped(Group(_l("Contact"), "name", "email", "phone", "language"),
                         Group(_l("Address"), "address", "lat", "lon"),
                         Group(_l("Preferences and notes"), "notes"),
                         Group(_l("Account"), "status"))
    form_choices = {"language": language_choices(LANGUAGES)}
    form_overrides = {"lat": FloatField, "lon": FloatField}
    form_args = person_form_args()

    person_arg = "client"
    details_template = "admin/person_client.html"

    @expose("/details/")
    def details_view(self):
        """The client's page: contact, balance, invoices, bookings, cases, and the timeline."""
        model, return_url = self._page_model()
        if model is None:
            return return_url
        session = db.session
        urls = page.record_urls()
        kinds, cursor = page.timeline_args(timeline.CLIENT_KINDS)
        visible, visible_key = page.case_visibility()
        entries = timeline.client_timeline(session, client_id=model.id, email=model.email,
                                           kinds=kinds, cursor=cursor,
                                           case_condition=visible, case_key=visible_key)
        side = side_lists(session, client_id=model.id, today=date.today(), visible=visible,
                          visible_key=visible_key)
        invoices, coming, past = side["invoice"], side["coming"], side["past"]
        can_act = self.can_write()
        csrf = page.csrf_token()
        cancel = cancel_form(action=url_for(".cancel_booking"), csrf=csrf,
                             client_id=model.id) if can_act else None
        return self.render(
            self.details_template, model=model, return_url=return_url,
            kept=kept_client(session, model), csrf=csrf,
            language=LANGUAGE_NAMES.get(model.language, model.language),
            invoices=invoices, due=due_cents, balance=sum(map(due_cents, invoices)),
            coming_rows=booking_rows(coming, urls=urls, coming=True, cancel=cancel),
            past_rows=booking_rows(past, urls=urls, coming=False, cancel=None),
            lines=page.timeline_rows(entries, urls), urls=urls,
            next_cursor=entries.next_cursor,
            kinds=kinds, kinds_offered=timeline.CLIENT_KINDS, kind_labels=page.KIND_LABELS,
            cases=side["cases"],
            complaint_codes=timeline.COMPLAINT_CATEGORIES,
            cursor=cursor, can_act=can_act, ops=g.user.has_role("ops_agent", "admin"),
            finance=g.user.has_role("finance", "admin"),
            reminders=page.reminders_offered(),
            outcomes=interactions.CALL_OUTCOMES,
            directions=page.DIRECTION_LABELS, page=page, _=page.words().tr)

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True,
                 page_size=None):
        # Merged clients live on in the one kept: the list (and its export) leaves them out
        # unless the reader's filter asks for them.
        filters = list(filters or ())
        if not any(isinstance(self._filters[i], MergedFilter) for i, _n, _v in filters):
            index = next(i for i, f in enumerate(self._filters) if isinstance(f, MergedFilter))
            filters.append((index, str(self._filters[index].name), "hide"))
        return super().get_list(page, sort_column, sort_desc, search, filters,
                                execute=execute, page_size=page_size)

    @expose("/cancel/", methods=("POST",))
    def cancel_booking(self):
        """Cancel one of the client's bookings with a reason from the list."""
        model, refused = self._acting_on()
        if refused:
            return refused
        booking_id = parse_id(request.form.get("booking", ""))
        booking = db.session.get(ServiceRequest, booking_id) if booking_id else None
        if booking is None:
            flash(gettext("booking: choose a booking of this client"), "error")
            return self._back(model.id)
        commit_or_flash(lambda: interactions.cancel_booking(
            db.session, client=model, request=booking, reason=request.form.get("reason", ""),
            now=datetime.now()), gettext("Booking #%(id)d cancelled.", id=booking.id))
        return self._back(model.id)

    def record_links(self, model: Client):
        # Booking is ops' work: finance reads the page without these doors.
        if not g.user.has_role("ops_agent", "admin"):
            return []
        return [(gettext("New service request"),
                 url_for("service_request.create_view", client_id=model.id))]

    def on_model_change(self, form, model: Client, is_created: bool) -> None:
        before = sa.inspect(model).attrs.status.history.deleted
        was = before[0] if before else (None if is_created else model.status)
        if model.status == ClientStatus.ERASED and was != ClientStatus.ERASED:
            raise ValueError(gettext("status: erasing a client removes their personal data "
                                     "and cannot be undone; use 'Erase personal data' in the "
                                     "client list."))
        if was == ClientStatus.ERASED and model.status != ClientStatus.ERASED:
            raise ValueError(gettext("status: an erased client cannot be reactivated."))
        # Derived from the coordinates; a zone stated without them (an application) stays.
        model.zone = zone_for(model.lat, model.lon) or model.zone
        if model.email:
            model.email = model.email.strip().lower()

    @action("block", _l("Block for non-payment"),
            _l("Block the selected clients? They cannot book until unblocked."))
    def action_block(self, ids):
        self.bulk_change(ids, "block", lambda c: client_service.set_status(
            db.session, client=c, status=ClientStatus.BLOCKED))

    @action("unblock", _l("Unblock"), _l("Unblock the selected clients?"))
    def action_unblock(self, ids):
        self.bulk_change(ids, "unblock", lambda c: client_service.set_status(
            db.session, client=c, status=ClientStatus.ACTIVE))

    @action("erase", _l("Erase personal data"),
            _l("Erase the personal data of the selected clients? This cannot be undone."))
    def action_erase(self, ids):
        self.bulk_change(ids, "erase", lambda c: client_service.erase(
            db.session, client=c, now=datetime.now(), config=current_app.config))
