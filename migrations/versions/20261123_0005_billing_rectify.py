"""Billing: rectifying invoices and a partial index on pending payment attempts.

Creates billing_rectifying_invoice: a Spanish factura rectificativa per credit on an invoice
(a refund at Stripe or a credit finance grants), in its own gap-free series per year
(R2026-000001), referencing the original invoice, with negative base, VAT and total.
Adds ix_billing_payment_attempt_pending (attempts whose answer is not known yet, on
PostgreSQL and SQLite a partial index), which each dunning pass reads to settle answers lost
on invoices that were paid another way meanwhile.

Revision ID: 0005_billing_rectify
Revises: 0004_assignment
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_billing_rectify"
down_revision = "0004_assignment"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "billing_rectifying_invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series", sa.String(length=20), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("subtotal_cents", sa.Integer(), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("vat_cents", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("total_cents < 0",
                           name=op.f("ck_billing_rectifying_invoice_total_negative")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["billing_invoice.id"],
            name=op.f("fk_billing_rectifying_invoice_invoice_id_billing_invoice")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff_user.id"],
            name=op.f("fk_billing_rectifying_invoice_created_by_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_rectifying_invoice")),
        sa.UniqueConstraint("series", "number",
                            name="uq_billing_rectifying_invoice_series_number"),
        sa.UniqueConstraint("reference", name=op.f("uq_billing_rectifying_invoice_reference")),
    )
    with op.batch_alter_table("billing_rectifying_invoice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_billing_rectifying_invoice_invoice_id"),
                              ["invoice_id"], unique=False)
    op.create_index("ix_billing_payment_attempt_pending", "billing_payment_attempt",
                    ["invoice_id"], unique=False, postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_billing_payment_attempt_pending", table_name="billing_payment_attempt")
    with op.batch_alter_table("billing_rectifying_invoice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_rectifying_invoice_invoice_id"))
    op.drop_table("billing_rectifying_invoice")
