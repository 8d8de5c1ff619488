"""`backoffice figures ...`: refresh the operations figures by hand, for any moment."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import click


def _now(text: str | None, tz: str) -> datetime:
    """Return --now as naive UTC: input without an offset is the desk's local time."""
    if not text:
        return datetime.now(UTC).replace(tzinfo=None)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date or datetime: {text}",
                                 param_hint="--now") from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(UTC).replace(tzinfo=None)


def _since(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date (yyyy-mm-dd): {text}",
                                 param_hint="--since") from exc


@click.group("figures")
def figures_group() -> None:
    """Operations figures: refresh the summary rows the figures page reads."""


@figures_group.command("refresh")
@click.option("--since", "since_text", metavar="DATE",
              help="Also rewrite every week from this date (yyyy-mm-dd) to now.")
@click.option("--now", "now_text", metavar="ISO",
              help="Run as if it were this moment, in the desk's time zone unless it carries "
                   "an offset; default: now.")
@click.pass_obj
def refresh_command(rt, since_text: str | None, now_text: str | None) -> None:
    """Rewrite the recent weeks and those changed since the last refresh (and from --since)."""
    from figures import service

    tz = rt.config["BABEL_DEFAULT_TIMEZONE"]
    now, since = _now(now_text, tz), _since(since_text)
    with rt.session("cli:figures-refresh") as session:
        result = service.refresh(session, now=now, since=since, tz=tz)
    if result is None:
        click.echo("Another refresh is running; nothing done.")
        return
    click.echo(f"Figures refreshed: {result['weeks']} weeks ({result['first']} to "
               f"{result['last']}), {result['rows']} rows.")
