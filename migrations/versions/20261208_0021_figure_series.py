"""Figures: each offered period stored as one row (figure_period) in place of figure_span.

figure_span held a period's sums one row per figure and dimension value (a few hundred per
period), and the charts still read the period's weekly rows one by one (a year: some two
thousand). figure_period holds the whole period in one row: its weekly series, its sums and its
rankings, so the figures page reads one row whatever the period's length. The next refresh
(every 15 minutes) fills it; until then the page sums the weeks' rows as for any other period.

Revision ID: 0021_figure_series
Revises: 0019_person_speed
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_figure_series"
down_revision = "0019_person_speed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "figure_period",
        sa.Column("last_week", sa.Date(), nullable=False),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.Column("series", sa.JSON(), nullable=False),
        sa.Column("sums", sa.JSON(), nullable=False),
        sa.Column("rankings", sa.JSON(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("last_week", "weeks", name=op.f("pk_figure_period")),
    )
    op.drop_table("figure_span")


def downgrade() -> None:
    # As migration 0013 made it; the next refresh of the older code fills it again.
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
    op.drop_table("figure_period")
