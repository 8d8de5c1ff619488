"""Vetting jobs: the daily document check."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice import clock
from backoffice.db import is_postgres
from vetting import compliance
from vetting import service as _service  # noqa: F401  (its re-review task checker)

# pg_try_advisory_xact_lock key: "vetting document check" (any constant unique in the project).
LOCK_KEY = 0x7E771001


def check_documents(*, session: Session, now: datetime, config) -> dict | None:
    """Remind about expiring documents, suspend for expired ones; None if another run holds it."""
    if is_postgres(session) and not session.scalar(
        sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}
    ):
        return None
    days = int(config.get("VETTING_EXPIRY_NOTICE_DAYS", 30))
    return compliance.check_documents(session, now=clock.wall_clock(now, config),
                                       days=days)


SCHEDULE = [(check_documents, "cron", {"hour": 6, "minute": 15})]
