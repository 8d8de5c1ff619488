"""Fast model lists: capped counts, ids-first paging, rows rendered in one pass, streamed CSV."""

import csv
import datetime
import enum
import io
import json
import re
from dataclasses import dataclass
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
    elif isinstance(value, datetime.datetime):
        return _moment(value)
    elif isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    return neutralise(value)


def _plain(value) -> str:
    return "" if value is None else str(value)


def _moment(value) -> str:
    """Write a date and time to the second, as the lists show it (no microseconds)."""
    return "" if value is None else value.isoformat(" ", "seconds")


def cell_writer(column):
    """Return the cheapest function that writes a column's values as export_cell would."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return export_cell
    # Dates, times and whole numbers cannot start with a formula sign; floats only with "-".
    if python_type is datetime.datetime:
        return _moment
    if python_type in (int, datetime.date, datetime.time):
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
        plain = self._plain_page()
        order = self._plain_order(sort_column, sort_desc) if plain is not None else None
        if order is not None:
            # The ids came in list order; the same sort puts their rows in it again.
            stmt = (plain.select.select_from(plain.tables.join(ids, plain.pk == ids.c.id))
                    .order_by(*order))
            if count is None:
                return [plain.make_row(r) for r in db.session.execute(stmt)], None
            found = db.session.execute(stmt.add_columns(count.column())).all()
            return [plain.make_row(r) for r in found], (found[0][-1] if found else None)
        model = self.model
        query = self.get_query().join(ids, model.id == ids.c.id)
        for option in self._relation_loads():
            query = query.options(option)
        query, _ = self._apply_sorting(query, {}, sort_column, sort_desc)
        if count is None:
            return _unique(query.all()), None
        found = query.add_columns(count.column()).all()
        return _unique(row for row, _ in found), (found[0][1] if found else None)

    # A view whose list cells and record page read only the columns they show (its own, and
    # "relation.column" paths; a column formatter may read those too; a related row shown
    # whole by its one label column) and whose record_links read only columns sets this: its
    # rows are then plain values, not model instances, read by statements built once. No ORM
    # state is built for them, nor left behind for the garbage collector: about 700 objects a
    # list page.
    plain_rows = False

    def _plain_page(self) -> "PlainPage | None":
        """Return the statement parts and row maker for plain list rows, or None."""
        if not self.plain_rows:
            return None
        cached = self.__dict__.get("_plain_page_parts")
        if cached is None:
            cached = self.__dict__["_plain_page_parts"] = PlainPage.build(self)
        return cached

    def _plain_order(self, sort_column, sort_desc) -> list | None:
        """Return the list's ORDER BY on table columns, or None if it sorts through a join."""
        cache = self.__dict__.setdefault("_plain_orders", {})
        key = (sort_column, bool(sort_desc))
        if key not in cache:
            if sort_column is None:
                fields = [(f, j, d) for f, j, d in self._get_default_order()]
            elif sort_column in self._sortable_columns:
                fields = [(self._sortable_columns[sort_column],
                           self._sortable_joins.get(sort_column), sort_desc)]
            else:  # Flask-Admin ignores an unknown sort column
                fields = []
            order = []
            for field, joins, desc in fields:
                column = table_column(field)
                if joins or column is None:
                    order = None
                    break
                order.append(column.desc() if desc else column)
            cache[key] = order
        return cache[key]

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

        formatters = {}  # by value type: the first type formatter that applies, or None

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
            kind = value.__class__
            try:
                type_fmt = formatters[kind]
            except KeyError:
                type_fmt = formatters[kind] = _type_formatter(column_type_formatters, kind)
            return value if type_fmt is None else type_fmt(self, value, name)

        return read

    def render_rows(self, data, list_columns, return_url: str, with_checkbox: bool) -> Markup:
        """Return the rows of a list page as HTML (one <tr> each), rendered in one pass."""
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
                '<button data-confirm="'
                f'{escape(admin_gettext("Are you sure you want to delete this record?"))}" '
                f'title="{escape(admin_gettext("Delete Record"))}"><span class="fa fa-trash '
                'glyphicon glyphicon-trash"></span></button></form>')
        buttons = " ".join(parts)
        head = ""
        if with_checkbox:
            head = (f'<td><input type="checkbox" name="rowid" class="action-checkbox" value="{PK}" '
                    f'title="{escape(admin_gettext("Select record"))}" /></td>')
        if self.column_display_actions:
            head += f'<td class="list-buttons-column">{buttons}</td>'
        head = head.split(PK)
        writers = [(f'<td class="{self._cell_class(c)}">', self._cell_writer(c))
                   for c, _name in list_columns]
        cells = []
        for row in data:
            cells.append("<tr>")
            cells.append(str(escape(str(self.get_pk_value(row)))).join(head))
            for td, write in writers:
                cells.append(td)
                cells.append(write(row))
                cells.append("</td>")
            cells.append("</tr>\n")
        return Markup("".join(cells))

    def _cell_class(self, name: str) -> str:
        """Return a cell's classes: dates, times and phone numbers are kept on one line."""
        attr = sa.inspect(self.model).column_attrs.get(name)
        column = attr.columns[0] if attr is not None else None
        kept = name == "phone" or (column is not None and isinstance(
            column.type, sa.Date | sa.DateTime | sa.Time))
        return f"col-{name} text-nowrap" if kept else f"col-{name}"

    def _cell_writer(self, name: str):
        """Return a function that writes one list cell's HTML (escaped) from a row."""
        read = self._cell_reader(name, self.column_formatters, self.column_type_formatters)

        def write(row) -> str:
            value = read(row)
            kind = value.__class__
            if kind is int or kind is Markup:  # digits need no escaping; Markup is HTML already
                return str(value)
            return escape(value)

        return write

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
        """Return the columns (and aliased joins) that read names straight from the database."""
        if self.column_formatters_export or self._column_choices_map:
            return None
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


def table_column(attr):
    """Return the table column behind a model's column attribute (or its property), or None
    for anything else."""
    prop = attr if isinstance(attr, sa.orm.ColumnProperty) else getattr(attr, "property", None)
    if isinstance(prop, sa.orm.ColumnProperty) and len(prop.columns) == 1:
        column = prop.columns[0]
        return column if isinstance(column, sa.Column) else None
    return None


def join_related(tables, rel) -> tuple:
    """Outer-join a many-to-one relation's table (aliased) to tables; return both."""
    alias = rel.mapper.local_table.alias()
    on = sa.and_(*(alias.c[remote.key] == local for local, remote in rel.local_remote_pairs))
    return tables.outerjoin(alias, on), alias


@dataclass(frozen=True)
class PlainPage:
    """A list's page statement on plain tables: its columns, its joins and a row maker."""

    select: sa.Select
    tables: sa.FromClause
    pk: sa.Column
    make_row: object

    @classmethod
    def build(cls, view) -> "PlainPage":
        model = view.model
        mapper = sa.inspect(model)
        table = mapper.local_table
        pk = mapper.primary_key[0]
        names = [pk.key] + [c for c, _ in view._list_columns if c != pk.key]
        columns, tables, aliases = [], table, {}
        own, related = [], {}
        for i, name in enumerate(names):
            rel_name, _, attr = name.rpartition(".")
            owner = mapper
            if rel_name:
                rel = mapper.relationships.get(rel_name)
                if rel is None or rel.uselist or "." in rel_name:
                    raise TypeError(f"{type(view).__name__}.plain_rows: {name} is not a "
                                    "column of a many-to-one relation")
                if rel_name not in aliases:
                    tables, aliases[rel_name] = join_related(tables, rel)
                owner = rel.mapper
                related.setdefault(rel_name, []).append((attr, i))
            else:
                own.append((name, i))
            column = table_column(owner.column_attrs.get(attr))
            if column is None:
                raise TypeError(f"{type(view).__name__}.plain_rows: the list shows {name}, "
                                "which is not a column; leave plain_rows off")
            columns.append(aliases[rel_name].c[column.key] if rel_name else column)

        def make_row(row) -> PlainRow:
            obj = PlainRow(**{n: row[i] for n, i in own})
            for rel_name, attrs in related.items():
                values = {a: row[i] for a, i in attrs}
                # An outer join that found nothing reads as no related row, as the ORM's None.
                setattr(obj, rel_name, PlainRow(**values)
                        if any(v is not None for v in values.values()) else None)
            return obj

        return cls(sa.select(*columns), tables, pk, make_row)


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
