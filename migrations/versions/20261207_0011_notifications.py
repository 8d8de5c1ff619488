"""Notifications: (being written) what each person was told about their bookings.

Revision ID: 0011_notifications
Revises: 0010_people
"""

revision = "0011_notifications"
down_revision = "0010_people"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
