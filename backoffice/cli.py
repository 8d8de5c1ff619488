"""The `backoffice` command group."""

import gc
import os
import sys
from datetime import date, datetime
from pathlib import Path

import click

from backoffice.boundary import Boundary
from backoffice.optional import optional_module

# Domain command groups, imported only when one of them runs: `backoffice --help` and the
# commands that do not solve must not pay for OR-Tools, pandas or stripe at start-up.
# name: (module, attribute, the group's one-line help as --help lists it)
DOMAIN_COMMANDS = {
    "assign": ("assignment.commands", "assign", "Assign service requests to professionals."),
    "plan": ("assignment.plan_commands", "plan_group",
             "Plan the coming days: solve, publish, show coverage."),
    "vetting": ("vetting.commands", "vetting_group", "Professional vetting."),
    "billing": ("billing.commands", "billing_group", "Invoices, dunning and finance reports."),
    "cases": ("cases.commands", "cases_group",
              "The level-2 case desk: fetch mail, SLA sweep, export."),
    "services": ("backoffice.services_commands", "services_group",
                 "Service requests: close the day."),
    "notifications": ("notifications.commands", "notifications_group",
                      "Booking notices by mail: changes, reminders, agendas."),
    "surveys": ("surveys.commands", "surveys_group",
                "Satisfaction surveys: make and mail the due ones."),
    "figures": ("figures.commands", "figures_group",
                "Operations figures: refresh the summary rows."),
}


class LazyGroup(click.Group):
    """The command group that loads a domain's commands when they are asked for."""

    def __call__(self, *args, **kwargs):
        # Run as a process's command (the script, `python -m`; CliRunner calls main instead):
        # no garbage collection while start-up imports SQLAlchemy, the models and the domain's
        # commands, hundreds of thousands of objects that live as long as the command and that
        # each collection would walk again. The root's callback settles them (_settle_start_up).
        gc.disable()
        return self.main(*args, **kwargs)

    def list_commands(self, ctx) -> list[str]:
        return sorted({*super().list_commands(ctx), *DOMAIN_COMMANDS})

    def get_command(self, ctx, name: str):
        if name in DOMAIN_COMMANDS and name not in self.commands:
            module_name, attribute, _ = DOMAIN_COMMANDS[name]
            module = optional_module(module_name)
            if module is None:
                return None
            self.add_command(getattr(module, attribute), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in DOMAIN_COMMANDS and name not in self.commands:
                rows.append((name, DOMAIN_COMMANDS[name][2]))
            elif (command := self.get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _app(*, panel: bool = False):
    """Build the app; commands other than serving pages need no panel and start faster."""
    from backoffice.app import create_app

    return create_app(panel=panel)


class Runtime(Boundary):
    """Handed to every command as click's obj: the settings and a transaction, on demand.

    Commands and jobs run outside Flask (backoffice.boundary); only serve, demo, users create
    and seed build the app."""


@click.group(cls=LazyGroup)
@click.pass_context
def main(ctx) -> None:
    """Operations back office of the home-services marketplace."""
    _settle_start_up()
    ctx.obj = Runtime()


def _settle_start_up() -> None:
    """Collect again, but never walk what start-up built: click runs the root's callback once the
    command is found and its domain imported, just before the command runs."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


@main.group("db")
def db_group() -> None:
    """Create or upgrade the database."""


@db_group.command("upgrade")
@click.option("--url", envvar="DATABASE_URL", help="Database URL (default: DATABASE_URL or the "
              "instance SQLite file).")
def db_upgrade(url: str | None) -> None:
    """Create or upgrade the database to the latest revision."""
    from backoffice import migrate
    from backoffice.config import Config

    url = url or Config().DATABASE_URL
    migrate.create_database(url)
    migrate.upgrade(url)
    click.echo(f"Database at {_redact(url)} is at the latest revision.")


@main.group("users")
def users_group() -> None:
    """Manage staff users."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["ops_agent", "vetting", "finance", "admin"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--locale", default="es", type=click.Choice(["es", "en"]))
def users_create(email, name, roles, password, locale) -> None:
    """Create a staff user with one or more roles."""
    from backoffice import audit
    from backoffice.auth import create_user
    from backoffice.db import db

    app = _app()
    with app.app_context(), audit.acting_as(audit.Actor(None, "cli:users-create")):
        try:
            user = create_user(db.session, email=email, name=name, password=password,
                               roles=list(roles), locale=locale)
            db.session.commit()
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        except Exception as exc:  # the unique email constraint
            db.session.rollback()
            raise click.ClickException(
                f"email: could not create {email}: {exc.__class__.__name__}"
            ) from exc
        click.echo(f"Created {user.email} with roles {user.roles}.")


@users_group.command("mfa-exempt")
@click.argument("email")
@click.option("--off", is_flag=True, help="Require the second factor again.")
@click.pass_obj
def users_mfa_exempt(runtime: Runtime, email: str, off: bool) -> None:
    """Let a user log in without the second factor their role requires (or, --off, not)."""
    from backoffice import totp

    with runtime.session("cli:users-mfa-exempt") as session:
        user = _staff_user(session, email)
        totp.set_exempt(session, user_id=user.id, exempt=not off)
    click.echo(f"{user.email}: second factor {'required by role' if off else 'exempt'}.")


@users_group.command("reset-mfa")
@click.argument("email")
@click.pass_obj
def users_reset_mfa(runtime: Runtime, email: str) -> None:
    """Remove a user's second factor (a lost phone) and end their sessions."""
    from backoffice import audit, totp
    from backoffice.auth import revoke_sessions

    with runtime.session("cli:users-reset-mfa") as session:
        user = _staff_user(session, email)
        totp.disable(session, user_id=user.id, actor=audit.current_actor(),
                     note="reset from the command line")
        revoke_sessions(session, user_id=user.id)
    click.echo(f"{user.email}: second factor removed; set a new one up at the next login.")


def _staff_user(session, email: str):
    import sqlalchemy as sa

    from backoffice.models import StaffUser

    user = session.scalar(sa.select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        raise click.BadParameter(f"no staff user has the email {email}", param_hint="EMAIL")
    return user


@main.group("clients")
def clients_group() -> None:
    """Act on clients."""


@clients_group.command("erase")
@click.argument("client_id", type=int)
@click.pass_obj
def clients_erase(runtime: Runtime, client_id: int) -> None:
    """Erase a client's personal data everywhere (GDPR Art. 17); issued invoices keep theirs."""
    from backoffice.models import Client
    from backoffice.services import clients

    _erase(runtime, Client, client_id, lambda s, c: clients.erase(
        s, client=c, now=datetime.now(), config=runtime.config))


@clients_group.command("merge")
@click.option("--keep", "keep_id", type=int, required=True, help="The client kept.")
@click.option("--merge", "merge_id", type=int, required=True,
              help="The duplicate, merged into the one kept.")
@click.pass_obj
def clients_merge(runtime: Runtime, keep_id: int, merge_id: int) -> None:
    """Merge a duplicate client into the one kept: bookings, invoices, cases, notes move."""
    from backoffice.services import merge

    try:
        with runtime.session("cli:clients-merge") as session:
            moved = merge.merge_ids(session, keep_id=keep_id, merge_id=merge_id, user=None)
    except ValueError as exc:  # a refusal: nothing moved
        raise click.ClickException(str(exc)) from exc
    counts = ", ".join(f"{k} {v}" for k, v in moved.items() if k not in ("kept", "merged"))
    click.echo(f"Merged client {merge_id} into client {keep_id}: {counts}.")


@main.group("professionals")
def professionals_group() -> None:
    """Act on professionals."""


@professionals_group.command("erase")
@click.argument("professional_id", type=int)
@click.pass_obj
def professionals_erase(runtime: Runtime, professional_id: int) -> None:
    """Erase a professional's personal data and documents everywhere (GDPR Art. 17)."""
    from backoffice.models import Professional
    from backoffice.services import professionals

    _erase(runtime, Professional, professional_id, lambda s, p: professionals.erase(
        s, professional=p, now=datetime.now(), config=runtime.config))


def _erase(runtime: Runtime, model, record_id: int, erase) -> None:
    kind = model.__tablename__
    try:
        with runtime.session(f"cli:{kind}-erase") as session:
            record = session.get(model, record_id)
            if record is None:
                raise click.BadParameter(f"no {kind} has id {record_id}", param_hint="ID")
            fields = erase(session, record)
    except ValueError as exc:  # a refusal: nothing was written
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Erased {kind} {record_id}: {', '.join(fields) or 'nothing left to erase'}.")


@main.command("seed")
@click.option("--clients", default=400, show_default=True)
@click.option("--professionals", default=60, show_default=True)
@click.option("--requests", default=3000, show_default=True)
@click.option("--days", default=14, show_default=True, help="Spread requests over this many days.")
@click.option("--seed", "seed_value", default=7, show_default=True)
def seed_command(clients, professionals, requests, days, seed_value) -> None:
    """Insert realistic Valencia data (for demos and benchmarks)."""
    from backoffice import audit
    from backoffice.db import db
    from backoffice.seed import seed

    app = _app()
    total = clients + professionals + requests
    with app.app_context(), audit.acting_as(audit.Actor(None, "cli:seed")):
        started = datetime.now()
        with click.progressbar(length=total, label="Seeding") as bar:
            made = seed(db.session, clients=clients, professionals=professionals,
                        requests=requests, days=days, seed=seed_value, progress=bar.update)
        db.session.commit()
    secs = (datetime.now() - started).total_seconds()
    click.echo(f"Seeded {made['clients']} clients, {made['professionals']} professionals and "
               f"{made['requests']} service requests in {secs:.1f} s.")


@main.command("scheduler")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
              default="INFO", show_default=True,
              help="INFO logs every job run; WARNING only failures.")
@click.pass_obj
def scheduler_command(runtime: Runtime, log_level) -> None:
    """Run the scheduler process (dunning, document checks, re-planning, mail)."""
    import logging

    from backoffice.scheduler import build_scheduler

    logging.basicConfig(level=log_level, format="%(asctime)s %(name)s %(message)s")
    scheduler = build_scheduler(runtime)
    for job in scheduler.get_jobs():
        click.echo(f"scheduled: {job.name} ({job.trigger})")
    scheduler.start()


@main.command("worker")
@click.option("--workers", default=1, show_default=True,
              help="Worker processes on this machine; each solves one plan run at a time.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
              default="INFO", show_default=True)
@click.pass_obj
def worker_command(runtime: Runtime, workers: int, log_level) -> None:
    """Run plan workers: solve the plan runs the panel and the jobs queue (QUEUE_URL)."""
    import logging

    from assignment.queue import queue_url, run_worker

    logging.basicConfig(level=log_level, format="%(asctime)s %(name)s %(message)s")
    click.echo(f"plan queue {_redact(queue_url(runtime.config))}: {workers} worker process(es)")
    run_worker(runtime, workers=max(1, workers))


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve_command(host, port) -> None:
    """Serve the panel with the development server (use gunicorn in production)."""
    from backoffice.runtime import settle_heap

    app = _app(panel=True)
    settle_heap()
    app.run(host=host, port=port, threaded=True)


@main.command("demo")
@click.option("--port", default=5000, show_default=True)
@click.option("--keep", is_flag=True, help="Reuse the existing demo database.")
@click.option("--no-serve", is_flag=True, help="Prepare the demo database and exit.")
def demo_command(port, keep, no_serve) -> None:
    """Create a SQLite demo in ./instance with Valencia data and serve the panel."""
    from backoffice.demo import prepare_demo, run_demo

    instance = Path(os.environ.get("BACKOFFICE_INSTANCE", Path.cwd() / "instance")).resolve()
    config = prepare_demo(instance, keep=keep, today=date.today(), echo=click.echo)
    if not no_serve:
        run_demo(config, port=port, echo=click.echo)


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


if __name__ == "__main__":
    sys.exit(main())
