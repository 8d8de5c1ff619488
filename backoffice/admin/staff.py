"""Staff users (admin only) and the audit log (read-only); team task queues are in
backoffice.admin.tasks, its TaskView named here where the panel mounts it."""

from flask import flash, g
from flask_admin.actions import action
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectMultipleField
from wtforms.validators import DataRequired, Email, Length, Optional

from backoffice import audit, notes, totp
from backoffice.admin.base import SecureModelView, render_changes
from backoffice.admin.fastlist import FastListView
from backoffice.admin.form_groups import Group, grouped
from backoffice.admin.forms import role_choices, role_label
from backoffice.admin.tasks import TaskView  # noqa: F401  (mounted by backoffice.admin)
from backoffice.auth import hash_password, revoke_sessions
from backoffice.db import db
from backoffice.i18n import LANGUAGE_NAMES
from backoffice.models import ROLES, StaffUser
from backoffice.wording import audit_field, audit_verb, local_time


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
    form_rules = grouped(Group(_l("Account"), "email", "name", "locale"),
                         Group(_l("Access"), "role_list", "active", "new_password"))
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
    # Verbs, record kinds and field names worded; times on the team's clock (#18).
    column_formatters = {"changes": lambda v, c, m, n: render_changes(m.changes),
                         "action": lambda v, c, m, n: audit_verb(m.action),
                         "entity": lambda v, c, m, n: audit_field(m.entity or ""),
                         "at": lambda v, c, m, n: local_time(m.at, "%d/%m/%Y %H:%M:%S"),
                         "note": lambda v, c, m, n: notes.shown(m.note)}
    column_formatters_export = {}  # the file keeps the changes as JSON
    column_labels = {"redacted_at": _l("Redacted at"), "at": _l("When"), "actor": _l("Who"),
                     "action": _l("Action"), "entity": _l("Record kind"),
                     "entity_id": _l("Record"), "changes": _l("Changes"), "note": _l("Note")}
