"""Vetting: the queue and application pages, documents by expiry, complaints and no-shows."""

from flask import current_app, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms.validators import DataRequired

from backoffice.admin.base import SecureModelView
from backoffice.admin.vetting_pages import VettingView
from backoffice.db import db
from backoffice.models import ProfessionalStatus
from vetting import reports, service
from vetting.documents import DOC_TYPES
from vetting.models import Document, Incident


def _download_link(view, context, model: Document, name) -> Markup:
    if not model.stored_name:
        return Markup("")
    url = url_for("vetting.download", doc_id=model.id)
    return Markup(f'<a href="{escape(url)}">{escape(model.original_name or "file")}</a>')


class VettingDocumentView(SecureModelView):
    """Every document on file, to find what expires and what waits for review."""

    allowed_roles = frozenset({"vetting"})
    _can_create = _can_edit = _can_delete = False
    column_list = ("id", "professional", "doc_type", "number", "issued_on", "expires_on", "status",
                   "file")
    # The record reads like the document; its stored name and checksum are the file room's.
    column_details_list = ("id", "professional", "doc_type", "number", "issued_on",
                           "expires_on", "status", "rejection_reason", "reviewed_at",
                           "original_name", "content_type", "size_bytes", "uploaded_at",
                           "file")
    column_filters = ("status", "doc_type", "expires_on", "professional.status")
    column_searchable_list = ("number",)
    column_default_sort = ("expires_on", False)
    column_labels = {"doc_type": _l("Type"), "expires_on": _l("Expires"),
                     "issued_on": _l("Issued"), "file": _l("File"),
                     "professional.status": _l("Professional status"),
                     "reviewed_at": _l("Reviewed"), "uploaded_at": _l("Uploaded"),
                     "rejection_reason": _l("Why it was rejected"), "number": _l("Number"),
                     "original_name": _l("File name"), "content_type": _l("File type"),
                     "size_bytes": _l("Size (bytes)"), "reviewed_by": _l("Reviewed by"),
                     "uploaded_by": _l("Uploaded by"), "professional": _l("Professional"),
                     "status": _l("Status")}
    column_formatters = {"file": _download_link,
                         "doc_type": lambda v, c, m, n: gettext(DOC_TYPES.get(m.doc_type,
                                                                             m.doc_type))}
    column_export_exclude_list = ("file",)
    column_details_exclude_list = ("stored_name", "sha256")
    # Named per reader: the type's English name is the msgid (#18).
    column_choices = {"doc_type": [(code, _l(name)) for code, name in DOC_TYPES.items()]}
    column_code_list = ("doc_type",)


class IncidentView(SecureModelView):
    """Complaints and no-shows; over the monthly threshold they open a re-review."""

    allowed_roles = frozenset({"vetting", "ops_agent"})
    _can_edit = _can_delete = False
    column_list = ("id", "professional", "kind", "occurred_on", "service_request_id", "note",
                   "created_at")
    column_filters = ("kind", "occurred_on")
    column_default_sort = ("id", True)
    form_columns = ("professional", "kind", "occurred_on", "service_request_id", "note")
    form_choices = {"kind": [("complaint", _l("Complaint")), ("no_show", _l("No-show"))]}
    form_args = {"professional": {"validators": [DataRequired()]},
                 "occurred_on": {"validators": [DataRequired()]}}
    form_ajax_refs = {"professional": {"fields": ("name", "email"), "page_size": 10}}

    def after_model_change(self, form, model: Incident, is_created: bool) -> None:
        if not is_created or model.professional.status != ProfessionalStatus.APPROVED:
            return
        threshold = int(current_app.config.get("VETTING_INCIDENT_THRESHOLD", 2))
        service.maybe_open_re_review(db.session, professional=model.professional,
                                     month=model.occurred_on, threshold=threshold)
        db.session.commit()


def register(admin) -> None:
    """Mount the vetting pages and put the vetting figures on the home page."""
    from backoffice.admin.home import HOME_PANELS, HomePanel

    category = _l("Vetting")
    admin.add_view(VettingView(name=_l("Vetting queue"), endpoint="vetting", url="/admin/vetting",
                               category=category))
    admin.add_view(VettingDocumentView(Document, db, name=_l("Documents"),
                                       endpoint="vetting_document", category=category))
    admin.add_view(IncidentView(Incident, db, name=_l("Complaints and no-shows"),
                                endpoint="vetting_incident", category=category))
    if not any(p.name == "vetting" for p in HOME_PANELS):
        HOME_PANELS.append(HomePanel("vetting", roles=("vetting",), figures=reports.home_figures,
                                     template="admin/vetting_home.html"))
