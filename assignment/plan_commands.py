"""The `plan` command group: compute, publish and inspect plans of the coming days."""

from datetime import date, datetime

import click

from assignment import jobs, service
from assignment.models import PlanRun


@click.group("plan")
def plan_group() -> None:
    """Plan the coming days: solve, publish, show coverage."""


@plan_group.command("run")
@click.option("--days", default=service.HORIZON_DAYS, show_default=True)
@click.option("--time-limit", default=20.0, show_default=True, help="Seconds for the solver.")
@click.option("--publish", is_flag=True, help="Write the bookings (otherwise a draft to review).")
@click.pass_obj
def run_command(rt, days: int, time_limit: float, publish: bool) -> None:
    """Solve the next DAYS days from today's bookings and store the run."""
    with rt.session("cli:plan-run") as session:
        run = service.run_plan(session, start=date.today(), days=days, now=datetime.now(),
                               time_limit_s=time_limit, config=rt.config)
        s = run.score
        click.echo(f"Plan #{run.id}: {s['covered']}/{s['requests']} covered, {s['moved']} moved, "
                   f"{s['travel_km']} km, {run.wall_s:.1f} s.")
        click.echo("Changes against today: " + ", ".join(
            f"{k} {v}" for k, v in run.diff_counts.items()))
        if publish:
            service.publish(session, run=run, now=datetime.now())
            click.echo(f"Published plan #{run.id}.")
        else:
            click.echo(f"Draft: review it at /admin/coverage/run/{run.id} or "
                       f"`backoffice plan publish {run.id}`.")


@plan_group.command("publish")
@click.argument("run_id", type=int)
@click.pass_obj
def publish_command(rt, run_id: int) -> None:
    """Publish a draft run."""
    with rt.session("cli:plan-publish") as session:
        run = session.get(PlanRun, run_id)
        if run is None:
            raise click.UsageError(f"run_id: no plan run #{run_id}")
        try:
            diff = service.publish(session, run=run, now=datetime.now())
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"Published plan #{run_id}: " + ", ".join(
            f"{k} {v}" for k, v in diff.counts().items()))


@plan_group.command("coverage")
@click.option("--days", default=service.HORIZON_DAYS, show_default=True)
@click.option("--record", is_flag=True, help="Also store today's snapshot for the chart.")
@click.pass_obj
def coverage_command(rt, days: int, record: bool) -> None:
    """Print the percent covered per day of the coming days, and the services at risk."""
    with rt.session("cli:plan-coverage") as session:
        today = date.today()
        by_day: dict = {}
        for c in service.coverage_cells(session, start=today, days=days):
            n, k = by_day.get(c.day, (0, 0))
            by_day[c.day] = (n + c.requests, k + c.covered)
        for day in sorted(by_day):
            n, k = by_day[day]
            click.echo(f"{day:%a %d/%m}  {k:4d}/{n:<4d} {100.0 * k / n if n else 100:5.1f}%")
        for item in service.at_risk(session, start=today, days=days, limit=20):
            r = item["request"]
            why = "; ".join(x["rule"] for x in item["reasons"][:3]) or "not planned yet"
            click.echo(f"at risk #{r.id} {r.service_date:%d/%m} {r.skill}: {why}"
                       + (f" - {item['suggestion']}" if item["suggestion"] else ""))
        if record:
            click.echo(f"Recorded {service.record_coverage(session, today=today)} rows.")


@plan_group.command("replan-affected")
@click.pass_obj
def replan_command(rt) -> None:
    """Run the re-plan job once now (what the scheduler does every 20 seconds)."""
    with rt.session("cli:plan-replan") as session:
        click.echo(jobs.replan_affected(session=session, now=datetime.now(), config=rt.config))


COMMANDS = [plan_group]
