"""Declarative base with a constraint naming convention, engines and sessions."""

import time
import weakref
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def __getattr__(name: str):
    # `db`, the Flask extension, is made on first use: the app and the panel use it, while the
    # commands and the jobs run on make_sessionmaker and never import Flask.
    if name == "db":
        global db
        from flask_sqlalchemy_lite import SQLAlchemy

        db = SQLAlchemy(session_options={"expire_on_commit": False})
        return db
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime, the form stored in every column."""
    return datetime.now(UTC).replace(tzinfo=None)


def is_postgres(session_or_engine) -> bool:
    """Tell whether the session or engine talks to PostgreSQL."""
    bind = session_or_engine
    if isinstance(session_or_engine, Session):
        bind = session_or_engine.get_bind()
    return bind.dialect.name == "postgresql"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for a bare postgresql:// URL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def engine_options(url: str) -> dict:
    """Return create_engine keyword arguments suited to the database kind."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return {"url": url, "connect_args": {"timeout": 30, "check_same_thread": False}}
    # No pool_pre_ping: configure_engine pings only connections that sat idle (see there).
    return {"url": url, "pool_size": 10, "max_overflow": 10}


# A connection idle this long is pinged before use: a database restart or a dropped socket is
# found then, while a connection busy a moment ago skips the round trip on every page.
IDLE_PING_SECONDS = 5.0


def _ping_idle_connections(engine: sa.Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out another (SQLAlchemy's
            # "pessimistic disconnect handling" with a custom ping).
            raise sa.exc.DisconnectionError(str(exc)) from exc


# Raw connections whose current transaction wrote (statements other than SELECT).
_WROTE: weakref.WeakSet = weakref.WeakSet()


def mark_written(session: Session) -> None:
    """Note that the session's transaction writes behind SQLAlchemy's back (a COPY)."""
    _WROTE.add(session.connection().connection.dbapi_connection)


def _end_reads_with_commit(engine: sa.Engine) -> None:
    """End a transaction that only read with COMMIT rather than ROLLBACK (PostgreSQL).

    psycopg forgets every statement it prepared on a connection at each ROLLBACK (and has the
    server deallocate them), and a page's transaction always ends in one: so no statement ever
    stayed prepared, and PostgreSQL parsed and planned each one on every page (a millisecond
    for a record page's joins). For a transaction that ran only SELECTs, COMMIT and ROLLBACK
    leave the same data; a transaction that wrote anything, or failed, still rolls back.
    """
    from psycopg.pq import TransactionStatus  # only PostgreSQL engines pay for psycopg

    wrote = _WROTE
    dialect = engine.dialect
    rollback, commit = dialect.do_rollback, dialect.do_commit

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(conn, _cursor, statement, _parameters, _context, executemany):
        if executemany or statement.lstrip()[:6].upper() != "SELECT":
            wrote.add(conn.connection.dbapi_connection)

    def do_rollback(dbapi_connection) -> None:
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
        read_only = raw not in wrote
        wrote.discard(raw)
        status = getattr(getattr(raw, "info", None), "transaction_status", None)
        if read_only and status == TransactionStatus.INTRANS:
            commit(dbapi_connection)
        else:
            rollback(dbapi_connection)

    def do_commit(dbapi_connection) -> None:
        wrote.discard(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))
        commit(dbapi_connection)

    dialect.do_rollback, dialect.do_commit = do_rollback, do_commit


def configure_engine(engine: sa.Engine) -> sa.Engine:
    """Ping idle pooled connections; keep PostgreSQL's prepared statements across pages; make
    SQLite behave: foreign keys, WAL, real BEGIN."""
    if getattr(engine, "_backoffice_configured", False):
        return engine
    engine._backoffice_configured = True
    if engine.dialect.name != "sqlite":
        _ping_idle_connections(engine)
        if engine.dialect.driver == "psycopg":
            _end_reads_with_commit(engine)
        return engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE takes the write lock up front, so two writers queue instead of failing late.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_engine(url: str) -> sa.Engine:
    """Create an engine outside Flask (commands, jobs, benchmarks, migrations)."""
    opts = engine_options(url)
    return configure_engine(sa.create_engine(opts.pop("url"), **opts))


def make_sessionmaker(engine: sa.Engine) -> sessionmaker[Session]:
    """Return a session factory bound to engine."""
    return sessionmaker(bind=engine, expire_on_commit=False)
