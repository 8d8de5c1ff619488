"""`backoffice cases ...`: run the case desk's jobs by hand, for any moment, and export."""

from datetime import date, datetime

import click

from backoffice.clock import NOW_OPTION, parse_now
from cases import jobs


@click.group("cases")
def cases_group() -> None:
    """The level-2 case desk: fetch mail, SLA sweep, close solved cases, export."""


@cases_group.command("fetch-mail")
@NOW_OPTION
@click.pass_obj
def fetch_mail_command(rt, now_text: str | None) -> None:
    """Fetch the desk's mailbox once (IMAP or Maildir) and thread the new mails."""
    now = parse_now(now_text, rt.config)
    with rt.session("cli:cases-fetch-mail") as session:
        result = jobs.fetch_mail(session=session, now=now, config=rt.config)
    click.echo("Mail fetched: " + ", ".join(f"{k} {v}" for k, v in sorted(result.items())))


@cases_group.command("sla-sweep")
@NOW_OPTION
@click.pass_obj
def sla_sweep_command(rt, now_text: str | None) -> None:
    """Warn at 75% of an SLA target and mark breaches at 100%, once each."""
    now = parse_now(now_text, rt.config)
    with rt.session("cli:cases-sla-sweep") as session:
        result = jobs.sla_sweep(session=session, now=now, config=rt.config)
    if result is None:
        click.echo("Another SLA sweep is running; nothing done.")
        return
    click.echo(f"SLA sweep at {now:%Y-%m-%d %H:%M %Z}: {result['warned']} warned, "
               f"{result['breached']} breached.")


@cases_group.command("close-solved")
@NOW_OPTION
@click.pass_obj
def close_solved_command(rt, now_text: str | None) -> None:
    """Close the cases solved seven days ago or more."""
    now = parse_now(now_text, rt.config)
    with rt.session("cli:cases-close-solved") as session:
        closed = jobs.close_solved(session=session, now=now, config=rt.config)
    click.echo("Another close is running; nothing done." if closed is None
               else f"{closed} solved cases closed.")


@cases_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True)
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Only cases created on or after this day (YYYY-MM-DD).")
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")
@click.pass_obj
def export_command(rt, fmt: str, since: datetime | None, output) -> None:
    """Export cases with their requester, links, SLA and articles (no attachment bodies)."""
    from cases import export

    day: date | None = since.date() if since else None
    with rt.session("cli:cases-export") as session:
        export.write(export.rows(session, since=day), fmt, output)


COMMANDS = [cases_group]
