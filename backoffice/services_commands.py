"""`backoffice services ...`: run the core's service jobs by hand, for any moment."""


import click

from backoffice.clock import NOW_OPTION, parse_now
from backoffice.services import closing


@click.group("services")
def services_group() -> None:
    """Service requests: close the day."""


@services_group.command("close-day")
@NOW_OPTION
@click.pass_obj
def close_day_command(rt, now_text: str | None) -> None:
    """Mark the past services done; hold those with a complaint or a no-show for an agent."""
    now = parse_now(now_text, rt.config)
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
