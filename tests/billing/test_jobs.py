"""The scheduler's billing jobs: the first dunning run is now, in any timezone; Madrid's days."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from billing import jobs


def test_the_first_dunning_run_is_when_the_scheduler_starts(app):
    # The scheduler runs in Madrid time on machines whose clock is UTC (or anything else).
    scheduler = BackgroundScheduler(timezone=app.config["BABEL_DEFAULT_TIMEZONE"])
    for func, trigger, args in jobs.SCHEDULE:  # as backoffice.scheduler adds them
        scheduler.add_job(print, trigger, id=func.__name__, **args)
    scheduler.start(paused=True)  # works out each job's first run time, runs nothing
    try:
        first = scheduler.get_job("dunning_pass").next_run_time
        assert first.tzinfo is not None
        assert abs(first - datetime.now(UTC)) < timedelta(seconds=30)
        nxt = scheduler.get_job("dunning_pass").trigger.get_next_fire_time(first, first)
        assert nxt - first == timedelta(minutes=15)
        monthly = scheduler.get_job("monthly_invoicing").next_run_time
        assert (monthly.day, monthly.hour, monthly.utcoffset()) == (
            1, 6, monthly.astimezone(ZoneInfo("Europe/Madrid")).utcoffset())
    finally:
        scheduler.shutdown(wait=False)


def test_a_job_counts_days_in_madrid_whatever_the_server_clock(app):
    late_evening_utc = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    local = jobs.local_now(late_evening_utc, app.config)
    assert local.date().isoformat() == "2026-12-01" and local.hour == 0
    assert jobs.local_now(local, app.config) == local
