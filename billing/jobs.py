"""Scheduled billing jobs: the dunning pass and the monthly invoicing run."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session

from billing import dunning, invoicing
from billing.gateway import Gateway


def local_now(now: datetime, config) -> datetime:
    """Return now in the business's timezone (TIMEZONE); a naive now is the system clock's.

    The scheduler hands jobs the process's naive clock, which is UTC on the servers; dunning
    days and invoice months are Madrid's, so an evening run must not count tomorrow as today.
    """
    return now.astimezone(ZoneInfo(config.get("BABEL_DEFAULT_TIMEZONE") or "Europe/Madrid"))


def dunning_pass(*, session: Session, now: datetime, config) -> dict:
    """Take every dunning step owed now; safe with two schedulers running at once."""
    result = dunning.run_pass(session=session, now=local_now(now, config),
                              gateway=Gateway.from_config(config))
    return result.as_dict()


def monthly_invoicing(*, session: Session, now: datetime, config) -> int:
    """Invoice last month's completed services on the first day of the month."""
    today = local_now(now, config).date()
    start, end = previous_month(today)
    return len(invoicing.issue_all(session, start=start, end=end, issued_on=today))


def previous_month(today: date) -> tuple[date, date]:
    """Return the first and last day of the month before today's."""
    first = today.replace(day=1)
    last = first - timedelta(days=1)
    return last.replace(day=1), last


class AtStartThenEvery(IntervalTrigger):
    """Fire as the scheduler starts, then every interval.

    A scheduler that was down catches up at once. The first time is the scheduler's own
    timezone-aware now when it starts, not a naive clock read when this module was imported
    (which APScheduler took for Madrid time while it was UTC: an hour or two off).
    """

    def get_next_fire_time(self, previous_fire_time, now):
        if previous_fire_time is None:
            return now
        return super().get_next_fire_time(previous_fire_time, now)


SCHEDULE = [
    (dunning_pass, AtStartThenEvery(minutes=15), {}),
    (monthly_invoicing, "cron", {"day": 1, "hour": 6}),
]
