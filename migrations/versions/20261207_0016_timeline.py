"""Timeline: indexes the person pages read by (backoffice/timeline.py).

- outbox_message (to_address, created_at): the mails sent to a person's address, newest first.
- vetting_incident (service_request_id): the incidents that name a client through a service.
- audit_event (entity, entity_id, at): a record's audit rows newest first, read index-only
  for the many bookings of one client.

Revision ID: 0016_timeline
Revises: 0015_wording
"""

from alembic import op

revision = "0016_timeline"
down_revision = "0015_wording"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_outbox_message_to_address_created", "outbox_message", ["to_address", "created_at"]),
    ("ix_vetting_incident_service_request", "vetting_incident", ["service_request_id"]),
    ("ix_audit_event_entity_at", "audit_event", ["entity", "entity_id", "at", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
