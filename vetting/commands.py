"""`backoffice vetting ...`: run the vetting jobs by hand, for any moment."""

from datetime import datetime

import click

from vetting import jobs


@click.group("vetting")
def vetting_group() -> None:
    """Professional vetting."""


@vetting_group.command("check-documents")
@click.option("--now", "now_text", metavar="ISO",
              help="Run as if it were this moment (e.g. 2026-12-01T06:00); default: now.")
@click.pass_obj
def check_documents_command(rt, now_text: str | None) -> None:
    """Remind about documents expiring in 30 days; suspend for expired required documents."""
    try:
        now = datetime.fromisoformat(now_text) if now_text else datetime.now()
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date or datetime: {now_text}", param_hint="--now") \
            from exc
    with rt.session("cli:vetting-check-documents") as session:
        result = jobs.check_documents(session=session, now=now, config=rt.config)
    if result is None:
        click.echo("Another document check is running; nothing done.")
        return
    click.echo(f"Document check at {now:%Y-%m-%d %H:%M}: {result['reminded']} expiry reminders, "
               f"{len(result['suspended'])} professionals suspended"
               + (f" ({', '.join(f'#{i}' for i in result['suspended'])})"
                  if result["suspended"] else "") + ".")


COMMANDS = [vetting_group]
