"""People: interactions (calls and notes on a client's or professional's timeline), merged
clients, reminder opt-out and failing mail addresses, and satisfaction surveys.

Adds client.merged_into_id (a client merged into another points at the one kept),
client/professional.reminders_opt_out and email_failing_since, the interaction table and the
survey table (one per solved case or done service, answered once through a hashed token).

Revision ID: 0010_people
Revises: 0009_cases
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_people"
down_revision = "0009_cases"
branch_labels = None
depends_on = None


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: a batch copy of client on SQLite would trip the
    # request_count triggers of 0006, which name the table.
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("client", sa.Column("merged_into_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_client_merged_into_id_client"), "client", "client",
                              ["merged_into_id"], ["id"])
    else:
        op.execute("ALTER TABLE client ADD COLUMN merged_into_id INTEGER REFERENCES client (id)")
    op.create_index(op.f("ix_client_merged_into_id"), "client", ["merged_into_id"])
    for table in ("client", "professional"):
        op.add_column(table, sa.Column("reminders_opt_out", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
        op.add_column(table, sa.Column("email_failing_since", sa.DateTime(), nullable=True))
    op.create_table(
        "interaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", _enum("interaction_kind", ("call_in", "call_out", "note")),
                  nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("professional_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("entity", sa.String(60), nullable=True),
        sa.Column("entity_id", sa.String(60), nullable=True),
        sa.CheckConstraint("client_id IS NOT NULL OR professional_id IS NOT NULL",
                           name=op.f("ck_interaction_about_someone")),
        sa.CheckConstraint("duration_s IS NULL OR duration_s >= 0",
                           name=op.f("ck_interaction_duration_nonnegative")),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"],
                                name=op.f("fk_interaction_client_id_client")),
        sa.ForeignKeyConstraint(["professional_id"], ["professional.id"],
                                name=op.f("fk_interaction_professional_id_professional")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_user.id"],
                                name=op.f("fk_interaction_staff_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interaction")),
    )
    op.create_index("ix_interaction_client_at", "interaction", ["client_id", "at"])
    op.create_index("ix_interaction_professional_at", "interaction", ["professional_id", "at"])
    op.create_table(
        "survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", _enum("survey_subject", ("case", "service")), nullable=False),
        sa.Column("dedup_key", sa.String(80), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("service_request_id", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("professional_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("concerned_staff_id", sa.Integer(), nullable=True),
        sa.Column("concerned_professional_id", sa.Integer(), nullable=True),
        sa.Column("concerned_name", sa.String(120), nullable=True),
        sa.Column("category_code", sa.String(40), nullable=True),
        sa.Column("status", _enum("survey_status", ("scheduled", "sent", "answered", "expired",
                                                    "cancelled")), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("send_after", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5",
                           name=op.f("ck_survey_score_range")),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_survey_case_id_case")),
        sa.ForeignKeyConstraint(["service_request_id"], ["service_request.id"],
                                name=op.f("fk_survey_service_request_id_service_request")),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"],
                                name=op.f("fk_survey_client_id_client")),
        sa.ForeignKeyConstraint(["professional_id"], ["professional.id"],
                                name=op.f("fk_survey_professional_id_professional")),
        sa.ForeignKeyConstraint(["concerned_staff_id"], ["staff_user.id"],
                                name=op.f("fk_survey_concerned_staff_id_staff_user")),
        sa.ForeignKeyConstraint(["concerned_professional_id"], ["professional.id"],
                                name=op.f("fk_survey_concerned_professional_id_professional")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_survey_dedup_key")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_survey_token_hash")),
    )
    op.create_index("ix_survey_status_send_after", "survey", ["status", "send_after"])
    op.create_index("ix_survey_answered_at", "survey", ["answered_at"])
    op.create_index(op.f("ix_survey_case_id"), "survey", ["case_id"])
    op.create_index(op.f("ix_survey_service_request_id"), "survey", ["service_request_id"])
    op.create_index(op.f("ix_survey_client_id"), "survey", ["client_id"])
    op.create_index(op.f("ix_survey_concerned_professional_id"), "survey",
                    ["concerned_professional_id"])


def downgrade() -> None:
    op.drop_table("survey")
    op.drop_table("interaction")
    op.drop_index(op.f("ix_client_merged_into_id"), "client")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_client_merged_into_id_client"), "client",
                           type_="foreignkey")
    for table, columns in (("professional", ("email_failing_since", "reminders_opt_out")),
                           ("client", ("email_failing_since", "reminders_opt_out",
                                       "merged_into_id"))):
        for column in columns:  # SQLite 3.35+ drops a plain column in place
            op.drop_column(table, column)
