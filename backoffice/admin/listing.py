"""What every list of the panel keeps, plain Flask-Admin or fast (backoffice.admin.fastlist).

Stored labels read in the reader's language, a page beyond the last shows the last page, and a
CSV export streams, is audited and opens safely in a spreadsheet. Only public Flask-Admin hooks
are used here: the private ones live in the fastlist room.
"""

import datetime
import enum
import re
from math import ceil

from flask import g, request
from flask_admin import expose
from flask_admin.model import typefmt
from flask_babel import get_translations, gettext
from markupsafe import Markup, escape

from backoffice import audit
from backoffice.db import db
from backoffice.wording import local_time, number, spreadsheet_csv

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?")
EXPORT_BATCH = 1000


def neutralise(value) -> str:
    """Make a CSV cell safe to open in a spreadsheet: formulas become text, numbers stay numbers."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def label(text: str) -> str:
    """Translate a stored label (an enum value, a skill) once per request, not once per row."""
    # Keyed by language too: nothing worded is kept across languages (#18).
    from flask_babel import get_locale

    memo = g.setdefault("_labels", {})
    key = (str(get_locale()), text)
    if key not in memo:
        memo[key] = get_translations().ugettext(text)
    return memo[key]


def _enum_label(view, value, name=None):
    return label(value.value)


def _time_label(view, value, name=None):
    return value.strftime("%H:%M")


# Moments stored as the wall clock where they happen (a service's start), not in UTC.
WALL_CLOCK_COLUMNS = frozenset({"start_at", "end_at", "scheduled_at", "service_date"})


def _datetime_label(view, value, name=None):
    if (name or "").rsplit(".", 1)[-1] in WALL_CLOCK_COLUMNS:
        return value.strftime("%d/%m/%Y %H:%M")
    return local_time(value, "%d/%m/%Y %H:%M")  # stored UTC, read on the team's clock


def _date_label(view, value, name=None):
    return value.strftime("%d/%m/%Y")


def _bool_label(view, value, name=None):
    # Flask-Admin's icon is titled "call_task: false"; this one says yes or no.
    fa, word = ("fa-check-circle", gettext("yes")) if value else ("fa-minus-circle", gettext("no"))
    return Markup(f'<span class="fa {fa}" title="{escape(word)}" aria-label="{escape(word)}">'
                  "</span>")


TYPE_FORMATTERS = {
    **typefmt.BASE_FORMATTERS,
    bool: _bool_label,
    enum.Enum: _enum_label,
    datetime.datetime: _datetime_label,
    datetime.date: _date_label,
    datetime.time: _time_label,
}
EXPORT_TYPE_FORMATTERS = {**typefmt.EXPORT_FORMATTERS,
                          enum.Enum: lambda view, value, name=None: value.value}


def export_label(kind: str) -> str:
    """Name an export format for the menu."""
    return {"csv": gettext("for a spreadsheet (CSV)"),
            "machine": gettext("machine CSV (comma, cents, codes)")}.get(kind, kind.upper())


def last_page(count: int, page_size: int) -> int:
    """Return the number (from 0) of the last page of count rows."""
    return max(ceil(count / page_size) - 1, 0)


class PanelListMixin:
    """The rules above, for a Flask-Admin SQLAlchemy ModelView."""

    list_template = "admin/plain_list.html"  # Flask-Admin's, each row's cells on one line
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS
    column_type_formatters_export = EXPORT_TYPE_FORMATTERS
    # "csv": for the reader's spreadsheet (Spanish: semicolons, decimal commas, a BOM, euros,
    # codes named); "machine": comma, cents and stored codes, as the CLI writes (#18.4).
    export_types = ("csv", "machine")

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True,
                 page_size=None):
        """Return the count and rows as Flask-Admin does; with page_size 0 (an export's every
        row) the rows come as a stream, and a page beyond the last gives the last page."""
        if not execute:
            return super().get_list(page, sort_column, sort_desc, search, filters,
                                    execute=False, page_size=page_size)
        if page_size is not None and not page_size:
            count, query = super().get_list(page, sort_column, sort_desc, search, filters,
                                            execute=False, page_size=page_size)
            return count, self.export_rows(query)
        count, data = super().get_list(page, sort_column, sort_desc, search, filters,
                                       page_size=page_size)
        size = self.page_size if page_size is None else page_size
        if not data and page and count and size:
            # A stale link or a hand-edited number: the rows of the last page, not an empty list.
            count, data = super().get_list(last_page(count, size), sort_column, sort_desc,
                                           search, filters, page_size=page_size)
        return count, data

    def render(self, template, **kwargs):
        if template == self.list_template:
            count, size, page = kwargs["count"], kwargs["page_size"], kwargs["page"]
            if count and size and page:
                # get_list gave the last page for a page beyond it: the pager marks that one.
                kwargs["page"] = min(page, last_page(count, size))
            if isinstance(count, int) and count:
                kwargs["count"] = number(count)  # the list's tab: "Listado (1.905)"
            # Flask-Admin fixes filter names in English when the view is built; each reader
            # gets them through the catalogue (the active ones too, which the menu matches).
            if kwargs["filter_groups"]:
                kwargs["filter_groups"] = {gettext(str(name)): group
                                           for name, group in kwargs["filter_groups"].items()}
            if kwargs["active_filters"]:
                kwargs["active_filters"] = [(index, gettext(str(name)), value)
                                            for index, name, value in kwargs["active_filters"]]
        return super().render(template, **kwargs)

    def export_rows(self, query):
        """Yield a query's rows in batches, so an export's memory stays flat whatever its size."""
        # The list's many-to-one relations are joined already; a 2.0-style execute streams them
        # without the legacy Query's uniquing, which would hold every row.
        stmt = query.statement.execution_options(yield_per=EXPORT_BATCH, stream_results=True)
        for (row,) in db.session.execute(stmt):
            yield row

    def get_export_value(self, model, name) -> str:
        return neutralise(super().get_export_value(model, name))

    @expose("/export/<export_type>/")
    def export(self, export_type):
        if self.can_export and export_type in self.export_types:
            # The file leaves the panel with no other trace of who took which rows.
            audit.record(db.session, action="export", entity=self.model.__tablename__,
                         note=request.query_string.decode()[:500])
            db.session.commit()
        if export_type == "machine" and self.can_export:
            return self._export_machine()
        if export_type == "csv" and self.can_export:
            return self._export_spreadsheet()
        return super().export(export_type)

    def _export_spreadsheet(self):
        """Stream the list for a spreadsheet in the reader's language."""
        from flask import Response, stream_with_context
        from flask_babel import get_locale

        _count, data = self._export_data()
        columns = list(self._export_columns)

        def cells(row):
            for name, _label in columns:
                if "." in name:  # a related record's column, as the list reads it
                    yield self.get_export_value(row, name)
                    continue
                raw = getattr(row, name, None)
                if isinstance(raw, enum.Enum | str) and name in self._code_columns():
                    yield label(raw.value if isinstance(raw, enum.Enum) else raw)
                elif isinstance(raw, enum.Enum):
                    yield label(raw.value)
                elif isinstance(raw, datetime.datetime):
                    yield _datetime_label(self, raw, name)
                elif isinstance(raw, datetime.date):
                    yield raw.strftime("%d/%m/%Y")
                elif isinstance(raw, bool):
                    yield gettext("yes") if raw else gettext("no")
                elif isinstance(raw, int | float) and name.endswith("_cents"):
                    yield raw / 100  # euros: the writer puts the reader's decimal mark
                elif isinstance(raw, int | float):
                    yield raw
                elif name in (self.column_formatters or {}):
                    # What the list shows (a name, euros), as text.
                    shown = self.column_formatters[name](self, None, row, name)
                    yield Markup(shown).striptags() if isinstance(shown, Markup) else shown
                else:
                    yield self.get_export_value(row, name)

        titles = [str(lbl).replace(" (cents)", "") for _n, lbl in columns]
        body = spreadsheet_csv(titles, (cells(row) for row in data), str(get_locale()))
        name = self.get_export_name(export_type="csv")
        return Response(stream_with_context(body), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment;filename={name}"})

    def _export_machine(self):
        """Stream the list as programs read it: comma, column names, cents, stored codes."""
        import csv
        import io

        from flask import Response, stream_with_context

        _count, data = self._export_data()
        names = [name for name, _label in self._export_columns]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")

        def value(row, name):
            if "." in name:  # a related record's column
                return self.get_export_value(row, name)
            raw = getattr(row, name, None)
            if isinstance(raw, enum.Enum):
                return raw.value
            if isinstance(raw, datetime.datetime):
                return raw.isoformat(timespec="seconds")
            if isinstance(raw, datetime.date):
                return raw.isoformat()
            if raw is None or isinstance(raw, bool | int | float | str):
                return neutralise(raw)
            return self.get_export_value(row, name)

        def rows():
            for line in ([names], ([value(row, n) for n in names] for row in data)):
                for cells in line:
                    writer.writerow(cells)
                    text = buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
                    yield text

        name = self.get_export_name(export_type="csv")
        return Response(stream_with_context(rows()), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment;filename={name}"})

    def _code_columns(self) -> set[str]:
        """Return the columns holding stored codes (a skill, a decline reason): named."""
        return set(getattr(self, "column_code_list", ()))
