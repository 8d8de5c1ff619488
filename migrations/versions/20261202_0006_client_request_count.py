"""Clients: how many service requests each has, kept by the database; a search index.

Adds client.request_count, filled from the existing requests, and triggers on
service_request (insert, delete, a request moved to another client) that keep it exact in the
same transaction as the change. The client list shows it, and a search by client name counts
its matches from it instead of counting every matching request again.

On PostgreSQL also ix_service_request_date_client: (service_date, id) carrying client_id, so
the newest requests of the clients a search matched are found walking dates in the index alone,
without reading each request's row.

Revision ID: 0006_client_request_count
Revises: 0005_billing_rectify
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_client_request_count"
down_revision = "0005_billing_rectify"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = {
    "service_request_count_insert": (
        "AFTER INSERT ON service_request BEGIN "
        "UPDATE client SET request_count = request_count + 1 WHERE id = NEW.client_id; END"),
    "service_request_count_delete": (
        "AFTER DELETE ON service_request BEGIN "
        "UPDATE client SET request_count = request_count - 1 WHERE id = OLD.client_id; END"),
    "service_request_count_move": (
        "AFTER UPDATE OF client_id ON service_request "
        "WHEN OLD.client_id IS NOT NEW.client_id BEGIN "
        "UPDATE client SET request_count = request_count - 1 WHERE id = OLD.client_id; "
        "UPDATE client SET request_count = request_count + 1 WHERE id = NEW.client_id; END"),
}


def upgrade() -> None:
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_count", sa.Integer(), nullable=False,
                                      server_default="0"))
    op.execute(
        "UPDATE client SET request_count = "
        "(SELECT count(*) FROM service_request WHERE service_request.client_id = client.id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_service_request_date_client ON service_request "
                   "(service_date, id) INCLUDE (client_id)")
        op.execute(
            """
            CREATE FUNCTION service_request_count() RETURNS trigger AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN
                    UPDATE client SET request_count = request_count - 1 WHERE id = OLD.client_id;
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    UPDATE client SET request_count = request_count + 1 WHERE id = NEW.client_id;
                END IF;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER service_request_count AFTER INSERT OR DELETE ON service_request "
            "FOR EACH ROW EXECUTE FUNCTION service_request_count()"
        )
        op.execute(
            "CREATE TRIGGER service_request_count_move AFTER UPDATE OF client_id "
            "ON service_request FOR EACH ROW WHEN (OLD.client_id IS DISTINCT FROM NEW.client_id) "
            "EXECUTE FUNCTION service_request_count()"
        )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS service_request_count_move ON service_request")
        op.execute("DROP TRIGGER IF EXISTS service_request_count ON service_request")
        op.execute("DROP FUNCTION IF EXISTS service_request_count()")
        op.execute("DROP INDEX IF EXISTS ix_service_request_date_client")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_column("request_count")
