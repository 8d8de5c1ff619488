"""The survey job: make the surveys that are due, mail them, expire the old ones."""

import os
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.clock import utc
from backoffice.db import is_postgres

# pg_try_advisory_xact_lock key: "send the surveys" (a constant unique in the project).
LOCK_KEY = 0x5C5A7001
HITS_KEPT = timedelta(days=1)  # the page's rate limit looks back minutes; a day is plenty


def public_url(config) -> str:
    """Return the address the survey links start with (PUBLIC_URL), without a final slash."""
    url = config.get("PUBLIC_URL") or os.environ.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    return url.rstrip("/")


def send_surveys(*, session: Session, now: datetime, config) -> dict | None:
    """Make the surveys 24 hours after each solved case and done service, mail them, expire
    the unanswered ones after 14 days; None if another run holds the lock."""
    from surveys import service
    from surveys.models import SurveyHit

    if is_postgres(session) and not session.scalar(
            sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}):
        return None
    now = utc(now)
    made = service.create_due(session, now=now)
    sent = service.send_due(session, now=now, base_url=public_url(config),
                            tz=config.get("BABEL_DEFAULT_TIMEZONE") or "Europe/Madrid")
    expired = service.expire(session, now=now)
    session.execute(sa.delete(SurveyHit).where(SurveyHit.at < now - HITS_KEPT))
    return {"created": len(made), "sent": sent, "expired": expired,
            "not_sent": sum(1 for s in made if s.status == service.S.CANCELLED)}


SCHEDULE = [(send_surveys, "interval", {"minutes": 15})]
