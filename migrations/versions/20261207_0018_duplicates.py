"""Duplicate clients found ahead: client_duplicate holds the pairs the nightly search found.

Reading every client's address to compare names took seconds on a large client table at each
view of the duplicates page; the search now runs in a job (and on an agent's request) and the
page reads its pairs.

Revision ID: 0018_duplicates
Revises: 0017_playbooks
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_duplicates"
down_revision = "0017_playbooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_duplicate",
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("second_id", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.String(60), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["first_id"], ["client.id"], ondelete="CASCADE",
                                name=op.f("fk_client_duplicate_first_id_client")),
        sa.ForeignKeyConstraint(["second_id"], ["client.id"], ondelete="CASCADE",
                                name=op.f("fk_client_duplicate_second_id_client")),
        sa.PrimaryKeyConstraint("first_id", "second_id", name=op.f("pk_client_duplicate")),
    )
    op.create_index(op.f("ix_client_duplicate_score"), "client_duplicate", ["score"])


def downgrade() -> None:
    op.drop_table("client_duplicate")
