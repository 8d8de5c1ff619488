"""`backoffice surveys ...`: run the survey job by hand, for any moment."""

from datetime import datetime
from zoneinfo import ZoneInfo

import click


@click.group("surveys")
def surveys_group() -> None:
    """Satisfaction surveys: make and mail the due ones."""


@surveys_group.command("send")
@click.option("--now", "now_text", metavar="ISO",
              help="Run as if it were this moment, in the back office's time zone unless it "
                   "carries an offset (e.g. 2026-12-02T10:00); default: now.")
@click.pass_obj
def send_command(rt, now_text: str | None) -> None:
    """Make the surveys due 24 hours after solved cases and done services, mail them, and
    expire the unanswered ones."""
    from surveys import jobs

    tz = ZoneInfo(rt.config["BABEL_DEFAULT_TIMEZONE"])
    try:
        now = datetime.fromisoformat(now_text) if now_text else datetime.now(tz)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date or datetime: {now_text}",
                                 param_hint="--now") from exc
    now = now if now.tzinfo else now.replace(tzinfo=tz)
    with rt.session("cli:surveys-send") as session:
        result = jobs.send_surveys(session=session, now=now, config=rt.config)
    if result is None:
        click.echo("Another survey run is going on; nothing done.")
        return
    click.echo(f"Surveys at {now:%Y-%m-%d %H:%M %Z}: {result['created']} made "
               f"({result['not_sent']} not to be sent), {result['sent']} mailed, "
               f"{result['expired']} expired.")


COMMANDS = [surveys_group]
