"""A record's page: its row and the names of what it points to, labels built once per language.

Flask-Admin's details view loads the record with every column of each related row, renders
each field through a Jinja macro and a lazy translation, and builds its links with url_for.
This page keeps its HTML and script; it reads only what it shows and renders the fields in one
Python pass.
"""

import sqlalchemy as sa
from flask import flash, redirect, request
from flask_admin import expose
from flask_admin.babel import gettext as admin_gettext
from flask_admin.contrib.sqla import ModelView
from flask_admin.helpers import get_redirect_target
from flask_admin.model.helpers import get_mdict_item_or_list
from flask_babel import get_locale
from markupsafe import Markup, escape
from sqlalchemy.orm import joinedload

from backoffice.admin.fastlist.rows import label_columns, plain_record
from backoffice.admin.urls import endpoint_url, parse_id
from backoffice.db import db


class RecordPageMixin:
    """Serve a record's page from one statement that reads only what the page shows."""

    details_template = "admin/fastlist/details.html"

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
        if not self.plain_rows:
            return None
        if "_plain_record_parts" not in self.__dict__:
            self.__dict__["_plain_record_parts"] = plain_record(self.model,
                                                                self._details_columns)
        return self.__dict__["_plain_record_parts"]

    def _narrows_query(self) -> bool:
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
