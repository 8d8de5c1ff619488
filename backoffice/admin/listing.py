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

from backoffice import audit
from backoffice.db import db

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


def last_page(count: int, page_size: int) -> int:
    """Return the number (from 0) of the last page of count rows."""
    return max(ceil(count / page_size) - 1, 0)


class PanelListMixin:
    """The rules above, for a Flask-Admin SQLAlchemy ModelView."""

    list_template = "admin/plain_list.html"  # Flask-Admin's, each row's cells on one line
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS
    column_type_formatters_export = EXPORT_TYPE_FORMATTERS

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
        return super().export(export_type)
