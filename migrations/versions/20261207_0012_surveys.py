"""Surveys: why a survey was cancelled, and the hits the public survey page rate-limits.

Adds survey.cancel_reason (reopened, erased, merged, failing_address, no_email, ...) and the
survey_hit table: one row per request to the public page, by address, counted over a short
window and pruned by the survey job.

Revision ID: 0012_surveys
Revises: 0011_notifications
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_surveys"
down_revision = "0011_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("survey") as batch:
        batch.add_column(sa.Column("cancel_reason", sa.String(40), nullable=True))
    op.create_table(
        "survey_hit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_hit")),
    )
    op.create_index("ix_survey_hit_ip_at", "survey_hit", ["ip", "at"])
    op.create_index(op.f("ix_survey_hit_at"), "survey_hit", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_hit_at"), table_name="survey_hit")
    op.drop_index("ix_survey_hit_ip_at", table_name="survey_hit")
    op.drop_table("survey_hit")
    with op.batch_alter_table("survey") as batch:
        batch.drop_column("cancel_reason")
