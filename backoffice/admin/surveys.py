"""Satisfaction surveys in the panel: a read-only list for ops and the admin (never a token),
and the public survey page (surveys.web) mounted outside the panel."""

import sqlalchemy as sa
from flask import g
from flask_babel import LazyString, get_locale, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from backoffice.admin.base import SecureModelView
from backoffice.admin.cases_common import when
from backoffice.admin.filters import EnumEqualFilter
from backoffice.db import db
from backoffice.i18n import in_context
from cases.models import CaseCategory, format_number
from surveys import service, web
from surveys.models import Survey, SurveyStatus, SurveySubject


def _code(context: str, value: str) -> LazyString:
    return LazyString(in_context, context, value)


def _about(view, context, model, name) -> str:
    if model.subject == SurveySubject.CASE:
        return gettext("Case %(number)s", number=format_number(model.case_id))
    return gettext("Service #%(id)d", id=model.service_request_id)


def _reason(view, context, model, name) -> str:
    text = service.reason_text(model.subject, model.reason)
    return gettext(text) if text else ""


def _category(view, context, model, name) -> str:
    """Name a case's category as the desk does, a service's skill as the reader says it."""
    if not model.category_code:
        return ""
    if model.subject == SurveySubject.SERVICE:
        return gettext(model.category_code)
    categories = g.get("_survey_categories")
    if categories is None:  # once per page, not once per row
        categories = g._survey_categories = {
            c.code: c for c in db.session.scalars(sa.select(CaseCategory))}
    category = categories.get(model.category_code)
    return category.name(str(get_locale())) if category else model.category_code


def _status(view, context, model, name) -> Markup:
    label = escape(in_context("survey_status", model.status.value))
    why = service.CANCEL_REASONS.get(model.cancel_reason or "")
    if why:
        return Markup(f'{label}<br><small class="text-muted">{escape(gettext(why))}</small>')
    return Markup(label)


class SurveyView(SecureModelView):
    """What was asked, of whom it is about, and what came back; nothing changes here."""

    allowed_roles = frozenset({"ops_agent"})
    _can_create = _can_edit = _can_delete = False
    action_disallowed_list = ("delete",)
    can_export = False  # the figures page exports the counts; rows here carry people's words
    can_view_details = False
    column_list = ("id", "subject", "status", "score", "reason", "comment", "concerned_name",
                   "category_code", "sent_at", "answered_at")
    column_default_sort = ("id", True)
    column_labels = {"id": _l("Id"), "subject": _l("About"), "status": _l("Status"),
                     "score": _l("Score"), "reason": _l("Reason"), "comment": _l("Comment"),
                     "concerned_name": _l("Agent or professional"),
                     "category_code": _l("Category or skill"), "sent_at": _l("Sent"),
                     "answered_at": _l("Answered")}
    column_formatters = {
        "subject": _about, "status": _status, "reason": _reason,
        "category_code": _category,
        "sent_at": lambda v, c, m, n: when(m.sent_at),
        "answered_at": lambda v, c, m, n: when(m.answered_at),
    }
    column_searchable_list = ("concerned_name",)
    column_sortable_list = ("id", "score", "sent_at", "answered_at", "concerned_name")
    column_filters = (
        EnumEqualFilter(Survey.status, _l("Status"),
                        options=[(s.name, _code("survey_status", s.value)) for s in SurveyStatus]),
        EnumEqualFilter(Survey.subject, _l("About"),
                        options=[(s.name, _code("survey_subject", s.value))
                                 for s in SurveySubject]),
        "score", "answered_at")


def register(admin) -> None:
    """Mount the survey list."""
    admin.add_view(SurveyView(Survey, db, name=_l("Satisfaction surveys"), endpoint="survey",
                              category=_l("Cases")))


def register_routes(app, csrf) -> None:
    """Mount the public survey page: no login, its own checks (surveys.web)."""
    web.register(app, csrf)
