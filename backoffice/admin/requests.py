"""Service requests: what clients booked, when, and who does it."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import abort, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import joinedload
from wtforms import FloatField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from assignment.service import double_booking_message
from backoffice.admin.base import SecureModelView, commit_or_flash
from backoffice.admin.fastlist import CappedCount, FastListView
from backoffice.admin.form_groups import Group, grouped
from backoffice.admin.forms import choices
from backoffice.admin.listing import label
from backoffice.admin.urls import parse_id
from backoffice.admin.validators import lat_range, lon_range, not_before
from backoffice.db import db
from backoffice.geo import zone_for
from backoffice.i18n import refusal_text
from backoffice.models import SKILLS, Client, ClientStatus, ServiceRequest
from backoffice.services import requests as request_service

SEARCH_ID_LIST_MAX = 2000
CANCEL_REASONS = ("client cancelled", "client unreachable", "no professional available",
                  "duplicate booking", "cancelled by agent")
DONE_MESSAGES = {"confirm": "Confirmed with the professional.",
                 "cancel": "Cancelled; the reason is on the record.",
                 "complete": "Marked done; invoicing will bill it.",
                 "no_show": "Recorded as a no-show; the incident is on the professional's record.",
                 "client_no_show": "Recorded as a no-show by the client."}


class ServiceRequestView(FastListView, SecureModelView):
    allowed_roles = frozenset({"ops_agent"})
    column_list = ("id", "service_date", "window_start", "client.name", "skill", "zone", "status",
                   "professional.name", "start_at", "duration_min", "priority")
    column_labels = {"client.name": _l("Client"), "professional.name": _l("Professional"),
                     "service_date": _l("Date"), "window_start": _l("From"),
                     "duration_min": _l("Minutes"), "start_at": _l("Start")}
    column_formatters = {"skill": lambda v, c, m, n: label(m.skill)}
    # A record's page reads like the call: what, for whom, when, who does it, then the rest.
    column_details_list = ("id", "status", "client", "skill", "service_date", "window_start",
                           "window_end", "duration_min", "professional", "start_at", "end_at",
                           "pinned", "preferred_professional", "address", "zone", "lat", "lon",
                           "priority", "recurrence", "series_id", "price_cents",
                           "cancellation_reason", "created_at", "updated_at")
    plain_rows = True  # every cell reads a column (the formatter reads m.skill)
    bulk_done_message = "%(n)d services updated."
    bulk_forbidden_message = "Your role cannot change service requests."
    # The file carries stored codes (skill, status) whatever the agent's language, and reads
    # straight from the columns: no per-row formatting.
    column_formatters_export = {}
    column_searchable_list = ("client.name",)
    column_select_related_list = (ServiceRequest.client, ServiceRequest.professional)
    column_filters = ("status", "skill", "service_date", "zone", "recurrence", "priority",
                      "professional_id", "client_id", "series_id")
    column_sortable_list = ("id", "service_date", "status", "skill", "zone", "start_at",
                            "priority")
    column_default_sort = [("service_date", True), ("id", True)]
    column_export_list = ("id", "service_date", "window_start", "window_end", "client.name",
                          "skill", "address", "zone", "status", "professional.name", "start_at",
                          "duration_min", "priority", "recurrence", "price_cents",
                          "cancellation_reason")
    # What the client asked for. Who does it and when is booked on the booking page, and the
    # state moves through the named actions: neither is a form field (one door per change).
    form_columns = ("client", "skill", "address", "lat", "lon", "service_date", "window_start",
                    "window_end", "duration_min", "priority", "recurrence",
                    "preferred_professional", "price_cents")
    # As the client says it on the phone: who and what, when, where, then the terms.
    form_rules = grouped(
        Group(_l("Who and what"), "client", "skill", "preferred_professional"),
        Group(_l("When"), "service_date", "window_start", "window_end", "duration_min",
              "recurrence"),
        Group(_l("Where"), "address", "lat", "lon"),
        Group(_l("Priority and price"), "priority", "price_cents"))
    form_choices = {"skill": choices(SKILLS)}
    form_ajax_refs = {
        "client": {"fields": ("name", "email"), "page_size": 10,
                   "placeholder": _l("Type a client's name or email")},
        "preferred_professional": {"fields": ("name",), "page_size": 10,
                                   "placeholder": _l("Type a professional's name")},
    }
    form_overrides = {"lat": FloatField, "lon": FloatField}
    form_args = {
        "client": {"validators": [DataRequired()]},
        "service_date": {"validators": [DataRequired()]},
        "window_start": {"validators": [DataRequired()]},
        "window_end": {"validators": [
            DataRequired(),
            not_before("window_start", _l("The window cannot end before it starts.")),
        ]},
        "duration_min": {"validators": [
            InputRequired(), NumberRange(min=1, max=24 * 60,
                                         message=_l("Duration must be between 1 and 1440 minutes."))
        ]},
        "priority": {"validators": [Optional(), NumberRange(min=1, max=10)]},
        "price_cents": {"validators": [Optional(), NumberRange(min=0)]},
        "lat": {"validators": lat_range()},
        "lon": {"validators": lon_range()},
    }

    def _apply_search(self, query, count_query, joins, count_joins, search):
        # Matching clients first (trigram index), then their requests through the
        # (client_id, service_date, id) index. PostgreSQL misjudges short ILIKE patterns and would
        # rather walk every date backwards; a literal id list tells it how few clients match.
        table = Client.__table__  # plain columns: no ORM work for a list of ids
        clients = sa.select(table.c.id, table.c.request_count)
        for word in search.split():
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clients = clients.where(table.c.name.ilike(f"%{escaped}%", escape="\\"))
        found = db.session.execute(clients.limit(SEARCH_ID_LIST_MAX + 1)).all()
        ids = [client_id for client_id, _ in found]
        clients = clients.with_only_columns(table.c.id)
        if len(ids) <= SEARCH_ID_LIST_MAX and db.session.get_bind().dialect.name == "postgresql":
            # One array parameter: a long IN list is rendered, sent and parsed value by value.
            condition = ServiceRequest.client_id == sa.any_(
                sa.bindparam("client_ids", ids, type_=ARRAY(sa.Integer)))
        elif len(ids) <= SEARCH_ID_LIST_MAX:
            condition = ServiceRequest.client_id.in_(ids)
        else:  # so many clients match that walking the dates finds twenty at once
            condition = ServiceRequest.client_id.in_(clients)
        query = query.filter(condition)
        if count_query is not None:
            count_query = count_query.filter(condition)
            if len(ids) <= SEARCH_ID_LIST_MAX and isinstance(count_query, CappedCount):
                # Every request of these clients matches: their own counts (kept by the
                # database) add up to the figure, with no count of the requests themselves.
                count_query.known = sum(n for _, n in found)
        return query, count_query, joins, count_joins

    def create_form(self, obj=None):
        form = super().create_form(obj)
        client_id = request.args.get("client_id", type=int)
        if client_id and not form.client.data:
            form.client.data = db.session.get(Client, client_id)
        return form

    def handle_view_exception(self, exc: Exception) -> bool:
        if refusal := double_booking_message(db.session, exc):
            flash(refusal_text(refusal), "error")  # in the reader's language
            return True
        return super().handle_view_exception(exc)

    def get_one(self, id):
        number = parse_id(id)
        if number is None:
            return None
        return (
            db.session.query(ServiceRequest)
            # The preferred professional, seldom set, loads only when there is one.
            .options(joinedload(ServiceRequest.client), joinedload(ServiceRequest.professional))
            .filter(ServiceRequest.id == number)
            .one_or_none()
        )

    def on_model_change(self, form, model: ServiceRequest, is_created: bool) -> None:
        if is_created and model.client is not None and model.client.status != ClientStatus.ACTIVE:
            status = gettext(ClientStatus(model.client.status).value)
            raise ValueError(gettext(
                "client: %(name)s is %(status)s; new bookings are held until the account is "
                "settled.", name=model.client.name, status=status))
        if is_created and model.client is not None:
            if not model.address:
                model.address = model.client.address
            if model.lat is None and model.lon is None:
                model.lat, model.lon = model.client.lat, model.client.lon
        # Derived from the coordinates; a zone stated without them (an application) stays.
        model.zone = zone_for(model.lat, model.lon) or model.zone
        if model.start_at is not None:  # a booked service keeps its length with its window
            model.end_at = model.start_at + timedelta(minutes=model.duration_min)

    @property
    def can_delete(self):
        # Admin only, and only a request with no history (request_service.ensure_deletable);
        # everyone else cancels, which keeps the history.
        user = g.get("user")
        return user is not None and user.has_role("admin")

    def on_model_delete(self, model: ServiceRequest) -> None:
        super().on_model_delete(model)
        request_service.ensure_deletable(db.session, request=model)

    def record_links(self, model: ServiceRequest) -> list[tuple[str, str]]:
        if not self.can_write():
            return []
        return [(gettext("Book on the booking page"),
                 url_for("coverage.booking", request_id=model.id)),
                (gettext("Change state"), url_for(".state_page", id=model.id))]

    @expose("/state/<int:id>", methods=("GET", "POST"))
    def state_page(self, id: int):
        """The request's state actions: only those that would succeed now are offered."""
        if not self.can_write():
            abort(403)
        row = db.session.get(ServiceRequest, id) or abort(404)
        if request.method == "POST":
            action_name = request.form.get("action", "")
            done = commit_or_flash(lambda: request_service.act(
                db.session, request=row, action=action_name, now=datetime.now(),
                reason=request.form.get("reason")), gettext(DONE_MESSAGES.get(
                    action_name, "Saved.")))
            if done:
                return redirect(url_for(".details_view", id=id))
        return self.render("admin/request_state.html", row=row,
                           actions=request_service.allowed_actions(row, now=datetime.now()),
                           reasons=CANCEL_REASONS)

    @action("confirm", _l("Confirm"), _l("Confirm the selected assigned services?"))
    def action_confirm(self, ids):
        self.bulk_change(ids, "confirm", lambda r: request_service.confirm(db.session, request=r))

    @action("cancel", _l("Cancel"), _l("Cancel the selected services? The reason recorded is "
                                       "'cancelled by agent'."))
    def action_cancel(self, ids):
        self.bulk_change(ids, "cancel", lambda r: request_service.cancel(
            db.session, request=r, reason="cancelled by agent", now=datetime.now()))

    @action("complete", _l("Mark as done"), _l("Mark the selected services as done? Invoicing "
                                            "bills them."))
    def action_complete(self, ids):
        self.bulk_change(ids, "complete", lambda r: request_service.complete(
            db.session, request=r, now=datetime.now()))

    @action("no_show", _l("Mark no-show"), _l("Record that the professional did not turn up "
                                              "for the selected services?"))
    def action_no_show(self, ids):
        self.bulk_change(ids, "no_show", lambda r: request_service.no_show(
            db.session, request=r, now=datetime.now()))

    @action("client_no_show", _l("Client was not there"), _l("Record that the client was not "
                                                             "there for the selected services?"))
    def action_client_no_show(self, ids):
        self.bulk_change(ids, "client_no_show", lambda r: request_service.no_show(
            db.session, request=r, now=datetime.now(), by="client"))
