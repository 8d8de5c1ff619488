"""A fast list's data: capped counts, ids-first paging and a CSV export read from the columns."""

import csv
import datetime
import enum
import io
import json

import sqlalchemy as sa
from flask import Response, g, stream_with_context
from sqlalchemy.orm import aliased
from werkzeug.utils import secure_filename

from backoffice.admin.fastlist.counts import CappedCount
from backoffice.admin.fastlist.rows import PlainPage, table_column
from backoffice.admin.listing import EXPORT_BATCH, neutralise
from backoffice.db import db


class FastListMixin:
    """Paging, counts and CSV export for a Flask-Admin SQLAlchemy ModelView."""

    # A view whose list cells and record page read only the columns they show (its own, and
    # "relation.column" paths; a column formatter may read those too; a related row shown
    # whole by its one label column) and whose record_links read only columns sets this: its
    # rows are then plain values, not model instances, read by statements built once. No ORM
    # state is built for them, nor left behind for the garbage collector: about 700 objects a
    # list page.
    plain_rows = False

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

    def _plain_page(self) -> PlainPage | None:
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

    # --- export: read straight from the columns when the names allow it (PanelListMixin, under
    # this, audits the export and streams model rows for the rest).
    def _export_csv(self, return_url):
        view_args = self._get_list_extra_args()
        sort = self._get_column_by_idx(view_args.sort)
        _, query = super().get_list(
            0, sort[0] if sort else None, view_args.sort_desc, view_args.search,
            view_args.filters, execute=False, page_size=0,
        )
        columns = self._export_columns
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
                yield [self.get_export_value(row, n) for n in names]
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


def _unique(rows) -> list:
    """Drop repeated rows (a join on a to-many relation repeats them), keeping the order."""
    seen, out = set(), []
    for row in rows:
        if id(row) not in seen:
            seen.add(id(row))
            out.append(row)
    return out
