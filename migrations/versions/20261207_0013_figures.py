"""Operations figures: (being written) summary tables kept by the jobs.

Revision ID: 0013_figures
Revises: 0012_surveys
"""

revision = "0013_figures"
down_revision = "0012_surveys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
