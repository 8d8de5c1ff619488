"""Surveys: (being written) anything the survey table of 0010 still lacks.

Revision ID: 0012_surveys
Revises: 0011_notifications
"""

revision = "0012_surveys"
down_revision = "0011_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
