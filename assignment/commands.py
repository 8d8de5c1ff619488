"""The `assign` command group: solve, check and generate problems in the exchange format."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from assignment.planted import CITIES, planted_cities, planted_instance
from assignment.problem import (
    ProblemError,
    parse_plan,
    parse_problem,
    plan_to_json,
    problem_to_json,
)
from assignment.solver import solve
from assignment.validate import check, recompute_score

FORMAT_ERROR = 2


def _load(path: str, parse, what: str):
    """Read and parse a JSON file, leaving with status 2 and the offending field on error."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        click.echo(f"{path}: cannot read {what}: not UTF-8 text (byte {exc.object[exc.start]:#04x}"
                   f" at offset {exc.start})", err=True)
        sys.exit(FORMAT_ERROR)
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        click.echo(f"{path}: cannot read {what}: {exc}", err=True)
        sys.exit(FORMAT_ERROR)
    try:
        return parse(data)
    except ProblemError as exc:
        click.echo(f"{path}: {exc}", err=True)
        sys.exit(FORMAT_ERROR)


def _write(document: dict, out: str | None) -> None:
    text = json.dumps(document, indent=1)
    if out is None:
        click.echo(text)
    else:
        try:
            Path(out).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            click.echo(f"{out}: cannot write the plan: {exc.strerror or exc}", err=True)
            sys.exit(FORMAT_ERROR)


@click.group("assign")
def assign() -> None:
    """Assign service requests to professionals."""


@assign.command("solve")
@click.argument("problem_file", metavar="PROBLEM.json", type=click.Path(dir_okay=False))
@click.option("--time-limit", default=30.0, show_default=True, help="Seconds to search.")
@click.option("--out", "out", metavar="PLAN.json", default=None, help="Write the plan here.")
def solve_command(problem_file: str, time_limit: float, out: str | None) -> None:
    """Solve PROBLEM.json and write the plan (to standard output without --out)."""
    problem = _load(problem_file, parse_problem, "problem")
    _write(plan_to_json(solve(problem, time_limit_s=time_limit)), out)


@assign.command("check")
@click.argument("problem_file", metavar="PROBLEM.json", type=click.Path(dir_okay=False))
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(dir_okay=False))
def check_command(problem_file: str, plan_file: str) -> None:
    """Print the violations and the recomputed score of PLAN.json; exit 1 if it is invalid."""
    problem = _load(problem_file, parse_problem, "problem")
    plan = _load(plan_file, parse_plan, "plan")
    violations = check(problem, plan)
    for v in violations:
        click.echo(str(v))
    s = recompute_score(problem, plan)
    click.echo(
        f"score: covered_priority={s.covered_priority} covered={s.covered}/{s.requests} "
        f"moved={s.moved} preferences_honoured={s.preferences_honoured} travel_km={s.travel_km}"
    )
    click.echo("valid" if not violations else f"invalid: {len(violations)} violation(s)")
    sys.exit(1 if violations else 0)


@assign.command("generate")
@click.option("--professionals", type=click.IntRange(min=1), required=True)
@click.option("--requests", type=click.IntRange(min=1), required=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", metavar="PROBLEM.json", required=True, help="Write the problem here.")
@click.option("--plan-out", metavar="PLAN.json", default=None, help="Also write the planted plan.")
@click.option(
    "--cities",
    type=click.IntRange(min=1, max=len(CITIES)),
    default=1,
    show_default=True,
    help="Cities far apart (Valencia, Madrid, Barcelona, ...); --professionals and --requests "
    "are per city.",
)
def generate_command(
    professionals: int, requests: int, seed: int, out: str, plan_out: str | None, cities: int
) -> None:
    """Write a planted instance: a problem that a known valid plan covers entirely."""
    if cities > 1:
        problem, plan = planted_cities(cities, professionals, requests, seed)
    else:
        problem, plan = planted_instance(professionals, requests, seed)
    _write(problem_to_json(problem), out)
    if plan_out:
        _write(plan_to_json(plan), plan_out)
    where = f" in {cities} cities" if cities > 1 else ""
    click.echo(
        f"{len(problem.requests)} requests, {len(problem.professionals)} professionals{where}; "
        f"planted travel {plan.score.travel_km} km",
        err=True,
    )

COMMANDS = [assign]
