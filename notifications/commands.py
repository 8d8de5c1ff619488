"""`backoffice notifications ...`: run the notices' jobs by hand, for any moment; opt-outs."""


import click

from backoffice.clock import NOW_OPTION, parse_now


def _echo(title: str, result: dict) -> None:
    click.echo(f"{title}: " + (", ".join(f"{k} {v}" for k, v in sorted(result.items())
                                        if not isinstance(v, dict)) or "nothing"))


@click.group("notifications")
def notifications_group() -> None:
    """Booking notices by mail: changes, reminders, agendas."""


@notifications_group.command("sync")
@NOW_OPTION
@click.option("--silent", is_flag=True,
              help="Record the current bookings as told without mailing (first run on a "
                   "database whose bookings predate the notices).")
@click.pass_obj
def sync_command(rt, now_text: str | None, silent: bool) -> None:
    """Tell clients and professionals the booking changes not told yet."""
    from notifications import service

    now = parse_now(now_text, rt.config)
    with rt.session("cli:notifications-sync") as session:
        result = service.sync(session=session, now=now, send=not silent)
    _echo("Booking changes", result)


@notifications_group.command("reminders")
@NOW_OPTION
@click.pass_obj
def reminders_command(rt, now_text: str | None) -> None:
    """Remind each client of tomorrow's service (once; not the opted out or bouncing)."""
    from notifications import jobs

    now = parse_now(now_text, rt.config)
    with rt.session("cli:notifications-reminders") as session:
        result = jobs.remind_clients(session=session, now=now, config=rt.config)
    _echo("Booking changes", result.pop("sync"))
    _echo("Reminders", result)


@notifications_group.command("agenda")
@NOW_OPTION
@click.pass_obj
def agenda_command(rt, now_text: str | None) -> None:
    """Send each professional tomorrow's services (once per day)."""
    from notifications import service

    now = parse_now(now_text, rt.config)
    with rt.session("cli:notifications-agenda") as session:
        result = service.agenda(session=session, now=now)
    _echo("Agendas", result)


@notifications_group.command("set-reminders")
@click.argument("kind", type=click.Choice(["client", "professional"]))
@click.argument("person_id", type=int)
@click.argument("state", type=click.Choice(["on", "off"]))
@click.pass_obj
def set_reminders_command(rt, kind: str, person_id: int, state: str) -> None:
    """Turn a client's reminders (a professional's daily agenda) on or off."""
    from backoffice.models import Client, Professional
    from notifications import service

    model = Client if kind == "client" else Professional
    with rt.session("cli:notifications-set-reminders") as session:
        person = session.get(model, person_id)
        if person is None:
            raise click.BadParameter(f"no {kind} #{person_id}", param_hint="PERSON_ID")
        service.set_reminders(session=session, person=person, enabled=state == "on")
        click.echo(f"Reminders {state} for {kind} #{person_id} ({person.name}).")


COMMANDS = [notifications_group]
