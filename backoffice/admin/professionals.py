"""Professionals: skills, weekly pattern, time off, status, and each professional's page."""

import functools
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import FloatField, SelectMultipleField
from wtforms.validators import DataRequired, NumberRange

from backoffice import timeline
from backoffice.admin import person as page
from backoffice.admin.base import SecureModelView
from backoffice.admin.form_groups import Group, grouped
from backoffice.admin.forms import choices, language_choices, weekday_choices
from backoffice.admin.listing import label
from backoffice.admin.validators import person_form_args
from backoffice.db import db
from backoffice.geo import zone_for
from backoffice.i18n import LANGUAGE_NAMES, Refusal
from backoffice.models import (
    LANGUAGES,
    SKILLS,
    Client,
    Professional,
    ProfessionalStatus,
    ServiceRequest,
    TimeOff,
    WorkingShift,
)
from backoffice.optional import optional_module
from backoffice.services import interactions
from backoffice.services import professionals as professional_service

COMING_SHOWN = 20
ROUTE_SHOWN = 50


@functools.cache
def _route_and_coming_statement():
    """Build once: today's route and the coming services, read in one round trip."""
    r = ServiceRequest
    address = sa.func.coalesce(r.address, Client.address).label("address")
    pro = sa.bindparam("professional_id", type_=sa.Integer)
    midnight = sa.bindparam("midnight", type_=sa.DateTime)
    tomorrow = sa.bindparam("tomorrow", type_=sa.DateTime)

    def part(today: bool, limit: int):
        return (sa.select(r.id, r.start_at, r.end_at, r.skill, r.status, address, Client.name,
                          sa.literal_column("1" if today else "0").label("today"))
                .join(Client, Client.id == r.client_id)
                .where(r.professional_id == pro, r.status.notin_(("cancelled",)),
                       *((r.start_at >= midnight, r.start_at < tomorrow) if today
                         else (r.start_at >= tomorrow,)))
                .order_by(r.start_at, r.id).limit(limit))

    both = sa.union_all(sa.select(part(True, ROUTE_SHOWN).subquery()),
                        sa.select(part(False, COMING_SHOWN).subquery())).subquery()
    return sa.select(both).order_by(both.c.today.desc(), both.c.start_at, both.c.id)


def route_and_coming(session, *, professional_id: int, midnight: datetime) -> tuple[list, list]:
    """Return today's route and the coming services (from tomorrow) of a professional."""
    rows = session.execute(_route_and_coming_statement(), {
        "professional_id": professional_id, "midnight": midnight,
        "tomorrow": midnight + timedelta(days=1)})
    out: tuple[list, list] = ([], [])
    for row in rows:
        out[0 if row.today else 1].append(row)
    return out


def vetting_records(session, *, professional_id: int) -> dict:
    """Return the professional's documents, incidents and applications (none: no vetting)."""
    models = optional_module("vetting.models")
    if models is None:
        return {"documents": [], "incidents": [], "applications": []}
    d, i, a = models.Document, models.Incident, models.Application
    return {
        "documents": list(session.execute(
            sa.select(d.id, d.doc_type, d.status, d.expires_on, d.uploaded_at)
            .where(d.professional_id == professional_id)
            .order_by(d.expires_on.is_(None), d.expires_on, d.id))),
        "incidents": list(session.execute(
            sa.select(i.kind, i.occurred_on, i.note, i.service_request_id)
            .where(i.professional_id == professional_id)
            .order_by(i.occurred_on.desc(), i.id.desc()).limit(20))),
        "applications": list(session.execute(
            sa.select(a.id, a.kind, a.stage, a.created_at, a.decided_at, a.rejection_reason)
            .where(a.professional_id == professional_id).order_by(a.id.desc()))),
    }


def satisfaction(session, *, professional_id: int, last: int = 5) -> dict:
    """Return the average score of the surveys about a professional and the last answers."""
    models = optional_module("surveys.models")
    if models is None:
        return {"average": None, "count": 0, "last": []}
    s = models.Survey
    about = (s.concerned_professional_id == professional_id,
             s.status == models.SurveyStatus.ANSWERED, s.score.is_not(None))
    # The average and the count over every answer ride along the last few (window functions
    # run before the LIMIT): one round trip.
    rows = list(session.execute(
        sa.select(s.answered_at, s.score, s.comment, s.reason,
                  sa.func.avg(s.score).over().label("average"),
                  sa.func.count().over().label("answers"))
        .where(*about).order_by(s.answered_at.desc(), s.id.desc()).limit(last)))
    average = rows[0].average if rows else None
    return {"average": float(average) if average is not None else None,
            "count": rows[0].answers if rows else 0, "last": rows}

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


class ProfessionalView(page.PersonActionsMixin, SecureModelView):
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
    form_rules = grouped(
        Group(_l("Contact"), "name", "email", "phone", "language"),
        Group(_l("Skills and contract"), "skill_list", "max_minutes_per_week", "rating"),
        Group(_l("Address"), "address", "lat", "lon"),
        Group(_l("Availability"), "shifts", "time_off"),
        Group(_l("Preferences and notes"), "excluded_clients", "notes"))
    form_extra_fields = {
        "skill_list": SelectMultipleField(
            _l("Skills"), choices=choices(SKILLS), validators=[DataRequired()]
        )
    }
    form_choices = {"language": language_choices(LANGUAGES)}
    form_overrides = {"lat": FloatField, "lon": FloatField, "rating": FloatField}
    form_args = {
        **person_form_args(),
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

    person_arg = "professional"

    @expose("/details/")
    def details_view(self):
        """The professional's page: today's route, coming services, shifts and time off,
        documents, incidents, cases, satisfaction, vetting history and the timeline."""
        model, return_url = self._page_model()
        if model is None:
            return return_url
        session = db.session
        urls = page.record_urls()
        today = date.today()
        midnight = datetime.combine(today, datetime.min.time())  # start_at is local wall-clock
        kinds, cursor = page.timeline_args(timeline.PROFESSIONAL_KINDS)
        visible, visible_key = page.case_visibility()
        entries = timeline.professional_timeline(
            session, professional_id=model.id, email=model.email, kinds=kinds, cursor=cursor,
            case_condition=visible, case_key=visible_key)
        route, coming = route_and_coming(session, professional_id=model.id, midnight=midnight)
        return self.render(
            "admin/person_professional.html", model=model, return_url=return_url,
            language=LANGUAGE_NAMES.get(model.language, model.language),
            route=route, coming=coming,
            time_off=[t for t in model.time_off if t.ends_on >= today], today=today,
            satisfaction=satisfaction(session, professional_id=model.id),
            lines=page.timeline_rows(entries, urls), urls=urls,
            next_cursor=entries.next_cursor, csrf=page.csrf_token(),
            reminders=page.reminders_offered(),
            kinds=kinds,
            kinds_offered=timeline.PROFESSIONAL_KINDS, kind_labels=page.KIND_LABELS,
            cases=page.person_cases(session, entity="professional", person_id=model.id),
            complaint_codes=timeline.COMPLAINT_CATEGORIES,
            cursor=cursor, can_act=self.can_write(), outcomes=interactions.CALL_OUTCOMES,
            directions=page.DIRECTION_LABELS, page=page, _=page.words().tr,
            weekdays={int(k): v for k, v in weekday_choices()},
            **vetting_records(session, professional_id=model.id))

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
