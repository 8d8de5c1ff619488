"""Professionals: skills, weekly pattern, time off, status."""

from datetime import datetime

from flask import current_app
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import FloatField, SelectMultipleField
from wtforms.validators import DataRequired, NumberRange

from backoffice.admin.base import SecureModelView
from backoffice.admin.forms import choices, language_choices, weekday_choices
from backoffice.admin.listing import label
from backoffice.admin.validators import email_optional, lat_range, lon_range, phone
from backoffice.db import db
from backoffice.geo import zone_for
from backoffice.i18n import LANGUAGE_NAMES, Refusal
from backoffice.models import (
    LANGUAGES,
    SKILLS,
    Professional,
    ProfessionalStatus,
    TimeOff,
    WorkingShift,
)
from backoffice.services import professionals as professional_service

# Whom each bulk action may change. An applicant becomes approved only through vetting's
# decision by two people, never by a reinstatement from the list.
BULK_FROM = {
    ProfessionalStatus.SUSPENDED: {ProfessionalStatus.APPROVED},
    ProfessionalStatus.APPROVED: {ProfessionalStatus.SUSPENDED},
    ProfessionalStatus.OFFBOARDED: {ProfessionalStatus.APPLICANT, ProfessionalStatus.APPROVED,
                                    ProfessionalStatus.SUSPENDED},
}
BULK_REFUSAL = {
    ProfessionalStatus.SUSPENDED: "only an approved professional can be suspended.",
    ProfessionalStatus.APPROVED: "only a suspended professional can be reinstated; applicants "
                                 "are approved in vetting.",
    ProfessionalStatus.OFFBOARDED: "already offboarded.",
}


class SkillFilter(BaseSQLAFilter):
    def apply(self, query, value, alias=None):
        return query.filter(Professional.skills.like(f"%{value}%"))

    def operation(self):
        return gettext("has")


class ProfessionalView(SecureModelView):
    bulk_done_message = "%(n)d professionals updated."
    bulk_forbidden_message = "Your role cannot change professionals."
    allowed_roles = frozenset({"ops_agent", "vetting"})
    column_list = ("id", "name", "phone", "zone", "skills", "status", "max_minutes_per_week",
                   "rating")
    column_formatters = {"skills": lambda v, c, m, n: ", ".join(label(s) for s in m.skill_list),
                         "language": lambda v, c, m, n: label(
                             LANGUAGE_NAMES.get(m.language, m.language))}
    column_formatters_export = {}  # the file carries the stored codes
    column_searchable_list = ("name", "email", "phone")
    column_filters = (
        "status",
        "zone",
        SkillFilter(Professional.skills, _l("Skill"), options=choices(SKILLS)),
        "rating",
    )
    column_default_sort = ("id", True)
    column_labels = {"max_minutes_per_week": _l("Max min/week"), "skill_list": _l("Skills"),
                     "shifts": _l("Weekly shift"), "time_off": _l("Time off period")}
    column_export_list = ("id", "name", "email", "phone", "address", "zone", "skills", "status",
                          "max_minutes_per_week", "rating")
    form_columns = ("name", "email", "phone", "address", "lat", "lon", "language", "skill_list",
                    "max_minutes_per_week", "rating", "excluded_clients", "notes", "shifts",
                    "time_off")
    form_extra_fields = {
        "skill_list": SelectMultipleField(
            _l("Skills"), choices=choices(SKILLS), validators=[DataRequired()]
        )
    }
    form_choices = {"language": language_choices(LANGUAGES)}
    form_overrides = {"lat": FloatField, "lon": FloatField, "rating": FloatField}
    form_args = {
        "name": {"validators": [DataRequired()]},
        "email": {"validators": email_optional()},
        "phone": {"validators": [phone]},
        "lat": {"validators": lat_range()},
        "lon": {"validators": lon_range()},
        "max_minutes_per_week": {"validators": [NumberRange(0, 60 * 7 * 24)]},
        "rating": {"validators": [NumberRange(0, 5)]},
    }
    form_ajax_refs = {"excluded_clients": {"fields": ("name", "email"), "page_size": 10,
                                           "placeholder": _l("Type a client's name or email")}}
    inline_models = (
        (WorkingShift, {"form_columns": ("id", "weekday", "start_time", "end_time"),
                        "form_choices": {"weekday": weekday_choices()},
                        "form_args": {"weekday": {"coerce": int}}}),
        (TimeOff, {"form_columns": ("id", "starts_on", "ends_on", "reason")}),
    )

    def on_model_change(self, form, model: Professional, is_created: bool) -> None:
        # Derived from the coordinates; a zone stated without them (an application) stays.
        model.zone = zone_for(model.lat, model.lon) or model.zone
        for shift in model.shifts:
            if shift.end_time <= shift.start_time:
                raise ValueError(gettext("shifts: a shift must end after it starts."))
        for off in model.time_off:
            if off.ends_on < off.starts_on:
                raise ValueError(gettext("time off: the end date is before the start date."))

    def _bulk_status(self, ids, status: ProfessionalStatus) -> None:
        def change(p: Professional) -> None:
            if p.status not in BULK_FROM[status]:
                raise Refusal("status: %(status)s; " + BULK_REFUSAL[status],
                              status=ProfessionalStatus(p.status))
            professional_service.set_status(db.session, professional=p, status=status)

        self.bulk_change(ids, status.value, change)

    @action("suspend", _l("Suspend"),
            _l("Suspend the selected professionals? Their services will need another "
               "professional."))
    def action_suspend(self, ids):
        self._bulk_status(ids, ProfessionalStatus.SUSPENDED)

    @action("reinstate", _l("Reinstate"), _l("Reinstate the selected professionals as approved?"))
    def action_reinstate(self, ids):
        self._bulk_status(ids, ProfessionalStatus.APPROVED)

    @action("offboard", _l("Offboard"), _l("Offboard the selected professionals?"))
    def action_offboard(self, ids):
        self._bulk_status(ids, ProfessionalStatus.OFFBOARDED)

    @action("erase", _l("Erase personal data"),
            _l("Erase the personal data of the selected professionals, their documents "
               "included? They are offboarded. This cannot be undone."))
    def action_erase(self, ids):
        self.bulk_change(ids, "erase", lambda p: professional_service.erase(
            db.session, professional=p, now=datetime.now(), config=current_app.config))
