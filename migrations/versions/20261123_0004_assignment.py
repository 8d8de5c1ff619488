"""Assignment: plan runs, coverage snapshots, and the database's refusal of double bookings.

Creates plan_run (each solve of the horizon: who, when, score, wall time, status, the plan) and
coverage_snapshot (covered / requested per service day, zone and skill, per day taken). Adds the
double-booking guard on service_request: on PostgreSQL the btree_gist extension and an exclusion
constraint on (professional_id, tsrange(start_at, end_at)) for active bookings; on SQLite
BEFORE INSERT / BEFORE UPDATE triggers that abort on an overlapping active booking.

Revision ID: 0004_assignment
Revises: 0003_billing
"""

from alembic import op
import sqlalchemy as sa


revision = "0004_assignment"
down_revision = "0003_billing"
branch_labels = None
depends_on = None

ACTIVE = "('assigned','confirmed','in_progress')"
GUARD = "service_request_no_double_booking"
# The message the service layer recognises and turns into "<pro> is already booked ...".
SQLITE_MESSAGE = "double booking: the professional is already booked at that time"


def upgrade() -> None:
    op.create_table(
        "plan_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Enum("manual", "repair", "nightly", "demo", name="plan_run_kind", native_enum=False, create_constraint=True, length=20), nullable=False),
        sa.Column("horizon_start", sa.Date(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.Enum("draft", "published", "discarded", name="plan_run_status", native_enum=False, create_constraint=True, length=20), nullable=False),
        sa.Column("wall_s", sa.Float(), nullable=False),
        sa.Column("time_limit_s", sa.Float(), nullable=False),
        sa.Column("score", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("base", sa.JSON(), nullable=False),
        sa.Column("diff_counts", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["staff_user.id"], name=op.f("fk_plan_run_created_by_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_run")),
    )
    with op.batch_alter_table("plan_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_run_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_plan_run_status_id", ["status", "id"], unique=False)

    op.create_table(
        "coverage_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        sa.Column("skill", sa.String(length=20), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("covered", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("covered <= requests", name=op.f("ck_coverage_snapshot_covered_le_requests")),
        sa.ForeignKeyConstraint(["run_id"], ["plan_run.id"], name=op.f("fk_coverage_snapshot_run_id_plan_run"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_snapshot")),
        sa.UniqueConstraint("taken_on", "day", "zone", "skill", name="uq_coverage_snapshot_key"),
    )
    with op.batch_alter_table("coverage_snapshot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coverage_snapshot_taken_on"), ["taken_on"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            f"ALTER TABLE service_request ADD CONSTRAINT {GUARD} EXCLUDE USING gist "
            "(professional_id WITH =, tsrange(start_at, end_at) WITH &&) "
            "WHERE (professional_id IS NOT NULL AND start_at IS NOT NULL AND end_at IS NOT NULL "
            f"AND status IN {ACTIVE})"
        )
    else:
        for verb in ("INSERT", "UPDATE"):
            op.execute(
                f"""
                CREATE TRIGGER {GUARD}_{verb.lower()} BEFORE {verb} ON service_request
                FOR EACH ROW
                WHEN NEW.professional_id IS NOT NULL AND NEW.start_at IS NOT NULL
                     AND NEW.end_at IS NOT NULL AND NEW.status IN {ACTIVE}
                BEGIN
                    SELECT RAISE(ABORT, '{SQLITE_MESSAGE}')
                    WHERE EXISTS (
                        SELECT 1 FROM service_request AS o
                        WHERE o.professional_id = NEW.professional_id
                          AND o.id IS NOT NEW.id
                          AND o.status IN {ACTIVE}
                          AND o.start_at < NEW.end_at AND NEW.start_at < o.end_at
                    );
                END
                """
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE service_request DROP CONSTRAINT IF EXISTS {GUARD}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {GUARD}_insert")
        op.execute(f"DROP TRIGGER IF EXISTS {GUARD}_update")
    with op.batch_alter_table("coverage_snapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coverage_snapshot_taken_on"))
    op.drop_table("coverage_snapshot")
    with op.batch_alter_table("plan_run", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_run_status_id")
        batch_op.drop_index(batch_op.f("ix_plan_run_created_at"))
    op.drop_table("plan_run")
