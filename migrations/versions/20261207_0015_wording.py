"""Wording: (being written) text stored as message keys with values.

Revision ID: 0015_wording
Revises: 0014_plan_queue
"""

revision = "0015_wording"
down_revision = "0014_plan_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
