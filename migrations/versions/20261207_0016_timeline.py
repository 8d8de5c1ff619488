"""Timeline: (being written) indexes the person pages read by.

Revision ID: 0016_timeline
Revises: 0015_wording
"""

revision = "0016_timeline"
down_revision = "0015_wording"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
