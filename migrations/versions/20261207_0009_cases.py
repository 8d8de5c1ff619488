"""The level-2 case desk: cases, contacts, articles, attachments, raw mail, links, tags,
state visits, SLA policies, business hours, closed days, macros and saved filters;
outbox_message.headers for mails that belong to a conversation; client.phone_e164 and
professional.phone_e164 (backfilled), the phone in one form, to find who is calling.

Seeds what a desk needs on day one, which the admin then edits: the eight categories (names in
Spanish and English; billing questions and payment disputes shared with finance), business hours
Monday to Friday 9:00-19:00, and one SLA policy per priority.

Revision ID: 0009_cases
Revises: 0008_erasure
Create Date: 2026-12-07 18:07:37.544647
"""

from alembic import op
import sqlalchemy as sa


revision = '0009_cases'
down_revision = '0008_erasure'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_business_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('opens', sa.Time(), nullable=False),
    sa.Column('closes', sa.Time(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_business_hours'))
    )
    op.create_table('case_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_es', sa.String(length=80), nullable=False),
    sa.Column('name_en', sa.String(length=80), nullable=False),
    sa.Column('team', sa.String(length=20), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_category')),
    sa.UniqueConstraint('code', name=op.f('uq_case_category_code'))
    )
    op.create_table('case_closed_day',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_closed_day')),
    sa.UniqueConstraint('day', name=op.f('uq_case_closed_day_day'))
    )
    op.create_table('case_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_contact'))
    )
    with op.batch_alter_table('case_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_contact_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_contact_phone'), ['phone'], unique=False)

    op.create_table('case_mailbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=120), nullable=False),
    sa.Column('uidvalidity', sa.String(length=40), nullable=True),
    sa.Column('last_uid', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('last_ok_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=255), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_mailbox')),
    sa.UniqueConstraint('source', name=op.f('uq_case_mailbox_source'))
    )
    op.create_table('case_macro',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('body_es', sa.Text(), nullable=False),
    sa.Column('body_en', sa.Text(), nullable=False),
    sa.Column('set_state', sa.String(length=20), nullable=True),
    sa.Column('set_category_id', sa.Integer(), nullable=True),
    sa.Column('add_tags', sa.String(length=255), nullable=True),
    sa.Column('outcomes', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['set_category_id'], ['case_category.id'], name=op.f('fk_case_macro_set_category_id_case_category')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_macro')),
    sa.UniqueConstraint('name', name=op.f('uq_case_macro_name'))
    )
    op.create_table('case_saved_filter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('query', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['staff_user.id'], name=op.f('fk_case_saved_filter_user_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_saved_filter'))
    )
    with op.batch_alter_table('case_saved_filter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_saved_filter_user_id'), ['user_id'], unique=False)

    op.create_table('case_sla_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('priority', sa.Enum('low', 'normal', 'high', 'urgent', name='case_priority', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('first_response_minutes', sa.Integer(), nullable=False),
    sa.Column('next_response_minutes', sa.Integer(), nullable=False),
    sa.Column('resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['case_category.id'], name=op.f('fk_case_sla_policy_category_id_case_category')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_sla_policy'))
    )
    op.create_table('case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('state', sa.Enum('new', 'open', 'pending', 'on_hold', 'solved', 'closed', 'merged', name='case_state', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('priority', sa.Enum('low', 'normal', 'high', 'urgent', name='case_priority', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('channel', sa.Enum('mail', 'phone', 'escalation', 'panel', name='case_channel', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('professional_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('team', sa.String(length=20), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(), nullable=True),
    sa.Column('level1_agent', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('state_entered_at', sa.DateTime(), nullable=False),
    sa.Column('solved_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('follows_id', sa.Integer(), nullable=True),
    sa.Column('sla_policy_id', sa.Integer(), nullable=True),
    sa.Column('first_response_at', sa.DateTime(), nullable=True),
    sa.Column('last_response_at', sa.DateTime(), nullable=True),
    sa.Column('awaiting_since', sa.DateTime(), nullable=True),
    sa.Column('first_response_due_at', sa.DateTime(), nullable=True),
    sa.Column('next_response_due_at', sa.DateTime(), nullable=True),
    sa.Column('resolution_due_at', sa.DateTime(), nullable=True),
    sa.Column('next_due_at', sa.DateTime(), nullable=True),
    sa.Column('sla_warned', sa.String(length=80), nullable=False),
    sa.Column('sla_breached', sa.String(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff_user.id'], name=op.f('fk_case_assignee_id_staff_user')),
    sa.ForeignKeyConstraint(['category_id'], ['case_category.id'], name=op.f('fk_case_category_id_case_category')),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], name=op.f('fk_case_client_id_client')),
    sa.ForeignKeyConstraint(['contact_id'], ['case_contact.id'], name=op.f('fk_case_contact_id_case_contact')),
    sa.ForeignKeyConstraint(['follows_id'], ['case.id'], name=op.f('fk_case_follows_id_case')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['case.id'], name=op.f('fk_case_merged_into_id_case')),
    sa.ForeignKeyConstraint(['professional_id'], ['professional.id'], name=op.f('fk_case_professional_id_professional')),
    sa.ForeignKeyConstraint(['sla_policy_id'], ['case_sla_policy.id'], name=op.f('fk_case_sla_policy_id_case_sla_policy')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case'))
    )
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_case_due', ['state', 'next_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_professional_id'), ['professional_id'], unique=False)
        batch_op.create_index('ix_case_state_assignee', ['state', 'assignee_id'], unique=False)
        batch_op.create_index('ix_case_assignee_assigned', ['assignee_id', 'assigned_at'], unique=False)
        batch_op.create_index('ix_case_team_state', ['team', 'state'], unique=False)
        batch_op.create_index('ix_case_updated', ['updated_at'], unique=False)

    op.create_table('case_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_link_case_id_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_link')),
    sa.UniqueConstraint('case_id', 'entity', 'entity_id', name='uq_case_link')
    )
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.create_index('ix_case_link_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('case_raw_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=120), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('from_address', sa.String(length=254), nullable=True),
    sa.Column('subject', sa.String(length=255), nullable=True),
    sa.Column('status', sa.Enum('threaded', 'ignored', 'quarantined', name='case_raw_mail_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_raw_mail_case_id_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_raw_mail')),
    sa.UniqueConstraint('source', 'source_key', name='uq_case_raw_mail_source')
    )
    with op.batch_alter_table('case_raw_mail', schema=None) as batch_op:
        batch_op.create_index('ix_case_raw_mail_status', ['status', 'id'], unique=False)

    op.create_table('case_state_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('new', 'open', 'pending', 'on_hold', 'solved', 'closed', 'merged', name='case_state', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.Column('left_at', sa.DateTime(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_state_visit_case_id_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_state_visit'))
    )
    with op.batch_alter_table('case_state_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_state_visit_case_id'), ['case_id'], unique=False)

    op.create_table('case_tag',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_tag_case_id_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'name', name=op.f('pk_case_tag'))
    )
    with op.batch_alter_table('case_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_tag_name'), ['name'], unique=False)

    op.create_table('case_article',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('mail_in', 'mail_out', 'call_in', 'call_out', 'note', 'summary', name='case_article_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('sender', sa.String(length=254), nullable=True),
    sa.Column('recipients', sa.Text(), nullable=True),
    sa.Column('subject', sa.String(length=255), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('in_reply_to', sa.String(length=255), nullable=True),
    sa.Column('references', sa.Text(), nullable=True),
    sa.Column('raw_mail_id', sa.Integer(), nullable=True),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('call_from', sa.String(length=40), nullable=True),
    sa.Column('call_to', sa.String(length=40), nullable=True),
    sa.Column('call_seconds', sa.Integer(), nullable=True),
    sa.Column('call_outcome', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['staff_user.id'], name=op.f('fk_case_article_author_id_staff_user')),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_article_case_id_case')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox_message.id'], name=op.f('fk_case_article_outbox_id_outbox_message')),
    sa.ForeignKeyConstraint(['raw_mail_id'], ['case_raw_mail.id'], name=op.f('fk_case_article_raw_mail_id_case_raw_mail')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_article'))
    )
    with op.batch_alter_table('case_article', schema=None) as batch_op:
        batch_op.create_index('ix_case_article_case', ['case_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_article_message_id'), ['message_id'], unique=False)

    op.create_table('case_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=120), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=60), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['case_article.id'], name=op.f('fk_case_attachment_article_id_case_article')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_attachment'))
    )
    with op.batch_alter_table('case_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_attachment_article_id'), ['article_id'], unique=False)



    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("headers", sa.JSON(), nullable=True))
    for table in ("client", "professional"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("phone_e164", sa.String(20), nullable=True))
            batch.create_index(f"ix_{table}_phone_e164", ["phone_e164"])
        _backfill_phones(table)
    _seed()


def _backfill_phones(table: str) -> None:
    from backoffice.phones import normalise

    t = sa.table(table, sa.column("id"), sa.column("phone"), sa.column("phone_e164"))
    bind = op.get_bind()
    rows = bind.execute(sa.select(t.c.id, t.c.phone).where(t.c.phone.is_not(None))).all()
    values = [{"i": i, "p": normalise(phone)} for i, phone in rows]
    if values:
        bind.execute(t.update().where(t.c.id == sa.bindparam("i"))
                     .values(phone_e164=sa.bindparam("p")), values)


CATEGORIES = (
    ("booking_change", "Cambio de reserva", "Booking change", None),
    ("cancellation", "Cancelación", "Cancellation", None),
    ("service_complaint", "Queja sobre un servicio", "Complaint about a service", None),
    ("no_show", "No presentado", "No-show", None),
    ("billing_question", "Consulta de facturación", "Billing question", "finance"),
    ("payment_dispute", "Disputa de pago", "Payment dispute", "finance"),
    ("professional_question", "Consulta de profesional", "Professional's question", None),
    ("other", "Otro", "Other", None),
)
# priority: first response, next response, resolution, in business minutes
POLICIES = (
    ("low", 8 * 60, 16 * 60, 5 * 10 * 60),
    ("normal", 4 * 60, 8 * 60, 3 * 10 * 60),
    ("high", 60, 4 * 60, 10 * 60),
    ("urgent", 30, 60, 4 * 60),
)


def _seed() -> None:
    import datetime as dt

    category = sa.table("case_category", sa.column("code"), sa.column("name_es"),
                        sa.column("name_en"), sa.column("team"), sa.column("active"),
                        sa.column("sort"))
    op.bulk_insert(category, [dict(code=c, name_es=es, name_en=en, team=team, active=True,
                                   sort=i) for i, (c, es, en, team) in enumerate(CATEGORIES)])
    hours = sa.table("case_business_hours", sa.column("weekday"),
                     sa.column("opens", sa.Time()), sa.column("closes", sa.Time()))
    op.bulk_insert(hours, [dict(weekday=d, opens=dt.time(9), closes=dt.time(19))
                           for d in range(5)])
    policy = sa.table("case_sla_policy", sa.column("name"), sa.column("priority"),
                      sa.column("first_response_minutes"), sa.column("next_response_minutes"),
                      sa.column("resolution_minutes"), sa.column("active"))
    op.bulk_insert(policy, [dict(name=p, priority=p, first_response_minutes=f,
                                 next_response_minutes=n, resolution_minutes=r, active=True)
                            for p, f, n, r in POLICIES])


def downgrade() -> None:
    for table in ("client", "professional"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_phone_e164")
            batch.drop_column("phone_e164")
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("headers")
    with op.batch_alter_table('case_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_attachment_article_id'))

    op.drop_table('case_attachment')
    with op.batch_alter_table('case_article', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_article_message_id'))
        batch_op.drop_index('ix_case_article_case')

    op.drop_table('case_article')
    with op.batch_alter_table('case_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_tag_name'))

    op.drop_table('case_tag')
    with op.batch_alter_table('case_state_visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_state_visit_case_id'))

    op.drop_table('case_state_visit')
    with op.batch_alter_table('case_raw_mail', schema=None) as batch_op:
        batch_op.drop_index('ix_case_raw_mail_status')

    op.drop_table('case_raw_mail')
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.drop_index('ix_case_link_entity')

    op.drop_table('case_link')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_updated')
        batch_op.drop_index('ix_case_team_state')
        batch_op.drop_index('ix_case_state_assignee')
        batch_op.drop_index('ix_case_assignee_assigned')
        batch_op.drop_index(batch_op.f('ix_case_professional_id'))
        batch_op.drop_index('ix_case_due')
        batch_op.drop_index(batch_op.f('ix_case_created_at'))
        batch_op.drop_index(batch_op.f('ix_case_contact_id'))
        batch_op.drop_index(batch_op.f('ix_case_client_id'))

    op.drop_table('case')
    op.drop_table('case_sla_policy')
    with op.batch_alter_table('case_saved_filter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_saved_filter_user_id'))

    op.drop_table('case_saved_filter')
    op.drop_table('case_macro')
    op.drop_table('case_mailbox')
    with op.batch_alter_table('case_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_contact_phone'))
        batch_op.drop_index(batch_op.f('ix_case_contact_email'))

    op.drop_table('case_contact')
    op.drop_table('case_closed_day')
    op.drop_table('case_category')
    op.drop_table('case_business_hours')
    # ### end Alembic commands ###
