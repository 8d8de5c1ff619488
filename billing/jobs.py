"""Scheduled billing jobs: the dunning pass and the monthly invoicing run."""

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from billing import dunning, invoicing
from billing.gateway import Gateway


def dunning_pass(*, session: Session, now: datetime, config) -> dict:
    """Take every dunning step owed now; safe with two schedulers running at once."""
    result = dunning.run_pass(session=session, now=now, gateway=Gateway.from_config(config))
    return result.as_dict()


def monthly_invoicing(*, session: Session, now: datetime, config) -> int:
    """Invoice last month's completed services on the first day of the month."""
    first = now.date().replace(day=1)
    start = (first - timedelta(days=1)).replace(day=1)
    return len(invoicing.issue_all(session, start=start, end=first - timedelta(days=1),
                                   issued_on=now.date()))


def previous_month(today: date) -> tuple[date, date]:
    """Return the first and last day of the month before today's."""
    first = today.replace(day=1)
    last = first - timedelta(days=1)
    return last.replace(day=1), last


SCHEDULE = [
    # First pass as the scheduler starts: a scheduler that was down catches up at once.
    (dunning_pass, "interval", {"minutes": 15, "next_run_time": datetime.now()}),
    (monthly_invoicing, "cron", {"day": 1, "hour": 6}),
]
