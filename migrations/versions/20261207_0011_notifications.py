"""Notifications: what each person was last told about their bookings, and an iCalendar part
on outbox mails.

Adds the told_booking table (one row per service request and audience, client or
professional: the state, professional and start last told, and the iCalendar SEQUENCE of that
notice) and outbox_message.calendar (the text/calendar part a mail carries, if any, as data
that the sender makes into iCalendar text).

Revision ID: 0011_notifications
Revises: 0010_people
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_notifications"
down_revision = "0010_people"
branch_labels = None
depends_on = None


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table(
        "told_booking",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("audience", _enum("told_audience", ("client", "professional")),
                  nullable=False),
        sa.Column("state", _enum("told_state", ("booked", "cancelled", "removed")),
                  nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=True),
        sa.Column("start_at", sa.DateTime(), nullable=True),
        sa.Column("end_at", sa.DateTime(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("told_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["service_request.id"], ondelete="CASCADE",
                                name=op.f("fk_told_booking_request_id_service_request")),
        sa.ForeignKeyConstraint(["professional_id"], ["professional.id"],
                                name=op.f("fk_told_booking_professional_id_professional")),
        sa.PrimaryKeyConstraint("request_id", "audience", name=op.f("pk_told_booking")),
    )
    # Plain ADD COLUMN (nullable) on both databases: no batch copy of the outbox.
    op.add_column("outbox_message", sa.Column("calendar", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("calendar")
    op.drop_table("told_booking")
