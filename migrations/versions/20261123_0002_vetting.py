"""Vetting: applications with their stage visits (time in each stage), documents (type,
number, dates, review status and the metadata of the stored file), identity/background/reference
checks, references, interviews with scorecards, and complaints/no-shows against professionals.

Revision ID: 0002_vetting
Revises: 0001_core
Create Date: 2026-11-23 10:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_vetting"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vetting_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('professional_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.Enum('applied', 'documents', 'checks', 'interview', 'decision', 'approved', 'rejected', 'on_hold', name='vetting_stage', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('stage_entered_at', sa.DateTime(), nullable=False),
    sa.Column('held_from', sa.String(length=20), nullable=True),
    sa.Column('prepared_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('rejection_reason', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_user.id'], name=op.f('fk_vetting_application_decided_by_id_staff_user')),
    sa.ForeignKeyConstraint(['prepared_by_id'], ['staff_user.id'], name=op.f('fk_vetting_application_prepared_by_id_staff_user')),
    sa.ForeignKeyConstraint(['professional_id'], ['professional.id'], name=op.f('fk_vetting_application_professional_id_professional'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vetting_application'))
    )
    with op.batch_alter_table('vetting_application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vetting_application_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vetting_application_professional_id'), ['professional_id'], unique=False)
        batch_op.create_index('ix_vetting_application_stage_entered', ['stage', 'stage_entered_at'], unique=False)
    open_where = sa.text(
        "stage IN ('applied', 'documents', 'checks', 'interview', 'decision', 'on_hold')")
    op.create_index("uq_vetting_application_open", "vetting_application", ["professional_id"],
                    unique=True, sqlite_where=open_where, postgresql_where=open_where)
    op.create_table('vetting_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('professional_id', sa.Integer(), nullable=False),
    sa.Column('doc_type', sa.String(length=30), nullable=False),
    sa.Column('number', sa.String(length=60), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('pending_review', 'accepted', 'rejected', name='vetting_document_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('rejection_reason', sa.String(length=200), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('stored_name', sa.String(length=64), nullable=True),
    sa.Column('original_name', sa.String(length=120), nullable=True),
    sa.Column('content_type', sa.String(length=40), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('expires_on IS NULL OR issued_on IS NULL OR expires_on >= issued_on', name=op.f('ck_vetting_document_expires_after_issue')),
    sa.ForeignKeyConstraint(['professional_id'], ['professional.id'], name=op.f('fk_vetting_document_professional_id_professional'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['staff_user.id'], name=op.f('fk_vetting_document_reviewed_by_id_staff_user')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['staff_user.id'], name=op.f('fk_vetting_document_uploaded_by_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vetting_document')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_vetting_document_stored_name'))
    )
    with op.batch_alter_table('vetting_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vetting_document_professional_id'), ['professional_id'], unique=False)
        batch_op.create_index('ix_vetting_document_status_expires', ['status', 'expires_on'], unique=False)
    op.create_table('vetting_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('identity', 'background', 'references', name='vetting_check_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('pending', 'clear', 'consider', name='vetting_check_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('provider', sa.String(length=30), nullable=False),
    sa.Column('external_ref', sa.String(length=80), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_label', sa.String(length=120), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['vetting_application.id'], name=op.f('fk_vetting_check_application_id_vetting_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff_user.id'], name=op.f('fk_vetting_check_recorded_by_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vetting_check')),
    sa.UniqueConstraint('application_id', 'kind', name='uq_vetting_check_kind')
    )
    with op.batch_alter_table('vetting_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vetting_check_application_id'), ['application_id'], unique=False)
    op.create_table('vetting_incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('professional_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('service_request_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['professional_id'], ['professional.id'], name=op.f('fk_vetting_incident_professional_id_professional'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_request_id'], ['service_request.id'], name=op.f('fk_vetting_incident_service_request_id_service_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vetting_incident'))
    )
    with op.batch_alter_table('vetting_incident', schema=None) as batch_op:
        batch_op.create_index('ix_vetting_incident_pro_on', ['professional_id', 'occurred_on'], unique=False)
    op.create_table('vetting_interview',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(), nullable=False),
    sa.Column('interviewer_id', sa.Integer(), nullable=True),
    sa.Column('scorecard', sa.JSON(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_by_label', sa.String(length=120), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['vetting_application.id'], name=op.f('fk_vetting_interview_application_id_vetting_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['interviewer_id'], ['staff_user.id'], name=op.f('fk_vetting_interview_interviewer_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vetting_interview'))
    )
    with op.batch_alter_table('vetting_interview', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vetting_interview_application_id'), ['application_id'], unique=False)
    op.create_table('vetting_reference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('contact', sa.String(length=254), nullable=False),
    sa.Column('relationship_to', sa.String(length=120), nullable=True),
    sa.Column('contacted_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_by_label', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['vetting_application.id'], name=op.f('fk_vetting_reference_application_id_vetting_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vetting_reference'))
    )
    with op.batch_alter_table('vetting_reference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vetting_reference_application_id'), ['application_id'], unique=False)
    op.create_table('vetting_stage_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Enum('applied', 'documents', 'checks', 'interview', 'decision', 'approved', 'rejected', 'on_hold', name='vetting_visit_stage', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.Column('left_at', sa.DateTime(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['vetting_application.id'], name=op.f('fk_vetting_stage_visit_application_id_vetting_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vetting_stage_visit'))
    )
    with op.batch_alter_table('vetting_stage_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vetting_stage_visit_application_id'), ['application_id'], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table('vetting_stage_visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vetting_stage_visit_application_id'))
    op.drop_table('vetting_stage_visit')
    with op.batch_alter_table('vetting_reference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vetting_reference_application_id'))
    op.drop_table('vetting_reference')
    with op.batch_alter_table('vetting_interview', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vetting_interview_application_id'))
    op.drop_table('vetting_interview')
    with op.batch_alter_table('vetting_incident', schema=None) as batch_op:
        batch_op.drop_index('ix_vetting_incident_pro_on')
    op.drop_table('vetting_incident')
    with op.batch_alter_table('vetting_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vetting_check_application_id'))
    op.drop_table('vetting_check')
    with op.batch_alter_table('vetting_document', schema=None) as batch_op:
        batch_op.drop_index('ix_vetting_document_status_expires')
        batch_op.drop_index(batch_op.f('ix_vetting_document_professional_id'))
    op.drop_table('vetting_document')
    with op.batch_alter_table('vetting_application', schema=None) as batch_op:
        batch_op.drop_index('ix_vetting_application_stage_entered')
        batch_op.drop_index(batch_op.f('ix_vetting_application_professional_id'))
        batch_op.drop_index(batch_op.f('ix_vetting_application_created_at'))
    op.drop_index("uq_vetting_application_open", table_name="vetting_application")
    op.drop_table('vetting_application')
