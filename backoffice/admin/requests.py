"""Service requests: what clients booked, when, and who does it."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import flash, request
from flask_admin.actions import action
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import joinedload
from wtforms import FloatField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from assignment.service import double_booking_message
from backoffice import audit
from backoffice.admin.base import SecureModelView, refusal
from backoffice.admin.counts import CappedCount
from backoffice.admin.forms import choices
from backoffice.admin.listing import label
from backoffice.admin.record_page import parse_id
from backoffice.admin.validators import lat_range, lon_range, not_before
from backoffice.db import db
from backoffice.geo import zone_for
from backoffice.models import SKILLS, Client, ClientStatus, RequestStatus, ServiceRequest
from backoffice.services import requests as request_service

SEARCH_ID_LIST_MAX = 2000


class ServiceRequestView(SecureModelView):
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
    form_columns = ("client", "skill", "address", "lat", "lon", "service_date", "window_start",
                    "window_end", "duration_min", "priority", "recurrence",
                    "preferred_professional", "status", "professional", "start_at", "pinned",
                    "price_cents", "cancellation_reason")
    form_choices = {"skill": choices(SKILLS)}
    form_ajax_refs = {
        "client": {"fields": ("name", "email"), "page_size": 10,
                   "placeholder": _l("Type a client's name or email")},
        "professional": {"fields": ("name",), "page_size": 10,
                         "placeholder": _l("Type a professional's name")},
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
        if message := double_booking_message(db.session, exc):
            flash(message, "error")
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
        if model.start_at is not None:
            model.end_at = model.start_at + timedelta(minutes=model.duration_min)
        else:
            model.end_at = None
        if model.professional_id is None and model.professional is None:
            model.start_at = model.end_at = None
            if model.status in (RequestStatus.ASSIGNED, RequestStatus.CONFIRMED):
                model.status = RequestStatus.NEW
        elif model.start_at is None:
            raise ValueError(gettext("start_at: an assigned service needs a start time."))
        if model.status == RequestStatus.CANCELLED and not model.cancellation_reason:
            raise ValueError(gettext("cancellation_reason: say why the service is cancelled."))

    @action("confirm", _l("Confirm"), _l("Confirm the selected assigned services?"))
    def action_confirm(self, ids):
        self._bulk(ids, "confirm", lambda r: request_service.confirm(db.session, request=r))

    @action("cancel", _l("Cancel"), _l("Cancel the selected services? The reason recorded is "
                                       "'cancelled by agent'."))
    def action_cancel(self, ids):
        self._bulk(ids, "cancel", lambda r: request_service.cancel(
            db.session, request=r, reason="cancelled by agent", now=datetime.now()))

    def _bulk(self, ids, name: str, fn) -> None:
        if not self.can_write():
            flash(gettext("Your role cannot change service requests."), "error")
            return
        rows = db.session.query(ServiceRequest).filter(
            ServiceRequest.id.in_(self.record_ids(ids))).all()
        done, refused = [], []
        for r in rows:
            try:
                fn(r)
                done.append(r.id)
            except ValueError as exc:
                refused.append(f"#{r.id}: {refusal(exc)}")
        audit.record(db.session, action=f"bulk_{name}", entity="service_request",
                     changes={"ids": done})
        db.session.commit()
        flash(gettext("%(n)d services updated.", n=len(done)), "success")
        for msg in refused[:10]:
            flash(msg, "warning")
