"""Pooled connections: one the server dropped while idle is replaced before a page uses it."""

import pytest
import sqlalchemy as sa

from backoffice import db as db_module
from backoffice.db import make_engine

PID = sa.text("SELECT pg_backend_pid()")


def _terminate(url: str, pid: int) -> None:
    admin = make_engine(url)
    with admin.connect() as conn:
        assert conn.scalar(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    admin.dispose()


def test_a_connection_dropped_while_idle_is_replaced(database_url, is_postgres, monkeypatch):
    if not is_postgres:
        pytest.skip("a server that drops connections is PostgreSQL's; SQLite has none")
    engine = make_engine(database_url)
    try:
        monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)  # every pooled one is "idle"
        with engine.connect() as conn:
            first = conn.scalar(PID)
        _terminate(database_url, first)
        with engine.connect() as conn:  # pinged, found dead, replaced: no error reaches the page
            second = conn.scalar(PID)
        assert second != first

        # A connection used a moment ago skips the ping: if the server dropped it in that
        # moment, one statement fails, and the pool then starts afresh.
        monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 3600.0)
        _terminate(database_url, second)
        with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
            conn.scalar(PID)
        with engine.connect() as conn:
            assert conn.scalar(PID) not in (first, second)
    finally:
        engine.dispose()


PREPARED = sa.text("SELECT statement FROM pg_prepared_statements")


def test_statements_stay_prepared_across_read_only_transactions(database_url, is_postgres):
    """psycopg forgets its prepared statements at each ROLLBACK; reads end with COMMIT."""
    if not is_postgres:
        pytest.skip("prepared statements and psycopg are PostgreSQL's")
    engine = make_engine(database_url)
    lookup = sa.text("SELECT count(*) FROM staff_user WHERE id > :n")
    try:
        for _ in range(6):  # psycopg prepares a statement at its fifth run on a connection
            with engine.connect() as conn:  # each a transaction of its own, ended on close
                conn.execute(lookup, {"n": 0}).all()
        with engine.connect() as conn:
            assert any("FROM staff_user WHERE id >" in s for (s,) in conn.execute(PREPARED))
    finally:
        engine.dispose()


def test_a_transaction_that_wrote_or_failed_still_rolls_back(database_url, is_postgres):
    if not is_postgres:
        pytest.skip("the commit of read-only transactions is PostgreSQL's")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE scratch_rollback (x integer)"))
        with engine.connect() as conn:  # closed without commit: the insert is undone
            conn.execute(sa.text("SELECT count(*) FROM scratch_rollback")).all()
            conn.execute(sa.text("INSERT INTO scratch_rollback VALUES (1)"))
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError):
            conn.execute(sa.text("SELECT 1 / 0")).all()  # a failed transaction, then closed
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM scratch_rollback")) == 0
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS scratch_rollback"))
        engine.dispose()
