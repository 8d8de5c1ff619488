"""Plan runs on a task queue: (being written) progress and worker columns.

Revision ID: 0014_plan_queue
Revises: 0013_figures
"""

revision = "0014_plan_queue"
down_revision = "0013_figures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
