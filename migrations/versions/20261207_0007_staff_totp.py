"""Staff second factor (TOTP) and login throttling by address.

staff_user gains mfa_exempt (false for everyone; the demo's users are set by its seed), and
totp_secret, totp_enrolled_at, totp_last_counter (the last time step accepted, so a code is
not taken twice) and totp_recovery_hashes (sha256 of the unused recovery codes).
login_attempt gains step ("password" or "code": existing rows were passwords) and
ix_login_attempt_ip_at, which counts an address's recent failures across emails.

Revision ID: 0007_staff_totp
Revises: 0006_client_request_count
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_staff_totp"
down_revision = "0006_client_request_count"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Defaults as plain text: an SQL expression would make SQLite's batch copy the whole table,
    # and dropping staff_user for the copy fails on the rows that point at it (audit, sessions).
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mfa_exempt", sa.Boolean(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_enrolled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("totp_last_counter", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("totp_recovery_hashes", sa.Text(), nullable=True))
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.String(length=10), nullable=False,
                                      server_default="password"))
        batch_op.create_index("ix_login_attempt_ip_at", ["ip", "at"], unique=False)


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), not a batch: a batch copies staff_user, and dropping the
    # original fails on the rows that point at it.
    op.drop_index("ix_login_attempt_ip_at", table_name="login_attempt")
    op.drop_column("login_attempt", "step")
    for column in ("totp_recovery_hashes", "totp_last_counter", "totp_enrolled_at",
                   "totp_secret", "mfa_exempt"):
        op.drop_column("staff_user", column)
