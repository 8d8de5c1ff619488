"""The periods the page offers, each stored whole once per refresh (figure_period).

Summing a year of weekly histograms takes a second or more on a large desk, and a year's charts
read some two thousand weekly rows; the refresh does both once for each offered period ending
at the current week, so a page view reads one row whatever the period's length. The sums are
summed in one pass from the latest week back, and the sums and percentiles are those
report.summed gives over the same weekly rows, the rankings those of report.rank, and the
series the weekly rows themselves, so a stored period reads exactly as one summed on the fly.
"""

from collections import defaultdict
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from figures import report
from figures.models import FigurePeriod, FigureWeek
from figures.rollup import Acc


def rebuild(session: Session, *, current: date, now: datetime) -> int:
    """Replace the stored periods by those ending at the week of current; return rows written."""
    starts = {n: current - timedelta(weeks=n - 1) for n in sorted(report.PERIODS)}
    sums, rankings = _summed(session, current, starts), _ranked(session, current, starts)
    series = _series(session, current)
    rows = [{"last_week": current, "weeks": weeks, "series": series[weeks], "sums": sums[weeks],
             "rankings": rankings[weeks], "refreshed_at": now} for weeks in starts]
    session.execute(sa.delete(FigurePeriod))
    session.execute(sa.insert(FigurePeriod), rows)
    return len(rows)


def _summed(session: Session, current: date, starts: dict[int, date]) -> dict[int, list]:
    """Return each period's rows of the dimensions the page's tables sum, from its weeks:
    [metric, dim, key, n, hits, total, total2, p50, p90]."""
    t = FigureWeek.__table__.c
    weekly: dict[tuple, list] = defaultdict(list)
    for week, metric, dim, key, n, hits, total, total2, hist in session.execute(
            sa.select(t.week, t.metric, t.dim, t.key, t.n, t.hits, t.total, t.total2, t.hist)
            .where(t.week >= min(starts.values()), t.week <= current,
                   t.dim.in_(report.PERIOD_DIMS))):
        weekly[(metric, dim, key)].append((week, Acc(n, hits, total, total2, hist)))
    out: dict[int, list] = {weeks: [] for weeks in starts}
    for (metric, dim, key), items in sorted(weekly.items()):
        items.sort(key=lambda item: item[0], reverse=True)
        acc, i = Acc(), 0
        for weeks, start in starts.items():  # shortest period first: each adds older weeks
            while i < len(items) and items[i][0] >= start:
                acc.merge(items[i][1])
                i += 1
            if i:
                out[weeks].append([metric, dim, key, *report.Figure.of(acc)])
    return out


def _ranked(session: Session, current: date, starts: dict[int, date]) -> dict[int, dict]:
    """Return each period's rankings: {name: [[key, part, whole], ...]} in order."""
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
    out = {}
    for p, weeks in enumerate(starts):
        # PostgreSQL sums a bigint as numeric: back to int, as the memory source counts.
        figures = {(metric, key): report.Figure(*(int(v) for v in values[4 * p:4 * p + 4]))
                   for metric, key, *values in per_key}
        out[weeks] = {}
        for name, (metric, part, whole, descending, min_whole) in report.RANKINGS.items():
            found = {key: (getattr(fig, part), getattr(fig, whole))
                     for (m, key), fig in figures.items() if m == metric}
            out[weeks][name] = [list(r) for r in report.rank(
                found, min_whole=min_whole, descending=descending)]
    return out


def _series(session: Session, current: date) -> dict[int, list]:
    """Return each period's weekly rows, from the week before its first: [metric, dim, key,
    [cell of each week, oldest first]]."""
    t = FigureWeek.__table__.c
    longest = max(report.PERIODS)
    # By figure, each week's cell at its place counted back from the current week.
    back: dict[tuple, dict[int, list]] = defaultdict(dict)
    for week, metric, dim, key, n, hits, total, total2, p50, p90 in session.execute(
            sa.select(t.week, t.metric, t.dim, t.key, t.n, t.hits, t.total, t.total2, t.p50,
                      t.p90)
            .where(t.week >= current - timedelta(weeks=longest), t.week <= current,
                   report.weekly_where(t))):
        back[(metric, dim, key)][(current - week).days // 7] = [
            n, hits, int(total), int(total2), p50, p90]
    out: dict[int, list] = {}
    for weeks in report.PERIODS:
        out[weeks] = []
        for (metric, dim, key), cells in sorted(back.items()):
            row = [cells.get(ago) for ago in range(weeks, -1, -1)]
            if any(cell is not None for cell in row):
                out[weeks].append([metric, dim, key, row])
    return out
