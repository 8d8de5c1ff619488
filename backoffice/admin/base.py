"""What every panel view inherits: role access, CSRF forms, audit history, conflicts, fast lists."""

import csv
import datetime
import enum
import io

import sqlalchemy as sa
from flask import Response, abort, flash, g, redirect, request, stream_with_context, url_for
from flask_admin import BaseView
from flask_admin.contrib.sqla import ModelView
from flask_admin.model import typefmt
from flask_admin.model.helpers import prettify_name
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.utils import secure_filename
from wtforms import HiddenField
from wtforms.fields.core import UnboundField

from backoffice import audit
from backoffice.db import db

# Above this many rows an exact count(*) costs more than the page itself; we show "N+".
COUNT_CAP = 10_000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """Make a CSV cell safe to open in a spreadsheet: formulas become text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def commit_or_flash(fn, success: str) -> bool:
    """Run a service call; commit and flash success, or roll back and flash its message."""
    try:
        fn()
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return False
    db.session.commit()
    flash(success, "success")
    return True


class SecureForm(FlaskForm):
    """Flask-WTF form: every Flask-Admin form and action carries the CSRF token."""


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


def _enum_label(view, value, name=None):
    return gettext(value.value)


def _time_label(view, value, name=None):
    return value.strftime("%H:%M")


def _datetime_label(view, value, name=None):
    return value.strftime("%Y-%m-%d %H:%M")


TYPE_FORMATTERS = {
    **typefmt.BASE_FORMATTERS,
    enum.Enum: _enum_label,
    datetime.datetime: _datetime_label,
    datetime.time: _time_label,
}
EXPORT_TYPE_FORMATTERS = {**typefmt.EXPORT_FORMATTERS, enum.Enum: lambda v, value, n=None:
                          value.value}


class SecureModelView(RoleAccess, ModelView):
    form_base_class = SecureForm
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS
    column_type_formatters_export = EXPORT_TYPE_FORMATTERS
    page_size = 20
    can_set_page_size = True
    page_size_options = (20, 50, 100)
    can_view_details = True
    can_export = True
    export_max_rows = 0  # all rows: the export streams
    details_template = "admin/details_with_history.html"
    list_template = "admin/fast_list.html"
    column_display_pk = True
    named_filter_urls = True
    # Flask-Admin shows these from the model; the audit trail and the version are not for editing.
    form_excluded_columns = ("created_at", "updated_at", "version")

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

    # --- conflicts: the second of two agents editing a record gets a message, not an overwrite
    def _versioned(self) -> bool:
        return hasattr(self.model, "version")

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if self._versioned():
            if request.method != "POST" and obj is not None:
                form.loaded_version.data = str(obj.version)
        return form

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

    def get_column_name(self, field):
        return gettext(super().get_column_name(field))

    def scaffold_form(self):
        form_class = super().scaffold_form()
        # Labels Flask-Admin derives from column names go through the catalogue too.
        for name in dir(form_class):
            unbound = getattr(form_class, name, None)
            if (isinstance(unbound, UnboundField) and not unbound.args
                    and not unbound.kwargs.get("label")):
                unbound.kwargs["label"] = lazy_gettext(prettify_name(name))
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
        who = f"{last.actor} at {last.at:%H:%M:%S} UTC" if last else gettext("someone else")
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
        return super().handle_view_exception(exc)

    # --- fast lists: capped counts, ids first then rows (deep pages stay index-only)
    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True,
                 page_size=None):
        self._count_filtered = bool(search) or bool(filters)
        count, query = super().get_list(page, sort_column, sort_desc, search, filters,
                                        execute=False, page_size=page_size)
        if not execute:
            return count, query
        ids = [row[0] for row in query.with_entities(self.model.id)]
        if not ids:
            return count, []
        rows = self.load_rows(ids)
        by_id = {r.id: r for r in rows}
        return count, [by_id[i] for i in ids if i in by_id]

    def load_rows(self, ids: list[int]) -> list:
        """Load the rows of one page, with what the list shows of their relations."""
        query = self.get_query().filter(self.model.id.in_(ids))
        for j in self._relations():
            query = query.options(sa.orm.selectinload(j))
        return query.all()

    def _relations(self) -> list:
        return [getattr(self.model, j) if isinstance(j, str) else j for j in self._auto_joins]

    def get_count_query(self):
        return _CappedCount(self)

    # --- export: streamed, flat memory, formulas neutralised
    def _export_csv(self, return_url):
        view_args = self._get_list_extra_args()
        sort = self._get_column_by_idx(view_args.sort)
        _, query = super().get_list(
            0, sort[0] if sort else None, view_args.sort_desc, view_args.search,
            view_args.filters, execute=False, page_size=0,
        )
        columns = self._export_columns
        audit.record(db.session, action="export", entity=self.model.__tablename__,
                     note=request.query_string.decode()[:500])
        db.session.commit()
        rows = self.export_rows(query)

        def generate():
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow([str(c[1]) for c in columns])
            for i, row in enumerate(rows):
                writer.writerow([neutralise(self.get_export_value(row, c[0])) for c in columns])
                if i % 500 == 0:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue()

        filename = secure_filename(self.get_export_name(export_type="csv"))
        return Response(stream_with_context(generate()), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment;filename={filename}"})

    def export_rows(self, query):
        """Yield ORM rows in batches so memory stays flat whatever the row count."""
        # Flask-Admin already joined the many-to-one relations the list shows; a 2.0-style
        # execute streams them without the legacy Query's uniquing.
        stmt = query.statement.execution_options(yield_per=1000, stream_results=True)
        for (row,) in db.session.execute(stmt):
            yield row

    # --- details page: the audit history of the record, and links to related work
    def record_links(self, model) -> list[tuple[str, str]]:
        """Return (label, url) buttons shown on a record's page."""
        return []

    def audit_history(self, model) -> list:
        return audit.history(db.session, model.__tablename__, model.id)

    def on_model_delete(self, model):
        if not self.can_write():
            abort(403)


class _CappedCount:
    """Stands in for Flask-Admin's count query: exact up to COUNT_CAP, estimated beyond."""

    def __init__(self, view: SecureModelView):
        self.view = view
        self.query = db.session.query(view.model.id)

    # Flask-Admin applies joins and filters to the count query with these calls.
    def join(self, *args, **kwargs):
        self.query = self.query.join(*args, **kwargs)
        return self

    def outerjoin(self, *args, **kwargs):
        self.query = self.query.outerjoin(*args, **kwargs)
        return self

    def filter(self, *args, **kwargs):
        self.query = self.query.filter(*args, **kwargs)
        return self

    def where(self, *args):
        return self.filter(*args)

    def scalar(self) -> int:
        session: Session = db.session
        if not getattr(self.view, "_count_filtered", False):
            estimate = table_estimate(session, self.view.model.__table__.name)
            if estimate is not None and estimate > COUNT_CAP:
                self.view._count_is_estimate = True
                return estimate
        capped = self.query.limit(COUNT_CAP + 1).subquery()
        count = session.scalar(sa.select(sa.func.count()).select_from(capped))
        self.view._count_is_estimate = count > COUNT_CAP
        return count


def table_estimate(session: Session, table: str) -> int | None:
    """Return PostgreSQL's row estimate for a table (None elsewhere or when never analysed)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    value = session.scalar(
        sa.text("SELECT reltuples::bigint FROM pg_class WHERE relname = :t"), {"t": table}
    )
    return int(value) if value and value > 0 else None
