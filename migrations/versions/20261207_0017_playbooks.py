"""Playbooks: goodwill credits (four eyes above a limit finance sets) and billing settings.

Adds billing_goodwill_credit (a credit offered on a complaint or a no-show: issued at once up
to the limit, otherwise proposed and approved by a second finance user) and billing_setting
(key/value numbers finance edits), seeded with goodwill_limit_cents = 2000 (20 euros).

Revision ID: 0017_playbooks
Revises: 0016_timeline
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0017_playbooks"
down_revision = "0016_timeline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_goodwill_credit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("service_request_id", sa.Integer(), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("status", sa.Enum("proposed", "issued", "cancelled", name="credit_status",
                                    native_enum=False, create_constraint=True, length=20),
                  nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("rectifying_invoice_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("amount_cents > 0",
                           name=op.f("ck_billing_goodwill_credit_amount_positive")),
        sa.ForeignKeyConstraint(["invoice_id"], ["billing_invoice.id"],
                                name=op.f("fk_billing_goodwill_credit_invoice_id_billing_invoice")),
        sa.ForeignKeyConstraint(["proposed_by_id"], ["staff_user.id"],
                                name=op.f("fk_billing_goodwill_credit_proposed_by_id_staff_user")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["staff_user.id"],
                                name=op.f("fk_billing_goodwill_credit_decided_by_id_staff_user")),
        sa.ForeignKeyConstraint(
            ["rectifying_invoice_id"], ["billing_rectifying_invoice.id"],
            name=op.f("fk_billing_goodwill_credit_rectifying_invoice_id_billing_rectifying_invoice")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_goodwill_credit")),
    )
    op.create_index(op.f("ix_billing_goodwill_credit_invoice_id"), "billing_goodwill_credit",
                    ["invoice_id"])
    op.create_index(op.f("ix_billing_goodwill_credit_case_id"), "billing_goodwill_credit",
                    ["case_id"])
    setting = op.create_table(
        "billing_setting",
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("value", sa.String(80), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_billing_setting")),
    )
    op.bulk_insert(setting, [{"key": "goodwill_limit_cents", "value": "2000",
                              "updated_at": datetime(2026, 12, 7)}])


def downgrade() -> None:
    op.drop_table("billing_setting")
    op.drop_table("billing_goodwill_credit")
