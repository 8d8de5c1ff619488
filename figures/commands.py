"""`backoffice figures ...`: refresh the operations figures by hand, for any moment."""

from datetime import date

import click

from backoffice.clock import NOW_OPTION, parse_now, utc


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
@NOW_OPTION
@click.pass_obj
def refresh_command(rt, since_text: str | None, now_text: str | None) -> None:
    """Rewrite the recent weeks and those changed since the last refresh (and from --since)."""
    from figures import service

    tz = rt.config["BABEL_DEFAULT_TIMEZONE"]
    now, since = utc(parse_now(now_text, rt.config)), _since(since_text)
    with rt.session("cli:figures-refresh") as session:
        result = service.refresh(session, now=now, since=since, tz=tz)
    if result is None:
        click.echo("Another refresh is running; nothing done.")
        return
    click.echo(f"Figures refreshed: {result['weeks']} weeks ({result['first']} to "
               f"{result['last']}), {result['rows']} rows.")
