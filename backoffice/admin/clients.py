"""Clients: the people who book services."""

from datetime import datetime

import sqlalchemy as sa
from flask import current_app, g, url_for
from flask_admin.actions import action
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import FloatField
from wtforms.validators import DataRequired

from backoffice.admin.base import SecureModelView
from backoffice.admin.fastlist import FastListView
from backoffice.admin.forms import language_choices
from backoffice.admin.listing import label
from backoffice.admin.validators import email_optional, lat_range, lon_range, phone
from backoffice.db import db
from backoffice.geo import zone_for
from backoffice.i18n import LANGUAGE_NAMES
from backoffice.models import LANGUAGES, Client, ClientStatus
from backoffice.services import clients as client_service


class ClientView(FastListView, SecureModelView):
    allowed_roles = frozenset({"ops_agent", "finance"})
    write_roles = frozenset({"ops_agent"})
    bulk_done_message = "%(n)d clients updated."
    bulk_forbidden_message = "Your role cannot change clients."
    column_list = ("id", "name", "email", "phone", "zone", "language", "status", "request_count",
                   "created_at")
    column_searchable_list = ("name", "email", "phone")
    column_filters = ("status", "zone", "language", "created_at")
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
    form_columns = ("name", "email", "phone", "address", "lat", "lon", "language", "notes",
                    "status", "stripe_customer_id")
    form_choices = {"language": language_choices(LANGUAGES)}
    form_overrides = {"lat": FloatField, "lon": FloatField}
    form_args = {
        "name": {"validators": [DataRequired()]},
        "email": {"validators": email_optional()},
        "phone": {"validators": [phone]},
        "lat": {"validators": lat_range()},
        "lon": {"validators": lon_range()},
    }
    form_widget_args = {"stripe_customer_id": {"readonly": True}}

    def record_links(self, model: Client):
        links = [(gettext("Service requests"),
                  url_for("service_request.index_view", flt0_client_id_equal=model.id))]
        if g.user.has_role("ops_agent", "admin"):
            links.insert(0, (gettext("New service request"),
                             url_for("service_request.create_view", client_id=model.id)))
        return links

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
