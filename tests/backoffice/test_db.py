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
