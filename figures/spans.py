"""The periods the page offers, each summed once per refresh (figure_span).

Summing a year of weekly histograms takes a second or more on a large desk; the refresh does
it once for each offered period ending at the current week, in one pass from the latest week
back, so a page view reads a few hundred rows with its percentiles already read. The sums and
percentiles are those report.summed gives over the same weekly rows, and the rankings those of
report.rank, so a stored period reads exactly as one summed on the fly.
"""

from collections import defaultdict
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from figures import report
from figures.models import FigureSpan, FigureWeek
from figures.rollup import Acc


def rebuild(session: Session, *, current: date, now: datetime) -> int:
    """Replace the stored periods by those ending at the week of current; return rows written."""
    starts = {n: current - timedelta(weeks=n - 1) for n in sorted(report.PERIODS)}
    rows = [*_summed(session, current, starts, now), *_ranked(session, current, starts, now)]
    session.execute(sa.delete(FigureSpan))
    if rows:
        session.execute(sa.insert(FigureSpan), rows)
    return len(rows)


def _row(current: date, weeks: int, metric: str, dim: str, key: str, fig: report.Figure,
         now: datetime, **extra) -> dict:
    return {"last_week": current, "weeks": weeks, "metric": metric, "dim": dim, "key": key,
            "n": fig.n, "hits": fig.hits, "total": fig.total, "total2": fig.total2,
            "p50": fig.p50, "p90": fig.p90, "rank_low": None, "rank_high": None,
            "refreshed_at": now, **extra}


def _summed(session: Session, current: date, starts: dict[int, date], now: datetime) -> list:
    """Rows of the dimensions the page's tables sum, each period's from its weeks."""
    t = FigureWeek.__table__.c
    weekly: dict[tuple, list] = defaultdict(list)
    for week, metric, dim, key, n, hits, total, total2, hist in session.execute(
            sa.select(t.week, t.metric, t.dim, t.key, t.n, t.hits, t.total, t.total2, t.hist)
            .where(t.week >= min(starts.values()), t.week <= current,
                   t.dim.in_(report.PERIOD_DIMS))):
        weekly[(metric, dim, key)].append((week, Acc(n, hits, total, total2, hist)))
    out = []
    for (metric, dim, key), items in weekly.items():
        items.sort(key=lambda item: item[0], reverse=True)
        acc, i = Acc(), 0
        for weeks, start in starts.items():  # shortest period first: each adds older weeks
            while i < len(items) and items[i][0] >= start:
                acc.merge(items[i][1])
                i += 1
            if i:
                out.append(_row(current, weeks, metric, dim, key, report.Figure.of(acc), now))
    return out


def _ranked(session: Session, current: date, starts: dict[int, date], now: datetime) -> list:
    """Rows of the professionals each period's rankings list, with their places."""
    t = FigureWeek.__table__.c
    metrics = sorted({metric for metric, *_ in report.RANKINGS.values()})
    columns = ("n", "hits", "total", "total2")
    # One read for every period: each sum counts only the weeks of its period.
    sums = [sa.func.sum(sa.case((t.week >= start, t[c]), else_=0))
            for start in starts.values() for c in columns]
    per_key = session.execute(
        sa.select(t.metric, t.key, *sums)
        .where(t.dim == report.RANKED_DIM, t.metric.in_(metrics),
               t.week >= min(starts.values()), t.week <= current)
        .group_by(t.metric, t.key)).all()
    out = []
    for p, weeks in enumerate(starts):
        figures = {(metric, key): report.Figure(*(int(v) for v in values[4 * p:4 * p + 4]))
                   for metric, key, *values in per_key}
        placed: dict[tuple, dict] = defaultdict(dict)
        for metric, part, whole, descending, min_whole in report.RANKINGS.values():
            found = {key: (getattr(fig, part), getattr(fig, whole))
                     for (m, key), fig in figures.items() if m == metric}
            ranked = report.rank(found, min_whole=min_whole, descending=descending)
            for place, (key, _, _) in enumerate(ranked, 1):
                placed[(metric, key)]["rank_high" if descending else "rank_low"] = place
        out += [_row(current, weeks, metric, report.RANKED_DIM, key, figures[(metric, key)], now,
                     **places) for (metric, key), places in placed.items()]
    return out
