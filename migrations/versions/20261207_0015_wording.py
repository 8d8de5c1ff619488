"""Wording: a task's texts kept as message keys with their values (#18).

task gains message (JSON, nullable): {"title": [msgid, params], "details": [[msgid, params],
...]}. The panel words it in each reader's language; title and details keep the text in the
team's language, as before, for searches, exports and the rows written before this revision
(their message is empty and they read as stored).

Revision ID: 0015_wording
Revises: 0014_plan_queue
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_wording"
down_revision = "0014_plan_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("message", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.drop_column("message")
