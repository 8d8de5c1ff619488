"""Staff users (admin only), the audit log (read-only) and team task queues."""

from flask import flash, g, url_for
from flask_admin.actions import action
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import PasswordField, SelectMultipleField
from wtforms.validators import DataRequired, Email, Length, Optional

from backoffice import audit, totp
from backoffice.admin.base import SecureModelView, render_changes
from backoffice.admin.fastlist import FastListView
from backoffice.admin.forms import role_choices, role_label
from backoffice.auth import hash_password, revoke_sessions
from backoffice.db import db, utcnow
from backoffice.i18n import LANGUAGE_NAMES
from backoffice.models import ROLES, StaffUser, Task, TaskStatus


class StaffUserView(SecureModelView):
    allowed_roles = frozenset()  # admin only
    _can_delete = False  # users are disabled, never deleted: the audit trail points at them
    can_export = False
    column_list = ("id", "email", "name", "roles", "active", "locale", "last_login_at")
    # Never the password hash, the second factor's secret or its recovery codes.
    column_details_list = ("id", "email", "name", "roles", "active", "locale", "created_at",
                           "last_login_at", "mfa_exempt", "totp_enrolled_at")
    column_labels = {"mfa_exempt": "Exempt from the second factor",
                     "totp_enrolled_at": "Second factor since"}
    column_formatters = {"roles": lambda v, c, m, n: ", ".join(
        role_label(r) for r in ROLES if r in m.role_set),
        "locale": lambda v, c, m, n: gettext(LANGUAGE_NAMES.get(m.locale, m.locale))}
    column_searchable_list = ("email", "name")
    column_filters = ("active", "roles")
    form_columns = ("email", "name", "role_list", "active", "locale", "new_password")
    form_extra_fields = {
        "role_list": SelectMultipleField(_l("Roles"), choices=role_choices(ROLES),
                                         validators=[DataRequired()]),
        "new_password": PasswordField(_l("New password"),
                                      validators=[Optional(), Length(min=10)]),
    }
    form_args = {"email": {"validators": [DataRequired(), Email()]}}
    form_choices = {"locale": [("es", "Español"), ("en", "English")]}

    def on_form_prefill(self, form, id):
        user = db.session.get(StaffUser, int(id))
        form.role_list.data = sorted(user.role_set)

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.new_password.validators = [DataRequired(), Length(min=10)]
        return form

    def on_model_change(self, form, model: StaffUser, is_created: bool) -> None:
        model.email = model.email.strip().lower()
        model.roles = ",".join(r for r in ROLES if r in (form.role_list.data or []))
        if form.new_password.data:
            model.password_hash = hash_password(form.new_password.data)
            if not is_created:
                revoke_sessions(db.session, user_id=model.id)
        if not is_created and not model.active:
            revoke_sessions(db.session, user_id=model.id)
        if model.id == g.user.id and "admin" not in model.role_set:
            raise ValueError(gettext("roles: you cannot remove your own admin role."))

    @action("disable", _l("Disable"), _l("Disable the selected users? Their sessions end now."))
    def action_disable(self, ids):
        users = db.session.query(StaffUser).filter(StaffUser.id.in_(self.record_ids(ids))).all()
        for user in users:
            if user.id == g.user.id:
                flash(gettext("You cannot disable yourself."), "error")
                continue
            user.active = False
            revoke_sessions(db.session, user_id=user.id)
        db.session.commit()
        flash(gettext("Users disabled."), "success")

    @action("reset_mfa", _l("Reset second factor"),
            _l("Remove the second factor of the selected users (a lost phone)? They set up a "
               "new one at their next login if their role needs it."))
    def action_reset_mfa(self, ids):
        actor = audit.Actor(g.user.id, g.user.email)
        chosen = self.record_ids(ids)
        if g.user.id in chosen:
            flash(gettext("Your own second factor is changed from your account page."), "error")
        ids = [i for i in chosen if i != g.user.id]
        for user_id in ids:
            totp.disable(db.session, user_id=user_id, actor=actor, note="reset by admin")
            revoke_sessions(db.session, user_id=user_id)
        db.session.commit()
        flash(gettext("Second factor reset for %(n)d users; their sessions ended.", n=len(ids)),
              "success")


class AuditEventView(FastListView, SecureModelView):
    # The audit trail grows by every change: its list counts up to a cap, never count(*).
    """Append-only: nobody creates, edits or deletes here, not even admin."""

    allowed_roles = frozenset()
    _can_create = _can_edit = _can_delete = False
    action_disallowed_list = ("delete",)
    column_list = ("id", "at", "actor", "action", "entity", "entity_id", "changes", "note")
    column_filters = ("actor", "action", "entity", "entity_id", "at")
    column_searchable_list = ("actor", "entity_id")
    column_default_sort = ("id", True)
    details_template = "admin/model/details.html"
    column_formatters = {"changes": lambda v, c, m, n: render_changes(m.changes)}
    column_formatters_export = {}  # the file keeps the changes as JSON


# What a task is about, by its entity: the page that shows it, the page's id argument, a name.
RECORD_PAGES = {
    "service_request": ("service_request.details_view", "id", _l("Service request")),
    "professional": ("professional.details_view", "id", _l("Professional")),
    "client": ("client.details_view", "id", _l("Client")),
    "billing_invoice": ("billing_invoice.details_view", "id", _l("Invoice")),
    "vetting_application": ("vetting.application", "app_id", _l("Application")),
    "plan_run": ("coverage.run_page", "run_id", _l("Plan")),
}


def record_link(admin, entity: str | None, entity_id: str | None) -> Markup | str:
    """Return what a task is about, named and linked to its page when the reader may open it."""
    if not entity:
        return ""
    endpoint, arg, name = RECORD_PAGES.get(entity, (None, None, entity))
    text = f"{name} #{entity_id}" if entity_id else str(name)
    view = next((v for v in admin._views if v.endpoint == (endpoint or "").split(".")[0]), None)
    if view is None or not entity_id or not entity_id.isdigit() or not view.is_accessible():
        return text
    return Markup(f'<a href="{escape(url_for(endpoint, **{arg: entity_id}))}">{escape(text)}</a>')


class TaskView(SecureModelView):
    """Work items for each team; a user sees the tasks of the teams they belong to."""

    allowed_roles = frozenset({"ops_agent", "vetting", "finance"})
    _can_create = _can_delete = False
    column_list = ("id", "due_at", "role", "kind", "title", "status", "entity")
    column_formatters = {"role": lambda v, c, m, n: role_label(m.role),
                         "kind": lambda v, c, m, n: gettext(m.kind),
                         "entity": lambda v, c, m, n: record_link(v.admin, m.entity, m.entity_id)}
    column_formatters_export = {}  # the file carries the stored codes and ids
    column_labels = {"entity": _l("Related to")}
    column_export_list = ("id", "due_at", "role", "kind", "title", "status", "entity",
                          "entity_id", "details", "outcome")
    column_filters = ("status", "kind", "role", "due_at")
    column_searchable_list = ("title",)
    column_default_sort = [("due_at", False), ("id", False)]
    form_columns = ("status", "outcome")

    def get_query(self):
        query = super().get_query()
        if not g.user.has_role("admin"):
            query = query.filter(Task.role.in_(sorted(g.user.role_set)))
        return query

    def get_count_query(self):
        count = super().get_count_query()
        if not g.user.has_role("admin"):
            count = count.filter(Task.role.in_(sorted(g.user.role_set)))
        return count

    def on_model_change(self, form, model: Task, is_created: bool) -> None:
        if model.status != TaskStatus.OPEN and model.done_at is None:
            model.done_at = utcnow()
            model.assigned_to_id = g.user.id

    @action("done", _l("Mark done"), _l("Mark the selected tasks as done?"))
    def action_done(self, ids):
        tasks = self.get_query().filter(Task.id.in_(self.record_ids(ids))).all()
        for t in tasks:
            t.status, t.done_at, t.assigned_to_id = TaskStatus.DONE, utcnow(), g.user.id
        audit.record(db.session, action="bulk_done", entity="task",
                     changes={"ids": [t.id for t in tasks]})
        db.session.commit()
        flash(gettext("%(n)d tasks done.", n=len(tasks)), "success")

