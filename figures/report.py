"""The figures page's content for a span of weeks, from summary rows (or raw ones).

build() takes a source of summary rows: StoredSource reads the summary tables (what the page
uses), MemorySource holds rows figures.rollup just computed from raw records (what the
benchmark and the tests compare with). Both give the same report. A period the refresh stored
(each offered one ending at the current week) is one figure_period row: its weekly series
(charts and weekly tables), its tables' sums (agents, categories, skills) and its rankings.
Any other is read from one figure_week row per week and figure, and its tables summed from the
weeks' rows (slow on a large desk: a year of histograms). Values are plain numbers and keys
(staff and professional ids, category codes, tags, skills); names and formats are the page's
business.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from figures import buckets
from figures.models import FigurePeriod, FigureWeek
from figures.rollup import AGE_BUCKETS, Acc

# The periods the page offers, in weeks up to the chosen one; the refresh stores each whole.
PERIODS = (4, 8, 12, 26, 52)
# Dimensions read week by week (the charts), and those summed over the period (the tables).
WEEKLY_DIMS = ("all", "age")
ISSUE_DIMS = ("category", "tag")  # of metric "cases": the recurring issues, week by week
PERIOD_DIMS = ("agent", "category", "tag", "skill", "subject")
# Dimensions with one row per professional are ranked, never shown whole.
RANKED_DIM = "professional"
TOP_CATEGORIES, TOP_TAGS, TOP_MOVERS, TOP_PROFESSIONALS = 8, 10, 10, 10
MIN_ANSWERS = 3  # a professional's CSAT is ranked from this many answers
# name -> (metric, part, whole, highest first, least whole counted)
RANKINGS = {
    "csat_low": ("csat", "hits", "n", False, MIN_ANSWERS),
    "csat_high": ("csat", "hits", "n", True, MIN_ANSWERS),
    "utilisation_low": ("utilisation", "total", "total2", False, 1),
    "utilisation_high": ("utilisation", "total", "total2", True, 1),
}


class Figure(NamedTuple):
    """One figure and dimension value summed over a week or a period, percentiles read."""

    n: int = 0
    hits: int = 0
    total: int = 0
    total2: int = 0
    p50: int | None = None
    p90: int | None = None

    @classmethod
    def of(cls, acc: Acc) -> "Figure":
        return cls(acc.n, acc.hits, int(acc.total), int(acc.total2),
                   *buckets.percentiles(acc.hist, (0.5, 0.9)))


EMPTY = Figure()


def summed(rows: Iterable[tuple]) -> dict[tuple, Figure]:
    """Return {(metric, dim, key): Figure} of rows (metric, dim, key, n, hits, total, total2,
    hist) added up, percentiles read from the summed histograms."""
    sums: dict[tuple, Acc] = defaultdict(Acc)
    for metric, dim, key, n, hits, total, total2, hist in rows:
        sums[(metric, dim, key)].merge(Acc(n, hits, total, total2, hist))
    return {k: Figure.of(acc) for k, acc in sums.items()}


def rank(sums: dict[str, tuple[int, int]], *, min_whole: int, descending: bool,
         limit: int = TOP_PROFESSIONALS) -> list[tuple[str, int, int]]:
    """Return the first (key, part, whole) by part / whole, ties by key; whole >= min_whole."""
    kept = sorted((k, p, w) for k, (p, w) in sums.items() if w >= max(min_whole, 1))
    kept.sort(key=lambda x: x[1] / x[2], reverse=descending)  # stable: ties stay by key
    return kept[:limit]


def weekly_where(t):
    """Return the condition on figure_week's columns t of the rows read week by week."""
    return sa.or_(t.dim.in_(WEEKLY_DIMS), sa.and_(t.metric == "cases", t.dim.in_(ISSUE_DIMS)))


def is_weekly(metric: str, dim: str) -> bool:
    """Return whether the page reads this figure's rows week by week (not summed whole)."""
    return dim in WEEKLY_DIMS or (metric == "cases" and dim in ISSUE_DIMS)


def _by_week(first: date, last: date, rows: Iterable[tuple]) -> dict[tuple, list]:
    """Return rows (week, metric, dim, key, Figure) as {(metric, dim, key): [Figure or None of
    each week from first to last]}."""
    count = (last - first).days // 7 + 1
    out: dict[tuple, list] = {}
    for week, metric, dim, key, fig in rows:
        cells = out.get((metric, dim, key))
        if cells is None:
            cells = out[(metric, dim, key)] = [None] * count
        cells[(week - first).days // 7] = fig
    return out


class StoredSource:
    """Summary rows as the refresh stored them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.used_stored: bool | None = None  # whether the last period came from figure_period
        self.refreshed_at: datetime | None = None  # the stored period's refresh, when read
        self._stored: dict[tuple, tuple | None] = {}

    def _period_row(self, last: date, weeks: int):
        """Return the stored period's row (read once for the weekly figures and the sums)."""
        if (last, weeks) not in self._stored:
            p = FigurePeriod.__table__.c
            self._stored[(last, weeks)] = self.session.execute(
                sa.select(p.series, p.sums, p.rankings, p.refreshed_at)
                .where(p.last_week == last, p.weeks == weeks)).first()
        row = self._stored[(last, weeks)]
        self.used_stored = row is not None
        if row is not None:
            self.refreshed_at = row.refreshed_at
        return row

    def weekly(self, first: date, last: date) -> dict[tuple, list]:
        """Return the figures read week by week from first (the week before a period ending at
        last) to last: {(metric, dim, key): [Figure or None of each week]}."""
        stored = self._period_row(last, (last - first).days // 7)
        if stored is not None:
            new = tuple.__new__
            return {(m, d, k): [None if c is None else new(Figure, c) for c in cells]
                    for m, d, k, cells in stored.series}
        t = FigureWeek.__table__.c
        return _by_week(first, last, (
            (w, m, d, k, Figure(n, hits, int(total), int(total2), p50, p90))
            for w, m, d, k, n, hits, total, total2, p50, p90 in self.session.execute(
                sa.select(t.week, t.metric, t.dim, t.key, t.n, t.hits, t.total, t.total2,
                          t.p50, t.p90)
                .where(t.week >= first, t.week <= last, weekly_where(t))).all()))

    def period(self, weeks: list[date]) -> tuple[dict, dict]:
        """Return the period's figures and rankings: stored whole if the refresh kept them."""
        stored = self._period_row(weeks[-1], len(weeks))
        if stored is None:
            return self._summed(weeks)
        new = tuple.__new__
        return ({(m, d, k): new(Figure, values) for m, d, k, *values in stored.sums},
                {name: [tuple(r) for r in rows] for name, rows in stored.rankings.items()})

    def _summed(self, weeks: list[date]) -> tuple[dict, dict]:
        t = FigureWeek.__table__.c
        first, last = weeks[0], weeks[-1]
        period = summed(self.session.execute(
            sa.select(t.metric, t.dim, t.key, t.n, t.hits, t.total, t.total2, t.hist)
            .where(t.week >= first, t.week <= last, t.dim.in_(PERIOD_DIMS))).all())
        rankings = {}
        for name, (metric, part, whole, descending, min_whole) in RANKINGS.items():
            p, w = sa.func.sum(t[part]), sa.func.sum(t[whole])
            rate = sa.cast(p, sa.Float) / sa.cast(w, sa.Float)
            # PostgreSQL sums a bigint as numeric: back to int, as the memory source counts.
            rankings[name] = [(k, int(a), int(b)) for k, a, b in self.session.execute(
                sa.select(t.key, p, w)
                .where(t.metric == metric, t.dim == RANKED_DIM, t.week >= first, t.week <= last)
                .group_by(t.key).having(w >= max(min_whole, 1))
                .order_by(rate.desc() if descending else rate, t.key)
                .limit(TOP_PROFESSIONALS))]
        return period, rankings


class MemorySource:
    """Summary rows held in memory (figures.rollup.compute's output)."""

    def __init__(self, rows: list[dict]) -> None:
        self._rows = rows

    def weekly(self, first: date, last: date) -> dict[tuple, list]:
        return _by_week(first, last, (
            (r["week"], r["metric"], r["dim"], r["key"],
             Figure(r["n"], r["hits"], r["total"], r["total2"], r["p50"], r["p90"]))
            for r in self._rows
            if first <= r["week"] <= last and is_weekly(r["metric"], r["dim"])))

    def period(self, weeks: list[date]) -> tuple[dict, dict]:
        first, last = weeks[0], weeks[-1]
        inside = [r for r in self._rows if first <= r["week"] <= last]
        period = summed((r["metric"], r["dim"], r["key"], r["n"], r["hits"], r["total"],
                         r["total2"], r["hist"]) for r in inside if r["dim"] in PERIOD_DIMS)
        rankings = {}
        for name, (metric, part, whole, descending, min_whole) in RANKINGS.items():
            sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for r in inside:
                if r["metric"] == metric and r["dim"] == RANKED_DIM:
                    sums[r["key"]][0] += r[part]
                    sums[r["key"]][1] += r[whole]
            rankings[name] = rank(sums, min_whole=min_whole, descending=descending)
        return period, rankings


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _durations(fig: Figure) -> dict:
    return {"n": fig.n, "median": fig.p50, "p90": fig.p90}


def build(source, *, weeks: list[date]) -> dict:
    """Return every figure of the page for the given consecutive weeks (Mondays)."""
    first, last = weeks[0], weeks[-1]
    prior = first - timedelta(weeks=1)  # the movers of the first week compare with it
    data = source.weekly(prior, last)  # each figure's weeks: prior first, then weeks
    period, rankings = source.period(weeks)
    none = [None] * (len(weeks) + 1)

    def series(metric, dim="all", key="") -> list:
        return data.get((metric, dim, key)) or none

    csats, slas, fills, cancels, no_shows, utils, first_responses, resolutions, calls, works, \
        backlogs, fill_times, cases = (series(m) for m in (
            "csat", "sla", "fill", "cancel", "no_show", "utilisation", "first_response",
            "resolution", "calls", "case_work", "backlog", "time_to_fill", "cases"))
    ages = [(a, series("backlog", "age", str(a))) for a in AGE_BUCKETS]
    weekly = []
    for i, w in enumerate(weeks, 1):
        csat, sla = csats[i] or EMPTY, slas[i] or EMPTY
        fill, cancel = fills[i] or EMPTY, cancels[i] or EMPTY
        no_show, util = no_shows[i] or EMPTY, utils[i] or EMPTY
        weekly.append({
            "week": w,
            "csat_n": csat.n, "csat": rate(csat.hits, csat.n),
            "first_response": _durations(first_responses[i] or EMPTY),
            "resolution": _durations(resolutions[i] or EMPTY),
            "sla_n": sla.n, "sla": rate(sla.hits, sla.n),
            "calls": _calls(calls[i] or EMPTY),
            "case_work": _durations(works[i] or EMPTY),
            "backlog": (backlogs[i] or EMPTY).n,
            "backlog_ages": {a: (cells[i] or EMPTY).n for a, cells in ages},
            "asked": fill.n, "covered": fill.hits, "fill": rate(fill.hits, fill.n),
            "booked_cents": fill.total, "asked_cents": fill.total2,
            "time_to_fill": _durations(fill_times[i] or EMPTY),
            "requests": cancel.n, "cancelled": cancel.hits,
            "cancel": rate(cancel.hits, cancel.n),
            "took_place": no_show.n, "no_shows": no_show.hits,
            "no_show": rate(no_show.hits, no_show.n),
            "booked_minutes": util.total, "shift_minutes": util.total2,
            "utilisation": rate(util.total, util.total2),
            "cases": (cases[i] or EMPTY).n,
        })

    def keys(dim: str, *metrics: str) -> list[str]:
        return sorted({k for (m, d, k) in period if d == dim and m in metrics})

    def p(metric, dim, key) -> Figure:
        return period.get((metric, dim, key)) or EMPTY

    agents = [{
        "key": k,
        "csat_n": p("csat", "agent", k).n,
        "csat": rate(p("csat", "agent", k).hits, p("csat", "agent", k).n),
        "first_response": _durations(p("first_response", "agent", k)),
        "resolution": _durations(p("resolution", "agent", k)),
        "sla_n": p("sla", "agent", k).n,
        "sla": rate(p("sla", "agent", k).hits, p("sla", "agent", k).n),
        "calls": _calls(p("calls", "agent", k)),
        "case_work": _durations(p("case_work", "agent", k)),
    } for k in keys("agent", "csat", "first_response", "resolution", "sla", "calls",
                    "case_work")]
    categories = [{
        "key": k,
        "cases": p("cases", "category", k).n,
        "csat_n": p("csat", "category", k).n,
        "csat": rate(p("csat", "category", k).hits, p("csat", "category", k).n),
        "first_response": _durations(p("first_response", "category", k)),
        "resolution": _durations(p("resolution", "category", k)),
        "sla_n": p("sla", "category", k).n,
        "sla": rate(p("sla", "category", k).hits, p("sla", "category", k).n),
    } for k in keys("category", "cases", "csat", "first_response", "resolution", "sla")]
    skills = [{
        "key": k,
        "asked": p("fill", "skill", k).n, "fill": rate(p("fill", "skill", k).hits,
                                                       p("fill", "skill", k).n),
        "time_to_fill": _durations(p("time_to_fill", "skill", k)),
        "cancel": rate(p("cancel", "skill", k).hits, p("cancel", "skill", k).n),
        "no_show": rate(p("no_show", "skill", k).hits, p("no_show", "skill", k).n),
    } for k in keys("skill", "fill", "cancel", "no_show", "time_to_fill")]
    subjects = {k: {"n": p("csat", "subject", k).n,
                    "csat": rate(p("csat", "subject", k).hits, p("csat", "subject", k).n)}
                for k in keys("subject", "csat")}

    professionals = {name: [{"key": k, "part": a, "whole": b, "rate": rate(a, b)}
                            for k, a, b in rankings[name]] for name in RANKINGS}
    return {"weeks": weeks, "weekly": weekly, "agents": agents, "categories": categories,
            "skills": skills, "subjects": subjects, "professionals": professionals,
            "issues": _issues(data, period, weeks)}


def _calls(fig: Figure) -> dict:
    return {"n": fig.n, "seconds": fig.total,
            "mean": round(fig.total / fig.n) if fig.n else None, "median": fig.p50}


def _issues(data: dict, period: dict, weeks: list[date]) -> dict:
    """Categories and tags of new cases week by week, and what moved most in the last week."""
    out = {}
    for dim, top in (("category", TOP_CATEGORIES), ("tag", TOP_TAGS)):
        totals = sorted(((-a.n, k) for (m, d, k), a in period.items()
                         if m == "cases" and d == dim and a.n))
        out[dim] = []
        for neg, k in totals[:top]:
            cells = data.get(("cases", dim, k))
            out[dim].append({"key": k, "total": -neg, "weeks": [
                (w, cells[i].n if cells and cells[i] else 0) for i, w in enumerate(weeks, 1)]})
    last = weeks[-1]
    before = last - timedelta(weeks=1)
    movers = []
    for dim in ("category", "tag"):
        for (m, d, k), cells in data.items():
            if m != "cases" or d != dim or (cells[-1] is None and cells[-2] is None):
                continue  # only what was counted in either week
            now_n = (cells[-1] or EMPTY).n
            then_n = (cells[-2] or EMPTY).n
            if now_n != then_n:
                movers.append({"dim": dim, "key": k, "before": then_n, "now": now_n,
                               "change": now_n - then_n, "ratio": rate(now_n - then_n, then_n)})
    movers.sort(key=lambda m: (-abs(m["change"]), m["dim"], m["key"]))
    out["movers"] = movers[:TOP_MOVERS]
    out["movers_week"], out["movers_before"] = last, before
    return out
