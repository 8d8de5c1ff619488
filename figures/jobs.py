"""The figures' job: keep the summary rows of the figures page up to date."""

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from figures import service

# Often enough that the page is at most this old; each run reads two weeks of raw rows.
EVERY_MINUTES = 15


def refresh_figures(*, session: Session, now: datetime, config) -> dict | None:
    """Rewrite the recent weeks and the weeks changed since the last run; None if another runs."""
    return service.refresh(session, now=now.astimezone(UTC).replace(tzinfo=None),
                           tz=config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Madrid"))


SCHEDULE = [(refresh_figures, "interval", {"minutes": EVERY_MINUTES})]
