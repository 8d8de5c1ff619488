"""The panel's fast list and record pages: the one room that reaches into Flask-Admin's internals.

A list that must stay fast on a large table opts in by putting FastListView before
SecureModelView; every other view is plain Flask-Admin configuration. What it does, by file:

    listing.py  paging by ids first with the count read beside the rows; CSV from the columns
    counts.py   the count capped at 10,000, or PostgreSQL's estimate for a large unfiltered table
    rows.py     plain rows: a page or a record read as column values, no ORM objects
    cells.py    cells resolved once per column and rows rendered in one Python pass
    page.py     the list page (templates/admin/fastlist/list.html): chrome built once per
                language and role set, links without url_for
    record.py   the record page (templates/admin/fastlist/details.html) from one statement

Every private Flask-Admin name and copied template it relies on is listed in
tests/backoffice/test_fastlist_room.py, which fails naming the one an upgrade changed.
"""

from backoffice.admin.fastlist.cells import CellsMixin
from backoffice.admin.fastlist.counts import CappedCount
from backoffice.admin.fastlist.listing import FastListMixin
from backoffice.admin.fastlist.page import ListPageMixin
from backoffice.admin.fastlist.record import RecordPageMixin

# CappedCount is public for a view's own search, which may state its exact count (known).
__all__ = ["CappedCount", "FastListView"]


class FastListView(RecordPageMixin, ListPageMixin, CellsMixin, FastListMixin):
    """Mixin: serve this SecureModelView's list, record page and CSV export the fast way.

    Set plain_rows = True when every list cell and record field reads a column (its own or a
    many-to-one relation's): rows are then read as plain values, with no ORM objects.
    """
