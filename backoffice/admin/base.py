"""What every panel view inherits: role access, CSRF forms, audit history, conflicts, list rules."""


import sqlalchemy as sa
from flask import abort, flash, g, redirect, request, url_for
from flask_admin import BaseView
from flask_admin.actions import action
from flask_admin.babel import lazy_gettext as admin_lazy_gettext
from flask_admin.contrib.sqla import ModelView
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlalchemy.orm.exc import StaleDataError
from wtforms import FieldList, FormField, HiddenField
from wtforms.validators import ValidationError

from backoffice import audit
from backoffice.admin.filters import FilterConverter
from backoffice.admin.forms import ModelConverter
from backoffice.admin.listing import PanelListMixin
from backoffice.admin.urls import parse_id
from backoffice.db import db
from backoffice.guards import failure_message, log_failure
from backoffice.i18n import refusal_text as refusal
from backoffice.wording import audit_field, audit_value, audit_verb, local_time


def commit_or_flash(fn, success, category: str = "success") -> bool:
    """Run a service call; commit and flash success, or roll back and flash its refusal.

    success is the message, or a function of the call's result that words it."""
    try:
        result = fn()
    except ValueError as exc:
        db.session.rollback()
        flash(refusal(exc), "error")
        return False
    db.session.commit()
    flash(success(result) if callable(success) else success, category)
    return True


# Deeper than any list a person pages through, small enough for any database's OFFSET.
MAX_PAGE = 10_000_000


class SecureForm(FlaskForm):
    """Flask-WTF form: every Flask-Admin form and action carries the CSRF token."""

    def __init__(self, *args, **kwargs):
        # The record being edited, as Flask-Admin's own form keeps it: its Unique validator
        # tells the record's own value from another record's by it.
        self._obj = kwargs.get("obj")
        super().__init__(*args, **kwargs)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        # PostgreSQL refuses a NUL in any text: say so at the field, before a save could fail.
        for field in _leaf_fields(self):
            if isinstance(field.data, str) and "\x00" in field.data:
                field.errors = [*field.errors, gettext(
                    "Contains a character that cannot be stored (NUL); remove it.")]
                ok = False
        return ok


def _leaf_fields(fields):
    """Yield the fields of a form, those of its inline lists (shifts, time off) included."""
    for field in fields:
        if isinstance(field, FieldList):
            yield from _leaf_fields(field.entries)
        elif isinstance(field, FormField):
            yield from _leaf_fields(field.form)
        else:
            yield field


class RoleAccess:
    """Mixin: who may open a view (allowed_roles) and who may change through it (write_roles)."""

    allowed_roles: frozenset[str] = frozenset()
    write_roles: frozenset[str] | None = None  # None: the same as allowed_roles

    def is_accessible(self) -> bool:
        user = g.get("user")
        return user is not None and user.has_role("admin", *self.allowed_roles)

    def can_write(self) -> bool:
        user = g.get("user")
        roles = self.allowed_roles if self.write_roles is None else self.write_roles
        return user is not None and user.has_role("admin", *roles)

    def inaccessible_callback(self, name, **kwargs):
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path))
        abort(403)


class SecureView(RoleAccess, BaseView):
    """A custom panel page (not a model list) with role-based access."""


class SecureModelView(RoleAccess, PanelListMixin, ModelView):
    form_base_class = SecureForm
    model_form_converter = ModelConverter  # labels in the reader's language, enum options
    filter_converter = FilterConverter()  # enum filters read what their menu offers
    page_size = 20
    can_set_page_size = True
    page_size_options = (20, 50, 100)
    can_view_details = True
    can_export = True
    export_max_rows = 0  # all rows: the export streams
    details_template = "admin/details_with_history.html"
    column_display_pk = True
    named_filter_urls = True
    # Flask-Admin shows these from the model; the audit trail and the version are not for editing.
    form_excluded_columns = ("created_at", "updated_at", "version")

    def __init__(self, *args, **kwargs):
        from flask_babel import force_locale

        # Names Flask-Admin fixes as text while building the view are kept in English, the
        # msgids, and worded per page (get_filters).
        with force_locale("en"):
            super().__init__(*args, **kwargs)

    # Writes are allowed only to write roles; reads follow allowed_roles.
    @property
    def can_create(self):
        return self.can_write() and self._can_create

    @property
    def can_edit(self):
        return self.can_write() and self._can_edit

    @property
    def can_delete(self):
        return self.can_write() and self._can_delete

    _can_create = True
    _can_edit = True
    _can_delete = True

    # What a bulk action says when it is done, and to a role that may not write (a view's own).
    bulk_done_message = "%(n)d records updated."
    bulk_forbidden_message = "Your role cannot change these records."

    def bulk_change(self, ids, name: str, change) -> None:
        """Apply change to each selected record; refusals are listed by id, the rest commit."""
        if not self.can_write():
            flash(gettext(self.bulk_forbidden_message), "error")
            return
        rows = db.session.query(self.model).filter(
            self.model.id.in_(self.record_ids(ids))).order_by(self.model.id).all()
        done, refused = [], []
        for row in rows:
            try:
                with db.session.begin_nested():  # a refusal midway leaves this one untouched
                    change(row)
                done.append(row.id)
            except ValueError as exc:  # this one cannot change so; the others still do
                refused.append(f"#{row.id}: {refusal(exc)}")
        audit.record(db.session, action=f"bulk_{name}", entity=self.model.__tablename__,
                     changes={"ids": done})
        db.session.commit()
        flash(gettext(self.bulk_done_message, n=len(done)), "success")
        for message in refused[:10]:
            flash(message, "warning")

    def is_action_allowed(self, name: str) -> bool:
        # Every bulk action changes records: a read-only role neither sees nor runs them.
        return self.can_write() and super().is_action_allowed(name)

    # --- conflicts: the second of two agents editing a record gets a message, not an overwrite
    def _versioned(self) -> bool:
        return hasattr(self.model, "version")

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if self._versioned():
            if request.method != "POST" and obj is not None:
                form.loaded_version.data = str(obj.version)
        return form

    @staticmethod
    def record_ids(ids) -> list[int]:
        """Return the record ids a bulk action was given, leaving out what is no id."""
        return [n for n in map(parse_id, ids) if n is not None]

    def _get_list_extra_args(self):
        args = super()._get_list_extra_args()
        # A hand-edited ?page=-5 is the first page; ?page=99999999999999999999 would overflow
        # the database's OFFSET, so it is brought down to a page the list can reach.
        args.page = min(max(args.page or 0, 0), MAX_PAGE)
        return args

    @action("delete", admin_lazy_gettext("Delete"),
            admin_lazy_gettext("Are you sure you want to delete selected records?"))
    def action_delete(self, ids):
        # Flask-Admin compares the ids as text with an integer key, which PostgreSQL refuses.
        return super().action_delete(self.record_ids(ids))

    def get_filters(self):
        # Flask-Admin joins a related column's filter name ("Professional / Status") into plain
        # text when the view is built, in whatever language was current: named again per page.
        filters = super().get_filters()
        for flt in filters or ():
            if isinstance(flt.name, str) and " / " in flt.name:
                flt.name = _joined_name(flt.name.split(" / "))
        return filters

    def get_filter_arg(self, index, flt):
        """Name filters in URLs by column and operation, never by translated labels."""
        column = getattr(flt, "column", None)
        key = getattr(column, "key", None) or str(index)
        op = type(flt).__name__.lower().replace("filter", "")
        for prefix in ("datetime", "date", "time", "enum", "int", "float", "boolean", "choice"):
            if op.startswith(prefix) and op != prefix:
                op = op[len(prefix):]
                break
        return f"{key}_{op}"

    def search_placeholder(self):
        # The searched columns by their labels, in the reader's language.
        return ", ".join(str(self.get_column_name(str(getattr(c, "key", c))))
                         for c in self.column_searchable_list or ())

    def get_column_name(self, field):
        # Lazy: the name is read per page, in the language of whoever reads it.
        return lazy_gettext(super().get_column_name(field))

    def scaffold_form(self):
        form_class = super().scaffold_form()
        if self._versioned():
            form_class.loaded_version = HiddenField()
        return form_class

    def update_model(self, form, model) -> bool:
        if self._versioned():
            loaded = form.loaded_version.data
            if loaded and loaded != str(model.version):
                self._flash_conflict(model)
                return False
            del form.loaded_version
        return super().update_model(form, model)

    def _flash_conflict(self, model) -> None:
        last = db.session.scalar(
            sa.select(audit.AuditEvent)
            .where(audit.AuditEvent.entity == model.__tablename__,
                   audit.AuditEvent.entity_id == str(model.id))
            .order_by(audit.AuditEvent.id.desc())
            .limit(1)
        )
        who = (gettext("%(who)s at %(time)s", who=last.actor,
                       time=local_time(last.at, "%H:%M:%S")) if last else gettext("someone else"))
        flash(
            gettext(
                "Not saved: this record was changed by %(who)s while you were editing. "
                "Reload it to see their changes, then apply yours again.",
                who=who,
            ),
            "error",
        )

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, StaleDataError):
            flash(gettext("Not saved: this record was changed by someone else while you were "
                          "editing. Reload it and apply your changes again."), "error")
            return True
        if isinstance(exc, ValidationError):
            return super().handle_view_exception(exc)
        if isinstance(exc, ValueError) and not isinstance(exc, sa.exc.SQLAlchemyError):
            flash(refusal(exc), "error")  # a service's refusal: its reason, in words
            return True
        # Anything else (a database error) shows no SQL and no values: a reference to the log.
        ref = log_failure(exc)
        if isinstance(exc, sa.exc.IntegrityError):
            flash(gettext("Not saved: other records depend on this one or it repeats one that "
                          "exists (reference %(ref)s).", ref=ref), "error")
        else:
            flash(failure_message(ref), "error")
        return True

    def get_one(self, id):
        # A hand-edited or stale link (?id=abc) is "record does not exist", not a server error.
        # The rows a view hides from a role (get_query) stay hidden here too.
        number = parse_id(id)
        if number is None:
            return None
        pk = sa.inspect(self.model).primary_key[0]
        return self.get_query().filter(pk == number).one_or_none()

    # --- details page: the audit history of the record, and links to related work
    def record_links(self, model) -> list[tuple[str, str]]:
        """Return (label, url) buttons shown on a record's page."""
        return []

    def render_history(self, model) -> Markup:
        """Return the record's audit rows, oldest first, as the history table's body."""
        events = getattr(model, "audit_history", None)  # a plain record brings its own
        if events is None:
            events = audit.history(db.session, self.model.__tablename__, model.id)
        rows = [_history_row(ev) for ev in events]
        if not rows:
            rows = [f'<tr><td colspan="4" class="text-muted">'
                    f'{escape(gettext("No recorded changes."))}</td></tr>']
        return Markup("".join(rows))

    def on_model_delete(self, model):
        if not self.can_write():
            abort(403)


def _joined_name(parts: list[str]):
    from flask_babel import LazyString

    return LazyString(lambda: " / ".join(gettext(p) for p in parts))


# Changes kept for the machine: a task's message keys repeat its title and details.
HIDDEN_CHANGES = frozenset({"message", "version", "updated_at", "dedup_key", "password_hash",
                            "totp_secret", "totp_recovery_hashes"})


def _new(pair):
    return pair[1] if isinstance(pair, list | tuple) and len(pair) == 2 else pair


def render_changes(changes) -> Markup:
    """Return an audit row's changes as a list: each field, from what to what."""
    if not changes:
        return Markup("")
    if not isinstance(changes, dict):
        return escape(changes)
    items = []
    hidden = HIDDEN_CHANGES
    if _new(changes.get("message")):  # a task worded per reader: its stored text repeats it
        hidden = hidden | {"title", "details"}
    for field, pair in changes.items():
        if field in hidden:
            continue
        if isinstance(pair, list | tuple) and len(pair) == 2:
            shown = (f"{_or_dash(audit_value(pair[0], field))} &rarr; "
                     f"{_or_dash(audit_value(pair[1], field))}")
        else:
            shown = _or_dash(audit_value(pair, field))
        items.append(f"<li>{escape(audit_field(field))}: {shown}</li>")
    return Markup(f'<ul class="list-unstyled mb-0">{"".join(items)}</ul>')


def _history_row(ev) -> str:
    changes = render_changes(ev.changes)
    note = f'<div class="text-muted">{escape(ev.note)}</div>' if ev.note else ""
    return (f'<tr><td class="text-nowrap">{local_time(ev.at, "%d/%m/%Y %H:%M:%S")}</td>'
            f"<td>{escape(ev.actor)}</td><td>{escape(audit_verb(ev.action))}</td>"
            f"<td>{changes}{note}</td></tr>")


def _or_dash(value) -> str:
    return "—" if value is None else str(escape(value))
