"""A list's row count: exact up to COUNT_CAP, PostgreSQL's estimate for a large unfiltered table."""

import time

import sqlalchemy as sa
from flask_admin.babel import gettext as admin_gettext
from markupsafe import escape
from sqlalchemy.orm import Session

from backoffice.db import db

# Above this many rows an exact count(*) costs more than the page itself; we show "N+".
COUNT_CAP = 10_000
ESTIMATE_SECONDS = 60.0
_estimates: dict[tuple[str, str], tuple[float, int | None]] = {}


class ShownCount(int):
    """A list's row count as the tab shows it: "about 1,000,000" or "10,000+" when not exact."""

    def __new__(cls, value: int, *, approximate: bool = False, capped: bool = False):
        shown = super().__new__(cls, value)
        shown.approximate, shown.capped = approximate, capped
        return shown

    def __html__(self) -> str:
        from backoffice.wording import number as worded

        number = worded(int(self))  # 1.905 for a Spanish reader, 1,905 for an English one
        if self.capped:
            return escape(number + "+")
        return escape(admin_gettext("about %(n)s", n=number) if self.approximate else number)


class CappedCount:
    """Stands in for Flask-Admin's count query and defers it, so the page can fetch it too.

    Flask-Admin applies the list's joins and filters to it, then calls scalar(); that returns
    this object, and FastListMixin.get_list asks for the figure with the page's rows.
    """

    def __init__(self, model, *, filtered: bool):
        self.model, self.filtered = model, filtered
        self.query = db.session.query(model.id)
        # The exact figure when a criterion brought it (a search by client name sums the
        # matching clients' request counts); any later join or filter makes it unknown again.
        self.known: int | None = None

    # Flask-Admin applies joins and filters to the count query with these calls.
    def join(self, *args, **kwargs):
        self.query, self.known = self.query.join(*args, **kwargs), None
        return self

    def outerjoin(self, *args, **kwargs):
        self.query, self.known = self.query.outerjoin(*args, **kwargs), None
        return self

    def filter(self, *args, **kwargs):
        self.query, self.known = self.query.filter(*args, **kwargs), None
        return self

    def where(self, *args):
        return self.filter(*args)

    def scalar(self) -> "CappedCount":
        return self

    def estimate(self) -> ShownCount | None:
        """Return the figure when it takes no counting: the known one, or the table's estimate
        when no filter applies and the table is large."""
        if self.known is not None:
            return ShownCount(self.known)
        if self.filtered:
            return None
        estimate = table_estimate(db.session, self.model.__table__.name)
        if estimate is not None and estimate > COUNT_CAP:
            return ShownCount(estimate, approximate=True)
        return None

    def column(self):
        """Return the capped count as a scalar subquery, to read beside the page's rows."""
        capped = self.query.limit(COUNT_CAP + 1).subquery()
        return sa.select(sa.func.count()).select_from(capped).scalar_subquery()

    def shown(self, count: int) -> ShownCount:
        """Return count as the tab shows it: past the cap, "10,000+"."""
        if count > COUNT_CAP:
            return ShownCount(COUNT_CAP, capped=True)
        return ShownCount(count)

    def run(self) -> ShownCount:
        """Return the figure on its own (an empty page has no row to carry it)."""
        shown = self.estimate()
        return shown if shown is not None else self.shown(
            db.session.scalar(sa.select(self.column())))


def table_estimate(session: Session, table: str) -> int | None:
    """Return PostgreSQL's row estimate for a table (None elsewhere or when never analysed)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    # The figure changes only when autovacuum analyses the table: read it once a minute, not
    # once a page.
    key = (str(bind.engine.url), table)
    cached = _estimates.get(key)
    if cached is not None and time.monotonic() - cached[0] < ESTIMATE_SECONDS:
        return cached[1]
    value = session.scalar(
        sa.text("SELECT reltuples::bigint FROM pg_class WHERE relname = :t"), {"t": table}
    )
    estimate = int(value) if value and value > 0 else None
    _estimates[key] = (time.monotonic(), estimate)
    return estimate
