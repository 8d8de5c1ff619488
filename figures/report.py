"""The figures page's content for a span of weeks, from summary rows (or raw ones).

build() takes a source of summary rows: StoredSource reads the summary tables (what the page
uses), MemorySource holds rows figures.rollup just computed from raw records (what the
benchmark and the tests compare with). Both give the same report. The weekly series come from
one row per week and figure; the period's tables (agents, categories, skills, rankings) from
figure_span when the refresh stored that period, else by summing the weeks' rows (slow on a
large desk: a year of histograms). Values are plain numbers and keys (staff and professional
ids, category codes, tags, skills); names and formats are the page's business.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from figures import buckets
from figures.models import FigureSpan, FigureWeek
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


def _weekly_where(t):
    return sa.or_(t.dim.in_(WEEKLY_DIMS), sa.and_(t.metric == "cases", t.dim.in_(ISSUE_DIMS)))


def is_weekly(metric: str, dim: str) -> bool:
    """Return whether the page reads this figure's rows week by week (not summed whole)."""
    return dim in WEEKLY_DIMS or (metric == "cases" and dim in ISSUE_DIMS)


class StoredSource:
    """Summary rows as the refresh stored them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.used_spans: bool | None = None  # whether the last period came from figure_span

    def weekly(self, first: date, last: date) -> list[tuple]:
        t = FigureWeek.__table__.c
        return [(w, m, d, k, Figure(n, hits, int(total), int(total2), p50, p90))
                for w, m, d, k, n, hits, total, total2, p50, p90 in self.session.execute(
                    sa.select(t.week, t.metric, t.dim, t.key, t.n, t.hits, t.total, t.total2,
                              t.p50, t.p90)
                    .where(t.week >= first, t.week <= last, _weekly_where(t)))]

    def period(self, weeks: list[date]) -> tuple[dict, dict]:
        """Return the period's figures and rankings: stored whole if the refresh kept them."""
        stored = self._span(weeks)
        self.used_spans = stored is not None
        return stored if stored is not None else self._summed(weeks)

    def _span(self, weeks: list[date]) -> tuple[dict, dict] | None:
        s = FigureSpan.__table__.c
        rows = self.session.execute(
            sa.select(s.metric, s.dim, s.key, s.n, s.hits, s.total, s.total2, s.p50, s.p90,
                      s.rank_low, s.rank_high)
            .where(s.last_week == weeks[-1], s.weeks == len(weeks))).all()
        if not rows:
            return None
        period: dict[tuple, Figure] = {}
        placed: dict[str, list] = {name: [] for name in RANKINGS}
        for metric, dim, key, n, hits, total, total2, p50, p90, low, high in rows:
            fig = Figure(n, hits, int(total), int(total2), p50, p90)
            if dim != RANKED_DIM:
                period[(metric, dim, key)] = fig
                continue
            for name, (ranked, part, whole, descending, _) in RANKINGS.items():
                place = high if descending else low
                if ranked == metric and place is not None:
                    placed[name].append((place, key, getattr(fig, part), getattr(fig, whole)))
        return period, {name: [(k, p, w) for _, k, p, w in sorted(found)]
                        for name, found in placed.items()}

    def _summed(self, weeks: list[date]) -> tuple[dict, dict]:
        t = FigureWeek.__table__.c
        first, last = weeks[0], weeks[-1]
        period = summed(self.session.execute(
            sa.select(t.metric, t.dim, t.key, t.n, t.hits, t.total, t.total2, t.hist)
            .where(t.week >= first, t.week <= last, t.dim.in_(PERIOD_DIMS))))
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

    def weekly(self, first: date, last: date) -> list[tuple]:
        return [(r["week"], r["metric"], r["dim"], r["key"],
                 Figure(r["n"], r["hits"], r["total"], r["total2"], r["p50"], r["p90"]))
                for r in self._rows
                if first <= r["week"] <= last and is_weekly(r["metric"], r["dim"])]

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
    data = {(w, m, d, k): fig for w, m, d, k, fig in source.weekly(prior, last)}
    period, rankings = source.period(weeks)

    def at(week, metric, dim="all", key="") -> Figure:
        return data.get((week, metric, dim, key)) or EMPTY

    weekly = []
    for w in weeks:
        csat, sla = at(w, "csat"), at(w, "sla")
        fill, cancel, no_show, util = (at(w, m) for m in ("fill", "cancel", "no_show",
                                                         "utilisation"))
        weekly.append({
            "week": w,
            "csat_n": csat.n, "csat": rate(csat.hits, csat.n),
            "first_response": _durations(at(w, "first_response")),
            "resolution": _durations(at(w, "resolution")),
            "sla_n": sla.n, "sla": rate(sla.hits, sla.n),
            "calls": _calls(at(w, "calls")),
            "case_work": _durations(at(w, "case_work")),
            "backlog": at(w, "backlog").n,
            "backlog_ages": {a: at(w, "backlog", "age", str(a)).n for a in AGE_BUCKETS},
            "asked": fill.n, "covered": fill.hits, "fill": rate(fill.hits, fill.n),
            "booked_cents": fill.total, "asked_cents": fill.total2,
            "time_to_fill": _durations(at(w, "time_to_fill")),
            "requests": cancel.n, "cancelled": cancel.hits,
            "cancel": rate(cancel.hits, cancel.n),
            "took_place": no_show.n, "no_shows": no_show.hits,
            "no_show": rate(no_show.hits, no_show.n),
            "booked_minutes": util.total, "shift_minutes": util.total2,
            "utilisation": rate(util.total, util.total2),
            "cases": at(w, "cases").n,
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
            "issues": _issues(data, period, weeks, prior)}


def _calls(fig: Figure) -> dict:
    return {"n": fig.n, "seconds": fig.total,
            "mean": round(fig.total / fig.n) if fig.n else None, "median": fig.p50}


def _issues(data: dict, period: dict, weeks: list[date], prior: date) -> dict:
    """Categories and tags of new cases week by week, and what moved most in the last week."""
    out = {}
    for dim, top in (("category", TOP_CATEGORIES), ("tag", TOP_TAGS)):
        totals = sorted(((-a.n, k) for (m, d, k), a in period.items()
                         if m == "cases" and d == dim and a.n))
        out[dim] = [{"key": k, "total": -neg,
                     "weeks": [(w, (data.get((w, "cases", dim, k)) or EMPTY).n) for w in weeks]}
                    for neg, k in totals[:top]]
    last = weeks[-1]
    before = last - timedelta(weeks=1)
    movers = []
    for dim in ("category", "tag"):
        seen = {k for (w, m, d, k) in data if m == "cases" and d == dim and w in (last, before)}
        for k in seen:
            now_n = (data.get((last, "cases", dim, k)) or EMPTY).n
            then_n = (data.get((before, "cases", dim, k)) or EMPTY).n
            if now_n != then_n:
                movers.append({"dim": dim, "key": k, "before": then_n, "now": now_n,
                               "change": now_n - then_n, "ratio": rate(now_n - then_n, then_n)})
    movers.sort(key=lambda m: (-abs(m["change"]), m["dim"], m["key"]))
    out["movers"] = movers[:TOP_MOVERS]
    out["movers_week"], out["movers_before"] = last, before
    return out
