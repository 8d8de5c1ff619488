"""Create billing: invoices (numbered per series without gaps) and their lines, the dunning
policy (seeded with finance's default steps), step runs that make each step happen once,
payment attempts with their idempotency keys, payments and refunds, the invoice timeline,
two-person write-offs, raw Stripe webhook events and saved cards.

Revision ID: 0003_billing
Revises: 0002_vetting
Create Date: 2026-11-23 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_billing"
down_revision = "0002_vetting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_dunning_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('retry', sa.Boolean(), nullable=False),
    sa.Column('mail_template', sa.String(length=40), nullable=True),
    sa.Column('call_task', sa.Boolean(), nullable=False),
    sa.Column('hold_bookings', sa.Boolean(), nullable=False),
    sa.Column('close_uncollectible', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_dunning_step')),
    sa.UniqueConstraint('day', name=op.f('uq_billing_dunning_step_day'))
    )
    op.create_table('billing_invoice_counter',
    sa.Column('series', sa.String(length=20), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', name=op.f('pk_billing_invoice_counter'))
    )
    op.create_table('billing_webhook_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_id', sa.String(length=80), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('processed_at', sa.DateTime(), nullable=True),
    sa.Column('result', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_webhook_event')),
    sa.UniqueConstraint('stripe_id', name=op.f('uq_billing_webhook_event_stripe_id'))
    )
    op.create_table('billing_invoice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series', sa.String(length=20), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('subtotal_cents', sa.Integer(), nullable=False),
    sa.Column('vat_rate_bp', sa.Integer(), nullable=False),
    sa.Column('vat_cents', sa.Integer(), nullable=False),
    sa.Column('total_cents', sa.Integer(), nullable=False),
    sa.Column('paid_cents', sa.Integer(), nullable=False),
    sa.Column('credited_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'paid', 'in_dunning', 'paused', 'uncollectible', 'written_off', name='invoice_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('dunning_day', sa.Integer(), nullable=True),
    sa.Column('entered_dunning_cents', sa.Integer(), nullable=True),
    sa.Column('hard_declined', sa.Boolean(), nullable=False),
    sa.Column('last_decline_code', sa.String(length=40), nullable=True),
    sa.Column('paused_until', sa.Date(), nullable=True),
    sa.Column('pause_reason', sa.String(length=255), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('total_cents >= 0', name=op.f('ck_billing_invoice_total_nonnegative')),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], name=op.f('fk_billing_invoice_client_id_client')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_invoice')),
    sa.UniqueConstraint('series', 'number', name='uq_billing_invoice_series_number')
    )
    with op.batch_alter_table('billing_invoice', schema=None) as batch_op:
        batch_op.create_index('ix_billing_invoice_client_period', ['client_id', 'period_start'], unique=False)
        batch_op.create_index('ix_billing_invoice_status_due', ['status', 'due_on', 'id'], unique=False)

    op.create_table('billing_saved_card',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('payment_method_id', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], name=op.f('fk_billing_saved_card_client_id_client')),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_billing_saved_card'))
    )
    op.create_table('billing_invoice_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('day', sa.Integer(), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoice.id'], name=op.f('fk_billing_invoice_event_invoice_id_billing_invoice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_invoice_event'))
    )
    with op.batch_alter_table('billing_invoice_event', schema=None) as batch_op:
        batch_op.create_index('ix_billing_invoice_event_invoice', ['invoice_id', 'id'], unique=False)

    op.create_table('billing_invoice_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('service_request_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoice.id'], name=op.f('fk_billing_invoice_line_invoice_id_billing_invoice'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_request_id'], ['service_request.id'], name=op.f('fk_billing_invoice_line_service_request_id_service_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_invoice_line')),
    sa.UniqueConstraint('service_request_id', name=op.f('uq_billing_invoice_line_service_request_id'))
    )
    with op.batch_alter_table('billing_invoice_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_invoice_line_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('billing_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=120), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('dunning_day', sa.Integer(), nullable=True),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entered_by_id'], ['staff_user.id'], name=op.f('fk_billing_payment_entered_by_id_staff_user')),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoice.id'], name=op.f('fk_billing_payment_invoice_id_billing_invoice')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_payment')),
    sa.UniqueConstraint('reference', name=op.f('uq_billing_payment_reference'))
    )
    with op.batch_alter_table('billing_payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_payment_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('billing_payment_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=80), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'succeeded', 'failed', name='attempt_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=64), nullable=True),
    sa.Column('decline_code', sa.String(length=40), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoice.id'], name=op.f('fk_billing_payment_attempt_invoice_id_billing_invoice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_payment_attempt')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_billing_payment_attempt_idempotency_key'))
    )
    with op.batch_alter_table('billing_payment_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_payment_attempt_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_payment_attempt_payment_intent_id'), ['payment_intent_id'], unique=False)

    op.create_table('billing_step_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoice.id'], name=op.f('fk_billing_step_run_invoice_id_billing_invoice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_step_run')),
    sa.UniqueConstraint('invoice_id', 'day', name='uq_billing_step_run_day')
    )
    with op.batch_alter_table('billing_step_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_step_run_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('billing_write_off',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=False),
    sa.Column('proposed_at', sa.DateTime(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['staff_user.id'], name=op.f('fk_billing_write_off_approved_by_id_staff_user')),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoice.id'], name=op.f('fk_billing_write_off_invoice_id_billing_invoice')),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['staff_user.id'], name=op.f('fk_billing_write_off_proposed_by_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_write_off')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_billing_write_off_invoice_id'))
    )

    steps = sa.table(
        "billing_dunning_step", sa.column("day", sa.Integer), sa.column("retry", sa.Boolean),
        sa.column("mail_template", sa.String), sa.column("call_task", sa.Boolean),
        sa.column("hold_bookings", sa.Boolean), sa.column("close_uncollectible", sa.Boolean),
        sa.column("active", sa.Boolean),
    )
    # The policy finance starts from; they edit it in the panel.
    op.bulk_insert(steps, [
        {"day": d, "retry": r, "mail_template": m, "call_task": c, "hold_bookings": h,
         "close_uncollectible": u, "active": True}
        for d, r, m, c, h, u in (
            (0, True, "payment_failed", False, False, False),
            (3, True, "reminder", False, False, False),
            (7, True, "reminder", False, False, False),
            (14, False, None, True, False, False),
            (21, False, "final_notice", False, False, False),
            (30, False, "account_held", False, True, True),
        )
    ])


def downgrade() -> None:
    op.drop_table('billing_write_off')
    with op.batch_alter_table('billing_step_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_step_run_invoice_id'))

    op.drop_table('billing_step_run')
    with op.batch_alter_table('billing_payment_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_payment_attempt_payment_intent_id'))
        batch_op.drop_index(batch_op.f('ix_billing_payment_attempt_invoice_id'))

    op.drop_table('billing_payment_attempt')
    with op.batch_alter_table('billing_payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_payment_invoice_id'))

    op.drop_table('billing_payment')
    with op.batch_alter_table('billing_invoice_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_invoice_line_invoice_id'))

    op.drop_table('billing_invoice_line')
    with op.batch_alter_table('billing_invoice_event', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_invoice_event_invoice')

    op.drop_table('billing_invoice_event')
    op.drop_table('billing_saved_card')
    with op.batch_alter_table('billing_invoice', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_invoice_status_due')
        batch_op.drop_index('ix_billing_invoice_client_period')

    op.drop_table('billing_invoice')
    op.drop_table('billing_webhook_event')
    op.drop_table('billing_invoice_counter')
    op.drop_table('billing_dunning_step')
