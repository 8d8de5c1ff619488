"""`backoffice vetting ...`: run the vetting jobs by hand, for any moment."""


import click

from backoffice.clock import NOW_OPTION, parse_now
from vetting import jobs


@click.group("vetting")
def vetting_group() -> None:
    """Professional vetting."""


@vetting_group.command("check-documents")
@NOW_OPTION
@click.pass_obj
def check_documents_command(rt, now_text: str | None) -> None:
    """Remind about documents expiring in 30 days; suspend for expired required documents."""
    now = parse_now(now_text, rt.config)
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
