"""`backoffice surveys ...`: run the survey job by hand, for any moment."""


import click

from backoffice.clock import NOW_OPTION, parse_now


@click.group("surveys")
def surveys_group() -> None:
    """Satisfaction surveys: make and mail the due ones."""


@surveys_group.command("send")
@NOW_OPTION
@click.pass_obj
def send_command(rt, now_text: str | None) -> None:
    """Make the surveys due 24 hours after solved cases and done services, mail them, and
    expire the unanswered ones."""
    from surveys import jobs

    now = parse_now(now_text, rt.config)
    with rt.session("cli:surveys-send") as session:
        result = jobs.send_surveys(session=session, now=now, config=rt.config)
    if result is None:
        click.echo("Another survey run is going on; nothing done.")
        return
    click.echo(f"Surveys at {now:%Y-%m-%d %H:%M %Z}: {result['created']} made "
               f"({result['not_sent']} not to be sent), {result['sent']} mailed, "
               f"{result['expired']} expired.")


COMMANDS = [surveys_group]
