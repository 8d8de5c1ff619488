"""Summary tables of the figures page: one row per week, figure and dimension value, and one
per offered period, figure and dimension value.

A week's row holds counts and sums (and, for durations, a histogram of bucketed values and its
percentiles) so that any span of weeks adds up by summing rows and percentiles come out of the
summed histograms. Summing a year of histograms per view is too slow for the page, so the
refresh also stores each offered period ending at the current week whole (figure_span), its
percentiles already read. The jobs rewrite both (figures.service.refresh); the page only reads.
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


class FigureSpan(Base):
    """One offered period (the weeks up to last_week) summed: what the page's tables show."""

    __tablename__ = "figure_span"

    last_week: Mapped[date] = mapped_column(primary_key=True)
    weeks: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    # As figure_week, without "all" and "age" (the page reads those week by week); a
    # professional has a row only if one of the page's rankings lists them.
    dim: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
    hits: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total2: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    p50: Mapped[int | None]
    p90: Mapped[int | None]
    # A professional's place (1 first) in the lowest and the highest of the metric's ranking.
    rank_low: Mapped[int | None]
    rank_high: Mapped[int | None]
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)


class FigureWatermark(Base):
    """How far the refresh has read each source: rows changed after it mark their weeks."""

    __tablename__ = "figure_watermark"

    source: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    seen_at: Mapped[datetime | None]  # the latest updated_at (or answered_at) read
    seen_id: Mapped[int | None] = mapped_column(sa.BigInteger)  # the highest id read
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
