"""Run the Alembic revisions programmatically: `backoffice db upgrade` and the tests use this."""

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from backoffice.db import normalise_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    """Return an Alembic config pointing at the project's revisions and url."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the database at url to revision."""
    command.upgrade(alembic_config(url), revision)


def revision(url: str, message: str) -> None:
    """Autogenerate a new revision against the database at url (developers only)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
