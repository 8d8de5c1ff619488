"""Jobs of the case desk: fetch the mailbox, sweep the SLA clocks, close week-old solved cases."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backoffice.clock import utc
from backoffice.db import is_postgres
from cases import workflow
from cases.models import Case, CaseState

# pg_try_advisory_xact_lock keys (constants unique in the project).
SWEEP_LOCK, CLOSE_LOCK = 0xCA5E0001, 0xCA5E0002


def _locked(session: Session, key: int) -> bool:
    return is_postgres(session) and not session.scalar(
        sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})


def fetch_mail(*, session: Session, now: datetime, config) -> dict:
    """Read the desk's mailbox: each new mail becomes a case or joins its conversation."""
    from cases import mail_in

    return mail_in.fetch(session, now=utc(now), config=config)


def sla_sweep(*, session: Session, now: datetime, config) -> dict | None:
    """Warn assignees at 75% of a target and mark breaches at 100%; None if another runs."""
    from cases import deadlines

    if _locked(session, SWEEP_LOCK):
        return None
    return deadlines.sweep(session, now=utc(now), tz=config.get("BABEL_DEFAULT_TIMEZONE",
                                                                "Europe/Madrid"))


def close_solved(*, session: Session, now: datetime, config) -> int | None:
    """Close the cases solved at least seven days ago; None if another run holds the lock."""
    if _locked(session, CLOSE_LOCK):
        return None
    now = utc(now)
    cases = session.scalars(
        sa.select(Case).where(Case.state == CaseState.SOLVED,
                              Case.solved_at <= now - workflow.CLOSE_AFTER)
        .order_by(Case.id))
    closed = 0
    for case in cases:
        workflow.transition(session, case=case, to=CaseState.CLOSED, note="closed_after_7_days",
                            now=now)
        closed += 1
    return closed



def sweep_attachments(*, session: Session, now: datetime, config) -> int:
    """Remove attachment files that no committed mail kept (their transaction rolled back)."""
    from cases import attachments

    return attachments.sweep_orphans(session, upload_dir=config["UPLOAD_DIR"], now=now)


SCHEDULE = [
    (fetch_mail, "interval", {"seconds": 60}),
    (sla_sweep, "interval", {"seconds": 60}),
    (close_solved, "cron", {"minute": 5}),
    (sweep_attachments, "cron", {"hour": 4, "minute": 10}),
]
