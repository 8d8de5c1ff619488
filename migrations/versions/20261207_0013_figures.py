"""Operations figures: summary tables kept by the jobs.

Adds figure_week (one row per week, figure and dimension value: counts, sums, a histogram
of bucketed durations and its median and 90th percentile, rewritten a whole week at a time by
figures.service.refresh), figure_span (each period the page offers, ending at the current week,
summed with its percentiles read, so a page view reads a few hundred small rows),
figure_watermark (how far the refresh has read each source), and the indexes by which the
refresh reads a few weeks of raw rows without scanning whole tables: service_request.updated_at
(bookings changed since the last run), case.first_response_at and case.solved_at (cases by the
week of their first reply and of their solve), case_article (kind, created_at) (calls by week),
interaction.at, and case_state_visit.left_at of open-state visits only (the backlog: visits
still open or left since a week began, without reading every case's history).

Revision ID: 0013_figures
Revises: 0012_surveys
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_figures"
down_revision = "0012_surveys"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_service_request_updated_at", "service_request", ["updated_at"]),
    ("ix_case_first_response_at", "case", ["first_response_at"]),
    ("ix_case_solved_at", "case", ["solved_at"]),
    ("ix_case_article_kind_created", "case_article", ["kind", "created_at"]),
    ("ix_interaction_at", "interaction", ["at"]),
)

OPEN_VISITS = "ix_case_state_visit_open_left"
OPEN_STATES = sa.text("state IN ('new', 'open', 'pending', 'on_hold')")


def upgrade() -> None:
    op.create_table(
        "figure_week",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(24), nullable=False),
        sa.Column("dim", sa.String(16), nullable=False),
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("total2", sa.BigInteger(), nullable=False),
        sa.Column("hist", sa.JSON(), nullable=True),
        sa.Column("p50", sa.Integer(), nullable=True),
        sa.Column("p90", sa.Integer(), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("week", "metric", "dim", "key", name=op.f("pk_figure_week")),
    )
    op.create_index(op.f("ix_figure_week_metric_dim_week"), "figure_week",
                    ["metric", "dim", "week"])
    op.create_index(op.f("ix_figure_week_dim_week"), "figure_week", ["dim", "week"])
    op.create_table(
        "figure_span",
        sa.Column("last_week", sa.Date(), nullable=False),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(24), nullable=False),
        sa.Column("dim", sa.String(16), nullable=False),
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("total2", sa.BigInteger(), nullable=False),
        sa.Column("p50", sa.Integer(), nullable=True),
        sa.Column("p90", sa.Integer(), nullable=True),
        sa.Column("rank_low", sa.Integer(), nullable=True),
        sa.Column("rank_high", sa.Integer(), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("last_week", "weeks", "metric", "dim", "key",
                                name=op.f("pk_figure_span")),
    )
    op.create_table(
        "figure_watermark",
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=True),
        sa.Column("seen_id", sa.BigInteger(), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_figure_watermark")),
    )
    for name, table, columns in INDEXES:
        op.create_index(op.f(name), table, columns)
    op.create_index(op.f(OPEN_VISITS), "case_state_visit", ["left_at"],
                    postgresql_where=OPEN_STATES, sqlite_where=OPEN_STATES)


def downgrade() -> None:
    op.drop_index(op.f(OPEN_VISITS), table_name="case_state_visit")
    for name, table, _ in INDEXES:
        op.drop_index(op.f(name), table_name=table)
    op.drop_table("figure_watermark")
    op.drop_table("figure_span")
    op.drop_index(op.f("ix_figure_week_dim_week"), table_name="figure_week")
    op.drop_index(op.f("ix_figure_week_metric_dim_week"), table_name="figure_week")
    op.drop_table("figure_week")
