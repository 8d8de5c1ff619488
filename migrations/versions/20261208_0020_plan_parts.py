"""Plan runs split into parts (issue #19, city and country scale): plan_run_part.

A run whose problem splits into parts that cannot reach each other (assignment.parts) keeps one
row per part: its problem, the worker solving it, its progress, its plan or why it failed.

Revision ID: 0020_plan_parts
Revises: 0021_figure_series
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_plan_parts"
down_revision = "0021_figure_series"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_run_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("status", sa.Enum("queued", "running", "done", "failed",
                                    name="plan_run_part_status", native_enum=False,
                                    create_constraint=True, length=20), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("professionals", sa.Integer(), nullable=False),
        sa.Column("problem", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("worker", sa.String(length=120), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["plan_run.id"],
                                name=op.f("fk_plan_run_part_run_id_plan_run"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_run_part")),
        sa.UniqueConstraint("run_id", "part", name="uq_plan_run_part_run_part"),
    )


def downgrade() -> None:
    op.drop_table("plan_run_part")
