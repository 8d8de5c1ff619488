"""Run the Alembic revisions programmatically: `backoffice db upgrade` and the tests use this."""

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

from backoffice.db import make_engine, normalise_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    """Return an Alembic config pointing at the project's revisions and url."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


def create_database(url: str) -> None:
    """Create the PostgreSQL database that url names unless it exists (SQLite makes its own)."""
    url = normalise_url(url)
    if not url.startswith("postgresql"):
        return
    target = sa.make_url(url)
    server = make_engine(target.set(database="postgres").render_as_string(hide_password=False))
    try:
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            name = target.database
            if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                               {"n": name}):
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        server.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the database at url to revision."""
    command.upgrade(alembic_config(url), revision)


def revision(url: str, message: str) -> None:
    """Autogenerate a new revision against the database at url (developers only)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
