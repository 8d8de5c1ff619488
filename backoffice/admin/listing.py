"""Fast model lists: capped counts, ids-first paging, rows rendered in one pass, streamed CSV."""

import csv
import datetime
import enum
import io
import json
import re
from types import SimpleNamespace

import sqlalchemy as sa
from flask import Response, g, request, stream_with_context
from flask_admin.babel import gettext as admin_gettext
from flask_admin.model import typefmt
from flask_babel import get_translations
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy.orm import aliased
from werkzeug.utils import secure_filename

from backoffice import audit
from backoffice.admin.counts import CappedCount
from backoffice.admin.urls import endpoint_url, query_string
from backoffice.db import db

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_BATCH = 1000
PK = "\x00pk\x00"  # where each row's primary key goes in the shared row HTML


NUMBER = re.compile(r"-?\d+(\.\d+)?")


def neutralise(value) -> str:
    """Make a CSV cell safe to open in a spreadsheet: formulas become text, numbers stay numbers."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def label(text: str) -> str:
    """Translate a stored label (an enum value, a skill) once per request, not once per row."""
    memo = g.setdefault("_labels", {})
    if text not in memo:
        memo[text] = get_translations().ugettext(text)
    return memo[text]


def _enum_label(view, value, name=None):
    return label(value.value)


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
EXPORT_TYPE_FORMATTERS = {**typefmt.EXPORT_FORMATTERS,
                          enum.Enum: lambda view, value, name=None: value.value}


def export_cell(value) -> str:
    """Format one exported value as the ORM path would (EXPORT_TYPE_FORMATTERS, then str)."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        value = value.value
    elif isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    return neutralise(value)


def _plain(value) -> str:
    return "" if value is None else str(value)


def cell_writer(column):
    """Return the cheapest function that writes a column's values as export_cell would."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return export_cell
    # Dates, times and whole numbers cannot start with a formula sign; floats only with "-".
    if python_type in (int, datetime.date, datetime.datetime, datetime.time):
        return _plain
    return export_cell


class FastListMixin:
    """List pages, counts and CSV export for a Flask-Admin SQLAlchemy ModelView."""

    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS
    column_type_formatters_export = EXPORT_TYPE_FORMATTERS

    # --- paging: one statement reads the page's ids (index-only, however deep), their rows
    # with the relations the list shows, and the capped count beside them.
    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True,
                 page_size=None):
        g.count_filtered = bool(search) or bool(filters)
        count, query = super().get_list(page, sort_column, sort_desc, search, filters,
                                        execute=False, page_size=page_size)
        if count is None:  # simple_list_pager: no count, a previous/next pager
            if not execute:
                return None, query
            rows, _ = self.load_page(query.with_entities(self.model.id).subquery(),
                                     sort_column, sort_desc, None)
            return None, rows
        if not execute:
            return count.run(), query
        shown = count.estimate()
        rows, exact = self.load_page(query.with_entities(self.model.id).subquery(),
                                     sort_column, sort_desc, None if shown else count)
        if shown is None:
            shown = count.shown(exact) if exact is not None else count.run()
        return shown, rows

    def load_page(self, ids, sort_column, sort_desc, count) -> tuple[list, int | None]:
        """Return the rows whose ids the subquery picks, in list order, and the count if asked."""
        model = self.model
        query = self.get_query().join(ids, model.id == ids.c.id)
        plain = self._plain_row_reader()
        if plain is None:
            for option in self._relation_loads():
                query = query.options(option)
        # The ids came in list order; the same sort puts their rows in it again.
        query, _ = self._apply_sorting(query, {}, sort_column, sort_desc)
        if plain is not None:
            select, joins, make_row = plain
            query = query.with_entities(*select)
            for alias, rel in joins:
                query = query.outerjoin(alias, rel.of_type(alias))
            if count is None:
                return [make_row(r) for r in query.all()], None
            found = query.add_columns(count.column()).all()
            return [make_row(r) for r in found], (found[0][-1] if found else None)
        if count is None:
            return _unique(query.all()), None
        found = query.add_columns(count.column()).all()
        return _unique(row for row, _ in found), (found[0][1] if found else None)

    # A view whose list cells read only the columns it shows (its own, and "relation.column"
    # paths; a column formatter may read those too) sets this: its rows are then plain values,
    # not model instances. No ORM state is built for them, nor left behind for the garbage
    # collector: about 700 objects a page.
    plain_list_rows = False

    def _plain_row_reader(self):
        """Return (columns, joins, make_row) for plain list rows, or None for model instances."""
        if not self.plain_list_rows:
            return None
        cached = self.__dict__.get("_plain_reader")
        if cached is not None:
            return cached
        pk = sa.inspect(self.model).primary_key[0].key
        names = [pk] + [c for c, _ in self._list_columns if c != pk]
        found = self._column_select(names)
        if found is None:
            raise TypeError(f"{type(self).__name__}.plain_list_rows: the list shows a value "
                            "that is not a column; leave plain_list_rows off")
        select, joins = found
        own = [(n, i) for i, n in enumerate(names) if "." not in n]
        related: dict[str, list] = {}
        for i, n in enumerate(names):
            if "." in n:
                rel, attr = n.split(".", 1)
                related.setdefault(rel, []).append((attr, i))

        def make_row(row) -> PlainRow:
            obj = PlainRow(**{n: row[i] for n, i in own})
            for rel, attrs in related.items():
                values = {a: row[i] for a, i in attrs}
                # An outer join that found nothing reads as no related row, as the ORM's None.
                setattr(obj, rel, PlainRow(**values)
                        if any(v is not None for v in values.values()) else None)
            return obj

        cached = self.__dict__["_plain_reader"] = (select, joins, make_row)
        return cached

    def _relation_loads(self) -> list:
        """Join the many-to-one relations the list shows, reading only the columns it shows.

        ("client.name" loads the client's name, not its thirty columns; a relation shown whole
        is loaded whole.)"""
        names = [c for c, _ in self._list_columns]
        options = []
        for j in self._auto_joins:
            rel = getattr(self.model, j) if isinstance(j, str) else j
            target = rel.property.mapper
            shown = [n.split(".", 1)[1] for n in names if n.startswith(rel.key + ".")]
            option = sa.orm.joinedload(rel)
            if shown and rel.key not in names and all(a in target.column_attrs for a in shown):
                option = option.load_only(*(getattr(target.class_, a) for a in shown))
            options.append(option)
        return options

    def get_count_query(self):
        return CappedCount(self.model, filtered=g.get("count_filtered", True))

    # --- rendering: Flask-Admin renders each cell through Jinja calls and scans every type
    # formatter with isinstance; a page of 20 rows x 11 columns spent most of its time there.
    def _get_list_value(self, context, model, name, column_formatters, column_type_formatters):
        return self._cell_reader(name, column_formatters, column_type_formatters)(model, context)

    def _cell_reader(self, name: str, column_formatters, column_type_formatters):
        """Return a function that reads one column's shown value from a row, resolved once."""
        column_fmt = column_formatters.get(name)
        choices_map = self._column_choices_map.get(name)
        path = name.split(".")

        def read(row, context=None):
            if column_fmt is not None:
                value = column_fmt(self, context, row, name)
            else:
                value = row
                for attr in path:  # flask_admin.tools.rec_getattr: None past a missing link
                    value = getattr(value, attr, None)
                    if value is None:
                        break
            if choices_map:
                return choices_map.get(value) or value
            type_fmt = _type_formatter(column_type_formatters, type(value))
            return value if type_fmt is None else type_fmt(self, value, name)

        return read

    def render_rows(self, data, list_columns, return_url: str, with_checkbox: bool) -> dict:
        """Return each row's cells as HTML, by primary key, rendered in one pass."""
        back = query_string({"url": return_url}) + "&id="
        details = endpoint_url(self, ".details_view") + back
        edit = endpoint_url(self, ".edit_view") + back
        parts = []
        if self.can_view_details:
            parts.append(f'<a class="icon" href="{escape(details)}{PK}" '
                         f'title="{escape(admin_gettext("View Record"))}"><span class="fa fa-eye '
                         'glyphicon glyphicon-eye-open"></span></a>')
        if self.can_edit:
            parts.append(f'<a class="icon" href="{escape(edit)}{PK}" '
                         f'title="{escape(admin_gettext("Edit Record"))}">'
                         '<span class="fa fa-pencil glyphicon glyphicon-pencil"></span></a>')
        if self.can_delete:
            delete = escape(endpoint_url(self, ".delete_view"))
            parts.append(
                f'<form class="icon" method="POST" action="{delete}">'
                f'<input name="id" type="hidden" value="{PK}">'
                f'<input name="url" type="hidden" value="{escape(return_url)}">'
                f'<input name="csrf_token" type="hidden" value="{escape(generate_csrf())}">'
                '<button onclick="return faHelpers.safeConfirm('
                f"'{escape(admin_gettext('Are you sure you want to delete this record?'))}');\" "
                f'title="{escape(admin_gettext("Delete Record"))}"><span class="fa fa-trash '
                'glyphicon glyphicon-trash"></span></button></form>')
        buttons = " ".join(parts)
        head = ""
        if with_checkbox:
            head = (f'<td><input type="checkbox" name="rowid" class="action-checkbox" value="{PK}" '
                    f'title="{escape(admin_gettext("Select record"))}" /></td>')
        if self.column_display_actions:
            head += f'<td class="list-buttons-column">{buttons}</td>'
        readers = [(f'<td class="col-{c}">', self._cell_reader(
            c, self.column_formatters, self.column_type_formatters)) for c, _name in list_columns]
        out = {}
        for row in data:
            pk = self.get_pk_value(row)
            cells = [head.replace(PK, escape(str(pk)))]
            for td, read in readers:
                cells.append(f"{td}{escape(read(row))}</td>")
            out[pk] = Markup("".join(cells))
        return out

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
        lines = self.export_values(query, [c[0] for c in columns])

        def generate():
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow([str(c[1]) for c in columns])
            for i, cells in enumerate(lines):
                writer.writerow(cells)
                if i % 500 == 0:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue()

        filename = secure_filename(self.get_export_name(export_type="csv"))
        return Response(stream_with_context(generate()), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment;filename={filename}"})

    def export_values(self, query, names: list[str]):
        """Yield the exported cells of every row, as plain columns when the names allow it."""
        columns = self._export_select(names)
        if columns is None:  # formatters or non-column values: go through the model objects
            for row in self.export_rows(query):
                yield [neutralise(self.get_export_value(row, n)) for n in names]
            return
        select, joins = columns
        query = query.enable_eagerloads(False).with_entities(*select)
        for alias, rel in joins:
            query = query.outerjoin(alias, rel.of_type(alias))
        stmt = query.statement.execution_options(yield_per=EXPORT_BATCH, stream_results=True)
        if db.session.get_bind().dialect.name == "postgresql":
            # A server-side cursor is planned for its first rows (cursor_tuple_fraction 0.1):
            # nested loops over the joins, far slower for a file that reads every row.
            db.session.execute(sa.text("SET LOCAL cursor_tuple_fraction = 1.0"))
        writers = [cell_writer(c) for c in select]
        for row in db.session.execute(stmt):
            yield [w(v) for w, v in zip(writers, row, strict=True)]

    def _export_select(self, names: list[str]):
        """Return the columns (and aliased joins) that export names straight from the database."""
        if self.column_formatters_export or self._column_choices_map:
            return None
        return self._column_select(names)

    def _column_select(self, names: list[str]):
        """Return the columns (and aliased joins) that read names, or None for a non-column."""
        mapper = sa.inspect(self.model)
        select, joins, aliases = [], [], {}
        for name in names:
            owner, attr = mapper, name
            target = self.model
            if "." in name:
                rel_name, attr = name.split(".", 1)
                rel = mapper.relationships.get(rel_name)
                if rel is None or rel.uselist or "." in attr:
                    return None
                if rel_name not in aliases:
                    aliases[rel_name] = aliased(rel.mapper.class_)
                    joins.append((aliases[rel_name], getattr(self.model, rel_name)))
                owner, target = rel.mapper, aliases[rel_name]
            if attr not in owner.column_attrs:
                return None
            select.append(getattr(target, attr))
        return select, joins

    def export_rows(self, query):
        """Yield ORM rows in batches so memory stays flat whatever the row count."""
        # Flask-Admin already joined the many-to-one relations the list shows; a 2.0-style
        # execute streams them without the legacy Query's uniquing.
        stmt = query.statement.execution_options(yield_per=EXPORT_BATCH, stream_results=True)
        for (row,) in db.session.execute(stmt):
            yield row


class PlainRow(SimpleNamespace):
    """A list row (or its related row) as plain attribute values."""


_FORMATTER_CACHE: dict[tuple[int, type], object] = {}


def _type_formatter(formatters: dict, kind: type):
    """Return the first formatter whose type the value is an instance of, cached per type."""
    key = (id(formatters), kind)
    if key not in _FORMATTER_CACHE:
        _FORMATTER_CACHE[key] = next(
            (fmt for typeobj, fmt in formatters.items() if issubclass(kind, typeobj)), None)
    return _FORMATTER_CACHE[key]


def _unique(rows) -> list:
    """Drop repeated rows (a join on a to-many relation repeats them), keeping the order."""
    seen, out = set(), []
    for row in rows:
        if id(row) not in seen:
            seen.add(id(row))
            out.append(row)
    return out
