"""The business's clock: what a job or a command means by "now".

The scheduler and the CLI hand every job an aware moment in the business's time zone
(TIMEZONE, default Europe/Madrid), whatever zone the machine runs in. Each job turns it into
the form its columns hold: naive wall-clock time for service starts (wall_clock), naive UTC
for the moments the database stamps (utc).
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

DEFAULT_ZONE = "Europe/Madrid"


def zone(config) -> ZoneInfo:
    """Return the business's time zone from the settings."""
    return ZoneInfo((config or {}).get("BABEL_DEFAULT_TIMEZONE") or DEFAULT_ZONE)


def now_in(config) -> datetime:
    """Return now as an aware moment in the business's time zone."""
    return datetime.now(zone(config))


def wall_clock(now: datetime, config) -> datetime:
    """Return now as the naive local time service starts are stored in; a naive now already
    is one (tests and operators pass wall-clock times)."""
    return now.astimezone(zone(config)).replace(tzinfo=None) if now.tzinfo else now


def utc(now: datetime) -> datetime:
    """Return now as naive UTC, the database's clock; a naive now is the machine's clock."""
    return now.astimezone(UTC).replace(tzinfo=None)


def parse_now(text: str | None, config) -> datetime:
    """Return --now as an aware moment: without an offset it is the business's local time."""
    if not text:
        return now_in(config)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date or datetime: {text}",
                                 param_hint="--now") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=zone(config))


NOW_OPTION = click.option(
    "--now", "now_text", metavar="ISO",
    help="Run as if it were this moment, in the back office's time zone (TIMEZONE) unless it "
         "carries an offset (e.g. 2026-12-07T19:00); default: now.")
