"""Clients: how many service requests each has, kept by the database; a search index.

Adds client.request_count, filled from the existing requests, and triggers on
service_request (insert, delete, a request moved to another client) that keep it exact in the
same transaction as the change. On PostgreSQL inserts and deletes are counted per statement
from its transition table, so a bulk load (COPY) updates each client once. The client list shows it, and a search by client name counts
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
        # Per statement, from the rows it inserted or deleted: a bulk insert of a thousand
        # requests updates each of its clients once, not once a request.
        op.execute(
            """
            CREATE FUNCTION service_request_count_rows() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    UPDATE client SET request_count = client.request_count + added.n
                    FROM (SELECT client_id, count(*) AS n FROM new_rows GROUP BY client_id) added
                    WHERE client.id = added.client_id;
                ELSE
                    UPDATE client SET request_count = client.request_count - gone.n
                    FROM (SELECT client_id, count(*) AS n FROM old_rows GROUP BY client_id) gone
                    WHERE client.id = gone.client_id;
                END IF;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER service_request_count_insert AFTER INSERT ON service_request "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION service_request_count_rows()"
        )
        op.execute(
            "CREATE TRIGGER service_request_count_delete AFTER DELETE ON service_request "
            "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION service_request_count_rows()"
        )
        # A request moved to another client: per row, and only when the client changed.
        op.execute(
            """
            CREATE FUNCTION service_request_count_move() RETURNS trigger AS $$
            BEGIN
                UPDATE client SET request_count = request_count - 1 WHERE id = OLD.client_id;
                UPDATE client SET request_count = request_count + 1 WHERE id = NEW.client_id;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER service_request_count_move AFTER UPDATE OF client_id "
            "ON service_request FOR EACH ROW WHEN (OLD.client_id IS DISTINCT FROM NEW.client_id) "
            "EXECUTE FUNCTION service_request_count_move()"
        )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in SQLITE_TRIGGERS:  # the same trigger names on both
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON service_request")
        op.execute("DROP FUNCTION IF EXISTS service_request_count_rows()")
        op.execute("DROP FUNCTION IF EXISTS service_request_count_move()")
        op.execute("DROP INDEX IF EXISTS ix_service_request_date_client")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_column("request_count")
