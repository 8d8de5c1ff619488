"""The boundary of a command or a job: its settings, and a transaction that commits at the end,
rolls back on error and says who acted.

No Flask here: a job runs on a plain engine and session factory (backoffice.db), so a command
that does not solve starts in well under half a second. What the app would have given a job
is given explicitly: the settings as a dict, the audit hook on its sessions, and the
catalogues for text written for a team (backoffice.i18n.speaking).
"""

import contextlib
from collections.abc import Mapping


class Boundary:
    """Settings from the environment (config overrides them) and transactions on demand."""

    def __init__(self, config: Mapping | None = None, *, sessionmaker=None) -> None:
        self._overrides, self._config, self._sessionmaker = config, None, sessionmaker

    @property
    def config(self) -> dict:
        """Return the settings, read the first time they are asked for (not for --help)."""
        if self._config is None:
            from backoffice.config import Config

            self._config = {**Config().as_dict(), **(self._overrides or {})}
        return self._config

    @property
    def sessionmaker(self):
        """Return the session factory, on an engine made the first time it is asked for."""
        if self._sessionmaker is None:
            from backoffice.db import make_engine, make_sessionmaker

            self._sessionmaker = make_sessionmaker(make_engine(self.config["DATABASE_URL"]))
        return self._sessionmaker

    @contextlib.contextmanager
    def session(self, actor: str):
        """Yield a session; commit at the end, roll back on error; changes are actor's."""
        from backoffice import audit, i18n

        audit.install()  # what create_app does for the panel's sessions
        with (self.sessionmaker() as session, audit.acting_as(audit.Actor(None, actor)),
              i18n.speaking(self.config)):
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
