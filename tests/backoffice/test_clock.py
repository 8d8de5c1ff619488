"""The business's clock: jobs get an aware Madrid moment, whatever zone the machine runs in."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click
import pytest

from backoffice import clock, scheduler
from backoffice.boundary import Boundary
from backoffice.db import db

MADRID = ZoneInfo("Europe/Madrid")


def test_the_scheduler_hands_a_job_an_aware_moment_in_the_business_zone(session, app):
    seen = []

    def job(*, session, now, config):
        seen.append(now)

    boundary = Boundary({**app.config, "BABEL_DEFAULT_TIMEZONE": "Atlantic/Canary"},
                        sessionmaker=db.sessionmaker)
    scheduler.run_job(boundary, job)

    [now] = seen
    assert now.tzinfo is not None and now.tzinfo.key == "Atlantic/Canary"
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=1)


def test_now_text_without_an_offset_is_local_time_and_a_bad_one_names_the_option():
    config = {"BABEL_DEFAULT_TIMEZONE": "Europe/Madrid"}
    assert clock.parse_now("2026-12-07T09:00", config) == datetime(2026, 12, 7, 9, tzinfo=MADRID)
    assert clock.parse_now("2026-12-07T09:00+00:00", config).hour == 9
    assert clock.wall_clock(datetime(2026, 12, 7, 9, tzinfo=UTC), config) == \
        datetime(2026, 12, 7, 10)
    with pytest.raises(click.BadParameter) as refused:
        clock.parse_now("tomorrow", config)
    assert "--now" in refused.value.format_message() or refused.value.param_hint == "--now"
