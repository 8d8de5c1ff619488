"""Summary tables of the figures page: one row per week, figure and dimension value, and one
per offered period.

A week's row holds counts and sums (and, for durations, a histogram of bucketed values and its
percentiles) so that any span of weeks adds up by summing rows and percentiles come out of the
summed histograms. Summing a year of histograms per view is too slow for the page, so the
refresh also stores each offered period ending at the current week whole in one row
(figure_period): its weekly series, its sums with their percentiles already read, and its
rankings. The jobs rewrite them (figures.service.refresh); the page only reads.
"""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db import Base, utcnow


class FigureWeek(Base):
    __tablename__ = "figure_week"

    # The Monday (in the desk's time zone) of the week the row counts.
    week: Mapped[date] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    # "all" (key ""), "agent" (staff id), "professional" (id), "category" (code), "tag",
    # "skill", "age" (a backlog bucket).
    dim: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)  # how many were counted
    hits: Mapped[int] = mapped_column(default=0)  # how many of them were good (or the event)
    total: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # sum of values
    total2: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # a second sum
    # {"bucket lower bound": count} of bucketed values (figures.buckets); None: no durations.
    hist: Mapped[dict | None] = mapped_column(sa.JSON)
    p50: Mapped[int | None]  # the histogram's median and 90th percentile (figures.buckets)
    p90: Mapped[int | None]
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # The page reads one figure and dimension over a span of weeks, and every figure's
        # whole-desk ("all") and backlog age rows week by week.
        sa.Index("ix_figure_week_metric_dim_week", "metric", "dim", "week"),
        sa.Index("ix_figure_week_dim_week", "dim", "week"),
    )


class FigurePeriod(Base):
    """One offered period ending at the current week, whole: what the page shows of it.

    The page would otherwise sum a year of histograms per view, and read some forty rows per
    week of the period (a year: two thousand) for its charts; stored whole, a period of any
    length is one row. All three are read from figure_week by the refresh (figures.spans):

    - series: the charts' and weekly tables' rows (those report.is_weekly names) week by week,
      from the week before the period (the movers compare its first week with it) to
      last_week: [[metric, dim, key, [cell of each week]], ...]; a cell is [n, hits, total,
      total2, p50, p90], or null where figure_week has no row;
    - sums: the period's tables (report.PERIOD_DIMS) summed, percentiles read from the summed
      histograms: [[metric, dim, key, n, hits, total, total2, p50, p90], ...];
    - rankings: each of report.RANKINGS, the professionals it lists in order:
      {name: [[key, part, whole], ...]}.

    refreshed_at is the refresh's moment (the page says how old its figures are).
    """

    __tablename__ = "figure_period"

    last_week: Mapped[date] = mapped_column(primary_key=True)
    weeks: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[list] = mapped_column(sa.JSON)
    sums: Mapped[list] = mapped_column(sa.JSON)
    rankings: Mapped[dict] = mapped_column(sa.JSON)
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)


class FigureWatermark(Base):
    """How far the refresh has read each source: rows changed after it mark their weeks."""

    __tablename__ = "figure_watermark"

    source: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    seen_at: Mapped[datetime | None]  # the latest updated_at (or answered_at) read
    seen_id: Mapped[int | None] = mapped_column(sa.BigInteger)  # the highest id read
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
