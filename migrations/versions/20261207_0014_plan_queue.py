"""Plan runs on a task queue: a run is queued, then solved by a worker process.

plan_run gains the statuses queued, running and failed; wall_s, score, plan and base become
nullable (empty until a worker has solved the run); new columns say how to solve it (repair,
publish_when_done, affected), who solves it and how far it got (started_at, finished_at,
heartbeat_at, worker, progress), who asked it to stop (stop_requested_at, stop_requested_by),
why it failed (error) and which failed run it retries (retry_of_id).

SQLite rebuilds the table to change its CHECK constraint; dropping the old table would run
coverage_snapshot's ON DELETE SET NULL, so the snapshots' links are kept aside and put back.

Revision ID: 0014_plan_queue
Revises: 0013_figures
"""

from alembic import op
import sqlalchemy as sa

revision = "0014_plan_queue"
down_revision = "0013_figures"
branch_labels = None
depends_on = None

OLD = ("draft", "published", "discarded")
NEW = ("queued", "running", "failed", *OLD)
NULLABLE = (("wall_s", sa.Float()), ("score", sa.JSON()), ("plan", sa.JSON()),
            ("base", sa.JSON()))


def _status(values) -> sa.Enum:
    return sa.Enum(*values, name="plan_run_status", native_enum=False, create_constraint=True,
                   length=20)


def _columns() -> list[sa.Column]:
    return [
        sa.Column("repair", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("publish_when_done", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("affected", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("worker", sa.String(length=120), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.Column("stop_requested_at", sa.DateTime(), nullable=True),
        sa.Column("stop_requested_by", sa.String(length=120), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retry_of_id", sa.Integer(), nullable=True),
    ]


def _snapshot_links(conn) -> list[dict]:
    if conn.dialect.name != "sqlite":
        return []
    return [{"i": i, "r": r} for i, r in conn.execute(sa.text(
        "SELECT id, run_id FROM coverage_snapshot WHERE run_id IS NOT NULL"))]


def _restore_links(conn, links: list[dict]) -> None:
    if links:
        conn.execute(sa.text("UPDATE coverage_snapshot SET run_id = :r WHERE id = :i"), links)


def _drop_status_check(batch_op) -> None:
    # PostgreSQL: alter_column drops the old type's CHECK itself; SQLite's rebuilt table must
    # be told to leave the reflected one out
    if op.get_bind().dialect.name == "sqlite":
        batch_op.drop_constraint(op.f("ck_plan_run_plan_run_status"), type_="check")


def upgrade() -> None:
    conn = op.get_bind()
    links = _snapshot_links(conn)
    with op.batch_alter_table("plan_run", recreate="auto") as batch_op:
        _drop_status_check(batch_op)
        batch_op.alter_column("status", existing_type=_status(OLD), type_=_status(NEW),
                              existing_nullable=False)
        for name, type_ in NULLABLE:
            batch_op.alter_column(name, existing_type=type_, nullable=True)
        for column in _columns():
            batch_op.add_column(column)
        batch_op.create_foreign_key(op.f("fk_plan_run_retry_of_id_plan_run"), "plan_run",
                                    ["retry_of_id"], ["id"])
    _restore_links(conn, links)


def downgrade() -> None:
    conn = op.get_bind()
    links = _snapshot_links(conn)
    # runs that never produced a plan cannot be kept in the old shape
    op.execute(sa.text("UPDATE plan_run SET retry_of_id = NULL"))
    op.execute(sa.text("DELETE FROM coverage_snapshot WHERE run_id IN (SELECT id FROM plan_run "
                       "WHERE status IN ('queued', 'running', 'failed'))"))
    op.execute(sa.text("DELETE FROM plan_run WHERE status IN ('queued', 'running', 'failed') "
                       "OR plan IS NULL"))
    links = [x for x in links if conn.scalar(sa.text("SELECT 1 FROM plan_run WHERE id = :r"),
                                             {"r": x["r"]})]
    with op.batch_alter_table("plan_run", recreate="auto") as batch_op:
        batch_op.drop_constraint(op.f("fk_plan_run_retry_of_id_plan_run"), type_="foreignkey")
        for column in reversed(_columns()):
            batch_op.drop_column(column.name)
        for name, type_ in NULLABLE:
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        _drop_status_check(batch_op)
        batch_op.alter_column("status", existing_type=_status(NEW), type_=_status(OLD),
                              existing_nullable=False)
    _restore_links(conn, links)
