"""A record's page: its row and the names of what it points to, labels built once per language.

Flask-Admin's details view loads the record with every column of each related row, renders
each field through a Jinja macro and a lazy translation, and builds its links with url_for.
This page keeps its HTML and script; it reads only what it shows and renders the fields in one
Python pass.
"""

from collections import namedtuple

import sqlalchemy as sa
from flask import flash, redirect, request
from flask_admin import expose
from flask_admin.babel import gettext as admin_gettext
from flask_admin.helpers import get_redirect_target
from flask_admin.model.helpers import get_mdict_item_or_list
from flask_babel import get_locale
from markupsafe import Markup, escape
from sqlalchemy.orm import joinedload

from backoffice import audit
from backoffice.admin.listing import PlainRow, join_related, table_column
from backoffice.admin.urls import endpoint_url
from backoffice.db import db

HistoryEvent = namedtuple("HistoryEvent", "at actor action changes note")


class Label:
    """A related row on a plain record page, shown by its one label column."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __str__(self) -> str:
        return str(self.text)


def label_columns(model_class) -> tuple | None:
    """Return the columns a model's __str__ reads (its __label_columns__), or None for all."""
    names = getattr(model_class, "__label_columns__", None)
    return None if names is None else tuple(getattr(model_class, n) for n in names)


def parse_id(value) -> int | None:
    """Return a record id from a URL argument, or None when it is not one."""
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


class RecordPageMixin:
    """Serve a record's page from one statement that reads only what the page shows."""

    @expose("/details/")
    def details_view(self):
        if self.details_modal and request.args.get("modal"):
            return super().details_view()
        return_url = get_redirect_target() or endpoint_url(self, ".index_view")
        if not self.can_view_details:
            return redirect(return_url)
        id = get_mdict_item_or_list(request.args, "id")
        if id is None:
            return redirect(return_url)
        model = self.get_record(id)
        if model is None:
            flash(admin_gettext("Record does not exist."), "error")
            return redirect(return_url)
        return self.render(self.details_template, model=model,
                           details_columns=self._details_columns,
                           get_value=self.get_detail_value, return_url=return_url)

    def get_record(self, id):
        """Return the record for its page, with each related row shown by name reading only
        the columns its name needs; None when the id is not one of the view's rows."""
        number = parse_id(id)
        if number is None:
            return None
        plain = None if self._narrows_query() else self._plain_record()
        if plain is not None:
            stmt, make_row = plain
            rows = db.session.execute(stmt, {"record_id": number}).all()
            return make_row(rows) if rows else None
        # Through get_query: the rows a view hides from a role stay hidden on their page too.
        pk = sa.inspect(self.model).primary_key[0]
        return (self.get_query().options(*self._record_loads())
                .filter(pk == number).one_or_none())

    def _plain_record(self):
        """Return (statement, row maker) reading the record as plain columns, or None.

        Only for views that set plain_rows, and only when every field is a column or a
        many-to-one relation whose rows are named by one column."""
        if not getattr(self, "plain_rows", False):
            return None
        if "_plain_record_parts" not in self.__dict__:
            self.__dict__["_plain_record_parts"] = self._build_plain_record()
        return self.__dict__["_plain_record_parts"]

    def _build_plain_record(self):
        mapper = sa.inspect(self.model)
        table = mapper.local_table
        pk = mapper.primary_key[0]
        names = [pk.key] + [n for n, _ in self._details_columns if n != pk.key]
        columns, tables, own, related = [], table, [], []
        for i, name in enumerate(names):
            if not isinstance(name, str):
                return None
            if name in mapper.column_attrs:
                column = table_column(mapper.column_attrs[name])
                if column is None:
                    return None
                columns.append(column)
                own.append((name, i))
                continue
            rel = mapper.relationships.get(name)
            label = label_columns(rel.mapper.class_) if rel is not None else None
            if rel is None or rel.uselist or label is None or len(label) != 1:
                return None
            tables, alias = join_related(tables, rel)
            columns.append(alias.c[table_column(label[0]).key])
            related.append((name, i))

        # The record's audit history comes in the same statement, one row per event (the
        # record's columns repeated): one round trip for the whole page.
        events = audit.AuditEvent.__table__.alias()
        history = [events.c.at, events.c.actor, events.c.action, events.c.changes,
                   events.c.note]
        tables = tables.outerjoin(events, sa.and_(
            events.c.entity == table.name,
            events.c.entity_id == sa.cast(pk, events.c.entity_id.type)))
        first_event = len(columns)

        def make_row(rows) -> PlainRow:
            row = rows[0]
            obj = PlainRow(**{n: row[i] for n, i in own})
            for n, i in related:
                setattr(obj, n, None if row[i] is None else Label(row[i]))
            obj.audit_history = [HistoryEvent(*r[first_event:]) for r in rows
                                 if r[first_event] is not None]
            return obj

        stmt = (sa.select(*columns, *history).select_from(tables)
                .where(pk == sa.bindparam("record_id")).order_by(events.c.id))
        return stmt, make_row

    def _narrows_query(self) -> bool:
        from flask_admin.contrib.sqla import ModelView

        return type(self).get_query is not ModelView.get_query

    def _record_loads(self) -> list:
        """Join each many-to-one relation the page shows, reading only its label columns."""
        mapper = sa.inspect(self.model)
        options = []
        for name, _label in self._details_columns:
            rel = mapper.relationships.get(name) if isinstance(name, str) else None
            if rel is None or rel.uselist:
                continue
            option = joinedload(getattr(self.model, name))
            columns = label_columns(rel.mapper.class_)
            options.append(option if columns is None else option.load_only(*columns))
        return options

    def render_details(self, model, details_columns) -> Markup:
        """Return the rows of a record's details table as HTML, rendered in one pass."""
        cache = self.__dict__.setdefault("_details_cache", {})
        key = str(get_locale())
        fields = cache.get(key)
        if fields is None:
            fields = cache[key] = [
                (f"<tr><td><b>{escape(name)}</b></td><td>",
                 self._cell_reader(column, self.column_formatters_detail,
                                   self.column_type_formatters_detail))
                for column, name in details_columns]
        return Markup("".join(f"{head}{escape(read(model))}</td></tr>" for head, read in fields))
