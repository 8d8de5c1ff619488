"""What the admin tunes the desk with: categories, SLA policies, the business calendar, macros;
and what the mail left aside: the quarantine and the mailboxes' state."""

from flask import Response, abort, url_for
from flask_admin import expose
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms.validators import DataRequired, NumberRange

from backoffice import audit
from backoffice.admin.base import SecureModelView
from backoffice.admin.cases_common import category_name, code_label, when
from backoffice.admin.form_groups import Group, grouped
from backoffice.admin.forms import weekday_choices
from backoffice.db import db
from backoffice.i18n import in_context
from cases.display import mailbox_label
from cases.models import CasePriority, CaseState, RawMail, RawMailStatus

TEAMS = ("finance",)


def _code(context: str, value: str):
    """Return a lazy label of a stored code, named in the reader's language when shown."""
    return LazyString(lambda: in_context(context, value))
SETTABLE_STATES = [s.value for s in CaseState if s not in (CaseState.MERGED, CaseState.NEW)]


class DeskConfigView(SecureModelView):
    """Admin only: every role but admin gets 403 (admin passes RoleAccess by default)."""

    allowed_roles = frozenset()
    can_export = False


class CategoryView(DeskConfigView):
    # The code is what mail rules, playbooks and exports name a category by: set in the form,
    # not read in the list, which shows each name in its own language.
    column_list = ("name_es", "name_en", "team", "active", "sort")
    column_details_list = column_list
    form_columns = ("code", "name_es", "name_en", "team", "active", "sort")
    column_labels = {"code": _l("Code"), "name_es": _l("Name (Spanish)"),
                     "name_en": _l("Name (English)"), "team": _l("Team"), "sort": _l("Order")}
    form_choices = {"team": [("", _l("Operations")), ("finance", _l("Finance"))]}
    column_formatters = {"team": lambda v, c, m, n: _l("Finance") if m.team == "finance"
                         else _l("Operations"),
                         "name_es": lambda v, c, m, n: Markup(
                             f'<span lang="es">{escape(m.name_es)}</span>'),
                         "name_en": lambda v, c, m, n: Markup(
                             f'<span lang="en">{escape(m.name_en)}</span>')}
    form_args = {"code": {"validators": [DataRequired()]},
                 "name_es": {"validators": [DataRequired()]},
                 "name_en": {"validators": [DataRequired()]}}
    _can_delete = False  # cases keep their category: deactivate instead

    def on_model_change(self, form, model, is_created) -> None:
        model.team = model.team or None


class SlaPolicyView(DeskConfigView):
    column_list = ("name", "priority", "category", "first_response_minutes",
                   "next_response_minutes", "resolution_minutes", "active")
    form_columns = column_list
    form_rules = grouped(Group(_l("Applies to"), "name", "priority", "category", "active"),
                         Group(_l("Response targets"), "first_response_minutes",
                               "next_response_minutes", "resolution_minutes"))
    column_labels = {"first_response_minutes": _l("First response (business minutes)"),
                     "next_response_minutes": _l("Next response (business minutes)"),
                     "resolution_minutes": _l("Resolution (business minutes)")}
    form_choices = {"priority": [(p.value, _code("case_priority", p.value))
                                 for p in CasePriority]}
    form_args = {name: {"validators": [DataRequired(), NumberRange(min=1, max=60 * 24 * 90)]}
                 for name in ("first_response_minutes", "next_response_minutes",
                              "resolution_minutes")}
    form_args["category"] = {"get_label": category_name}
    column_formatters = {"priority": lambda v, c, m, n: code_label("case_priority", m.priority),
                         "category": lambda v, c, m, n: category_name(m.category)}


class BusinessHoursView(DeskConfigView):
    column_list = ("weekday", "opens", "closes")
    form_columns = column_list
    column_default_sort = [("weekday", False), ("opens", False)]
    column_labels = {"weekday": _l("Weekday"), "opens": _l("Opens"), "closes": _l("Closes")}
    column_formatters = {"weekday": lambda v, c, m, n: dict(weekday_choices()).get(
        str(m.weekday), m.weekday)}
    form_choices = {"weekday": weekday_choices()}

    def on_model_change(self, form, model, is_created) -> None:
        model.weekday = int(model.weekday)
        if model.opens is None or model.closes is None or model.closes <= model.opens:
            raise ValueError("closes: the desk closes after it opens")


class ClosedDayView(DeskConfigView):
    column_list = ("day", "note")
    form_columns = column_list
    column_default_sort = ("day", True)
    column_labels = {"day": _l("Day"), "note": _l("Note")}


class MacroView(DeskConfigView):
    column_list = ("name", "kind", "set_state", "set_category", "add_tags", "active")
    form_columns = ("name", "kind", "body_es", "body_en", "set_state", "set_category",
                    "add_tags", "outcomes", "active")
    form_rules = grouped(Group(_l("Macro"), "name", "kind", "active"),
                         Group(_l("Text"), "body_es", "body_en"),
                         Group(_l("What it does"), "set_state", "set_category", "add_tags",
                               "outcomes"))
    column_searchable_list = ("name",)
    column_labels = {"kind": _l("Kind"), "body_es": _l("Text (Spanish)"),
                     "body_en": _l("Text (English)"), "set_state": _l("Sets state"),
                     "set_category": _l("Sets category"), "add_tags": _l("Adds tags"),
                     "outcomes": _l("Call outcomes")}
    form_choices = {"kind": [("reply", _l("Reply")), ("call_script", _l("Call script")),
                             ("dunning_call", _l("Invoice call script"))],
                    "set_state": [("", "—"), *[(s, _code("case_state", s))
                                               for s in SETTABLE_STATES]]}
    column_formatters = {
        "kind": lambda v, c, m, n: {"call_script": _l("Call script"),
                                    "dunning_call": _l("Invoice call script")}.get(
                                        m.kind, _l("Reply")),
        "set_state": lambda v, c, m, n: code_label("case_state", m.set_state),
        "set_category": lambda v, c, m, n: category_name(m.set_category)}
    form_widget_args = {"body_es": {"rows": 8}, "body_en": {"rows": 8},
                        "add_tags": {"placeholder": _l("comma-separated")},
                        "outcomes": {"placeholder": _l("comma-separated")}}
    form_args = {"name": {"validators": [DataRequired()]},
                 "set_category": {"get_label": category_name},
                 "body_es": {"validators": [DataRequired()]},
                 "body_en": {"validators": [DataRequired()]}}

    def on_model_change(self, form, model, is_created) -> None:
        from cases import macros

        model.set_state = model.set_state or None
        macros.check(model.body_es, model.body_en)  # an unknown placeholder is named


def _raw_link(view, context, model, name) -> Markup:
    url = url_for("case_quarantine.raw", mail_id=model.id)
    return Markup(f'<a href="{escape(url)}">{escape(_l("Download .eml"))}</a>')


class QuarantineView(DeskConfigView):
    """Mails that could not become a case, each with its reason and its raw message."""

    _can_create = _can_edit = _can_delete = False
    action_disallowed_list = ("delete",)
    column_list = ("id", "received_at", "from_address", "subject", "reason", "source", "raw_file")
    column_labels = {"received_at": _l("Received"), "from_address": _l("From"),
                     "subject": _l("Subject"), "reason": _l("Reason"), "source": _l("Mailbox"),
                     "raw_file": _l("Message")}
    column_formatters = {"raw_file": _raw_link,
                         "received_at": lambda v, c, m, n: when(m.received_at),
                         "source": lambda v, c, m, n: mailbox_label(m.source)}
    column_details_list = ("id", "received_at", "from_address", "subject", "reason", "source",
                           "message_id", "raw_file")
    column_default_sort = ("id", True)
    column_searchable_list = ("from_address", "subject")

    def get_query(self):
        return super().get_query().filter(RawMail.status == RawMailStatus.QUARANTINED)

    def get_count_query(self):
        return super().get_count_query().filter(RawMail.status == RawMailStatus.QUARANTINED)

    @expose("/raw/<int:mail_id>")
    def raw(self, mail_id: int):
        mail = db.session.get(RawMail, mail_id)
        if mail is None or mail.status != RawMailStatus.QUARANTINED:
            abort(404)
        audit.record(db.session, action="download", entity="case_raw_mail", entity_id=mail.id)
        db.session.commit()
        return Response(bytes(mail.raw), mimetype="message/rfc822", headers={
            "Content-Disposition": f"attachment; filename=quarantine-{mail.id}.eml",
            "Content-Security-Policy": "default-src 'none'; sandbox"})


class MailboxView(DeskConfigView):
    _can_create = _can_edit = _can_delete = False
    action_disallowed_list = ("delete",)
    column_list = ("source", "last_ok_at", "last_attempt_at", "failures", "last_error")
    column_labels = {"source": _l("Mailbox"), "last_ok_at": _l("Last fetched"),
                     "last_attempt_at": _l("Last attempt"), "failures": _l("Failures in a row"),
                     "last_error": _l("Last error")}
    column_formatters = {"source": lambda v, c, m, n: mailbox_label(m.source),
                         "last_ok_at": lambda v, c, m, n: when(m.last_ok_at),
                         "last_attempt_at": lambda v, c, m, n: when(m.last_attempt_at)}
    column_details_list = column_list


__all__ = ["TEAMS"]
