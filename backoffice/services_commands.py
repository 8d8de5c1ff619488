"""`backoffice services ...`: run the core's service jobs by hand, for any moment."""

from datetime import datetime

import click

from backoffice.services import closing


@click.group("services")
def services_group() -> None:
    """Service requests: close the day."""


@services_group.command("close-day")
@click.option("--now", "now_text", metavar="ISO",
              help="Run as if it were this moment (e.g. 2026-12-02T02:30); default: now.")
@click.pass_obj
def close_day_command(rt, now_text: str | None) -> None:
    """Mark the past services done; hold those with a complaint or a no-show for an agent."""
    try:
        now = datetime.fromisoformat(now_text) if now_text else datetime.now()
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date or datetime: {now_text}", param_hint="--now") \
            from exc
    with rt.session("cli:services-close-day") as session:
        result = closing.close_day(session, now=now)
    if result is None:
        click.echo("Another close is running; nothing done.")
        return
    done, held = result["done"], result["held"]
    click.echo(f"Close at {now:%Y-%m-%d %H:%M}: {len(done)} services done"
               + (f" ({', '.join(f'#{i}' for i in done)})" if done else "") + f", {len(held)} held"
               + (" (" + "; ".join(f"#{h['id']}: {', '.join(h['reasons'])}" for h in held) + ")"
                  if held else "") + ".")
