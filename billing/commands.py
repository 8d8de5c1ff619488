"""`backoffice billing ...`: run a dunning pass, print the finance report, issue invoices."""

import json
from datetime import date, datetime, timedelta

import click

from backoffice.clock import NOW_OPTION, parse_now
from billing import dunning, invoicing, jobs, reports
from billing.gateway import Gateway


@click.group("billing")
def billing_group() -> None:
    """Invoices, dunning and finance reports."""


@billing_group.command("dunning-run")
@NOW_OPTION
@click.pass_obj
def dunning_run(rt, now_text: str | None) -> None:
    """Run one dunning pass: each step owed at --now, once."""
    now = parse_now(now_text, rt.config)
    with rt.session("cli:dunning-run") as session:
        result = dunning.run_pass(session=session, now=now, gateway=Gateway.from_config(rt.config))
    if result.skipped_locked:
        click.echo("Another dunning pass is running; nothing done.")
        return
    click.echo(f"Dunning pass at {now.isoformat(timespec='minutes')}: {result.steps} steps, "
               f"{result.charges} charges ({result.paid} paid, {result.failed} declined, "
               f"{result.errors} to retry), {result.resumed} pauses ended, "
               f"{result.wall_s:.1f} s.")


@billing_group.command("report")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="Default today.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True)
@click.pass_obj
def report(rt, as_of: datetime | None, fmt: str) -> None:
    """Print aging, recovery, amounts by dunning step and write-offs."""
    day = as_of.date() if as_of else date.today()
    with rt.session("cli:billing-report") as session:
        data = reports.full_report(session, as_of=day)
    click.echo(reports.to_csv(data) if fmt == "csv" else json.dumps(data, indent=2), nl=False)
    if fmt == "json":
        click.echo()


@billing_group.command("invoice")
@click.option("--month", help="YYYY-MM to invoice; default last month.")
@click.pass_obj
def invoice(rt, month: str | None) -> None:
    """Issue the invoices of a month's completed services."""
    if month:
        try:
            start = datetime.strptime(month + "-01", "%Y-%m-%d").date()
        except ValueError as exc:
            raise click.BadParameter(f"month: {exc}") from exc
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    else:
        start, end = jobs.previous_month(date.today())
    with rt.session("cli:billing-invoice") as session:
        made = invoicing.issue_all(session, start=start, end=end, issued_on=date.today())
    click.echo(f"Issued {len(made)} invoices for {start} to {end}.")


COMMANDS = [billing_group]
