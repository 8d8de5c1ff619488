"""Erasure: issued invoices keep their recipient's identity; professionals can be erased.

Adds billing_invoice.bill_to_name and bill_to_address, the identity an invoice is issued to,
filled from each invoice's client: Spanish invoicing rules require an issued invoice to keep
it for as long as the invoice is kept, after its client's personal data is erased. Adds
professional.erased_at, when a professional's personal data was erased.

Adds audit_event.redacted_at: the audit trail stays append-only but for an erasure, which may
replace a person's values in a row's changes and note and must then stamp redacted_at; when,
who, what record and what action stay as written.

Revision ID: 0008_erasure
Revises: 0007_staff_totp
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_erasure"
down_revision = "0007_staff_totp"
branch_labels = None
depends_on = None


_SAME_ROW = ("NEW.redacted_at IS NOT NULL AND NEW.at = OLD.at AND NEW.actor = OLD.actor "
             "AND NEW.entity = OLD.entity AND NEW.action = OLD.action")


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("redacted_at", sa.DateTime(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND {_SAME_ROW}
                   AND NEW.entity_id IS NOT DISTINCT FROM OLD.entity_id
                   AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP;
            END;
            $$ LANGUAGE plpgsql
            """)
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute(
            "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
            f"WHEN NOT ({_SAME_ROW} AND NEW.entity_id IS OLD.entity_id "
            "AND NEW.actor_id IS OLD.actor_id) "
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: UPDATE refused'); END")
    with op.batch_alter_table("billing_invoice") as batch:
        batch.add_column(sa.Column("bill_to_name", sa.String(120), nullable=True))
        batch.add_column(sa.Column("bill_to_address", sa.String(255), nullable=True))
    op.execute("UPDATE billing_invoice SET "
               "bill_to_name = (SELECT name FROM client WHERE client.id = billing_invoice.client_id), "
               "bill_to_address = (SELECT address FROM client "
               "WHERE client.id = billing_invoice.client_id)")
    with op.batch_alter_table("professional") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP;
            END;
            $$ LANGUAGE plpgsql
            """)
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
                   "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: UPDATE refused'); END")
    op.drop_column("audit_event", "redacted_at")
    with op.batch_alter_table("professional") as batch:
        batch.drop_column("erased_at")
    with op.batch_alter_table("billing_invoice") as batch:
        batch.drop_column("bill_to_address")
        batch.drop_column("bill_to_name")
