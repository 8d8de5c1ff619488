"""The assignment engine: greedy start, ejection chains, CP-SAT neighbourhoods, checked plan.

Coverage comes first and does not depend on the clock: a greedy insertion, then ejection chains
(a request is given to a professional short of weekly hours, who passes one of their services on
along a chain that ends with someone who has room), then CP-SAT around whatever chains could not
cover. Travel is cut afterwards by a budget of CP-SAT neighbourhood steps, each bounded by
deterministic time, with the clock only as a backstop; whatever time is left then goes to
redrawing a few professionals' days as exact routes (_routes), until the limit, a proven gap to
the travel bound, or nothing left to improve.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from assignment._bound import travel_lower_bound
from assignment._chains import cover, eject_chain
from assignment._data import Data
from assignment._finish import EXPLAIN_S, finish
from assignment._lns import cover_leftovers, improve_travel
from assignment._model import improve
from assignment._routes import improve_routes
from assignment._search import relocate
from assignment.greedy import CANDIDATES, fill, from_current, insert_anywhere, place
from assignment.problem import Plan, Problem
from assignment.validate import check

WHOLE_MODEL_REQUESTS = 400  # up to this many requests, one CP-SAT model holds the whole problem
WHOLE_MODEL_WORK = 20.0  # its deterministic time
ROUTE_BOUND_REQUESTS = 2000  # up to this many, the route stage stops at a proven gap
REPAIR_CANDIDATES = 8
REPAIR_MAX_ORPHANS = 60  # beyond this a repair is a re-plan: solve() does it better
REPAIR_WORK = 2.0  # CP-SAT deterministic time for what chains leave


class EngineError(RuntimeError):
    """Neither the engine's plan nor the greedy fallback passed the validator (a bug)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a solve got: its stage, and the coverage and travel of its best schedule so far."""

    stage: str  # the stage under way: greedy, chains, whole_model, leftovers, travel, finish
    covered: int
    requests: int
    travel_km: float
    elapsed_s: float


class _Watch:
    """Report progress between stages and steps; tell the stages when the caller wants to stop."""

    EVERY_S = 0.5  # within a stage, at most one report this often (a report walks the plan)

    def __init__(self, sched, started: float, progress, should_stop) -> None:
        self.sched, self.started = sched, started
        self.progress, self.should_stop = progress, should_stop
        self.stage, self.stopped, self.reported = "greedy", False, 0.0

    def __call__(self, stage: str | None = None) -> bool:
        """Report (at a new stage, or within one); return whether to stop now."""
        now = time.monotonic()
        due = stage is not None or now - self.reported >= self.EVERY_S
        self.stage = stage or self.stage
        if self.progress is not None and due:
            self.reported = now
            data = self.sched.data
            self.progress(Progress(
                self.stage, covered=data.n_reqs - len(self.sched.unassigned()),
                requests=data.n_reqs, travel_km=round(self.sched.travel_km(), 1),
                elapsed_s=round(time.monotonic() - self.started, 2)))
        return self.stop_requested()

    def stop_requested(self) -> bool:
        """Tell whether the caller wants the solve to stop (asked without reporting)."""
        self.stopped = self.stopped or bool(self.should_stop and self.should_stop())
        return self.stopped


def _reserve_s(data: Data, time_limit_s: float) -> float:
    # kept back for the last insertions, the bound, the explanations and the validator, with a
    # margin for a loaded machine (measured: 1.5 s for 8,000 requests on a quiet one)
    return min(0.3 * time_limit_s, 0.25 + data.n_reqs / 1000)


def _checked(problem: Problem, plan: Plan, fallback) -> Plan:
    """Return plan if the validator accepts it, else the fallback plan (which must pass)."""
    if not check(problem, plan):
        return plan
    other = fallback()
    violations = check(problem, other)
    if violations:
        raise EngineError(f"fallback plan is invalid too: {violations[0]}")
    return other


def solve(
    problem: Problem,
    *,
    time_limit_s: float = 30.0,
    seed: int = 0,
    candidates: int = CANDIDATES,
    steps: int | None = None,
    route_steps: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Plan:
    """Return a valid plan for the problem within about time_limit_s seconds.

    steps caps the travel-cutting neighbourhood steps (default: each professional in about 20
    neighbourhoods); on a quiet machine they end well before the time limit. What time is left
    then goes to redrawing routes (see _routes) until the limit, unless route_steps caps those
    steps too: with both caps the plan is the same whatever the load. progress is told how far
    the solve got between stages and steps; once should_stop says so, the solve skips what is
    left and returns its best plan.
    """
    started = time.monotonic()
    deadline = started + time_limit_s
    data = Data(problem)
    work_end = deadline - _reserve_s(data, time_limit_s)
    sched = from_current(data)
    # the stage each report names is the one starting; a stop skips to the finish
    watch = _Watch(sched, started, progress, should_stop)
    watch("greedy")
    fill(sched, k=candidates)
    maximal_s = time.monotonic()
    insert_anywhere(sched)
    # making the plan maximal is paid again in the finish and in the validator, after the last
    # stage: where most requests cannot be placed it is most of the time (issue #19, part 3)
    maximal_s = time.monotonic() - maximal_s
    work_end -= 2 * maximal_s
    if not watch("chains"):
        cover(sched, k=candidates, deadline=work_end, tick=watch)
    # most time to coverage, the first criterion; but where demand outruns the professionals,
    # hopeless requests must not eat all of it
    if not watch("leftovers"):
        cover_leftovers(
            sched, deadline=time.monotonic() + 0.6 * (work_end - time.monotonic()), k=candidates,
            tick=watch,
        )
    # a small problem fits one model, for what the local steps could not cover; it prices
    # travel as detours against nothing and so draws poor routes: only when something is left
    if (data.n_reqs <= WHOLE_MODEL_REQUESTS and sched.unassigned()
            and not watch("whole_model")):
        improve(
            sched,
            list(range(data.n_reqs)),
            list(range(data.n_pros)),
            time_limit_s=max(0.05, 0.5 * (work_end - time.monotonic())),
            workers=1,
            k=candidates,
            seed=seed,
            work=WHOLE_MODEL_WORK,
            stop=watch.stop_requested if should_stop is not None else None,
        )
    # and the explanations of whatever stays uncovered
    work_end -= EXPLAIN_S * len(sched.unassigned())
    if not watch("travel"):
        relocate(sched, deadline=work_end, k=candidates, seed=seed)
        improve_travel(sched, deadline=work_end, k=candidates, seed=seed, steps=steps,
                       tick=watch)
    # what is left of the time goes to redrawing days as exact routes, while that can still cut
    # travel: until the limit, or until the travel is within a proven gap of the lower bound
    # (still the "travel" stage to whoever watches progress)
    if time.monotonic() < work_end - 0.2 and not watch.stop_requested():
        bound_km = (travel_lower_bound(data, sched.assigned())
                    if data.n_reqs <= ROUTE_BOUND_REQUESTS else None)
        improve_routes(sched, deadline=work_end, seed=seed, steps=route_steps,
                       bound_km=bound_km, tick=watch)
    watch("finish")
    if watch.stopped:  # what is left is making the plan maximal and explaining it
        deadline = min(deadline, time.monotonic() + 1.0 + EXPLAIN_S * len(sched.unassigned()))
    plan = finish(sched, status="stopped" if watch.stopped else "feasible", started=started,
                  deadline=deadline - 2 * maximal_s, bound=True)
    return _checked(problem, plan, lambda: _fallback(problem, started))


def _fallback(problem: Problem, started: float) -> Plan:
    plan = greedy(problem)
    return Plan(
        plan.assignments,
        plan.unassigned,
        plan.score,
        {
            **plan.solver,
            "status": "greedy_fallback",
            "wall_s": round(time.monotonic() - started, 3),
        },
    )


def _others_moved(sched, orphans: set[int]) -> int:
    data = sched.data
    return sum(
        1
        for r, cur in enumerate(data.current)
        if cur is not None and r not in orphans and sched.pro[r] != cur[0]
    )


def repair(
    problem: Problem,
    *,
    time_limit_s: float = 1.0,
    max_moves: int = 5,
) -> Plan:
    """Return the current plan repaired: services kept where they still fit, the rest placed.

    The rest (orphans) are the current plan's services that no longer fit and requests new to it.
    Each goes where it fits as the plan stands, else along an ejection chain, else CP-SAT
    re-solves its able professionals' days; at most max_moves services that still fit where they
    were are given to someone else.
    """
    started = time.monotonic()
    data = Data(problem)
    sched = from_current(data)
    orphans = sched.unassigned()
    orphans.sort(key=lambda r: (-data.prio[r], r))
    orphan_set = set(orphans)
    for r in orphans:
        # anyone who can take it as the plan stands: this moves nobody else
        place(sched, r, [p for p in data.skilled_by_distance(r) if data.allowed(r, p)])
    for r in orphans[:REPAIR_MAX_ORPHANS]:
        budget = max_moves - _others_moved(sched, orphan_set)
        if sched.pro[r] < 0 and budget > 0:
            # each step of a chain moves one service that still fits: at most budget of them
            eject_chain(sched, r, k=CANDIDATES, depth=budget + 1)
    left = [r for r in orphans if sched.pro[r] < 0 and data.candidates(r, REPAIR_CANDIDATES)]
    budget = max_moves - _others_moved(sched, orphan_set)
    if left:
        left = left[:REPAIR_MAX_ORPHANS]
        able = {p for r in left for p in data.candidates(r, REPAIR_CANDIDATES)}
        days = {day for r in left for day in range(data.ws[r] // 1440, data.we[r] // 1440 + 1)}
        free = left + [r for p in able for t, r in sched.items[p] if t // 1440 in days]
        # and whoever could take over the work of the orphans' able professionals
        pros = sorted(able.union(*(data.candidates(r, 4) for r in free)))
        wall = 0.5 * time_limit_s - (time.monotonic() - started)
        if wall > 0.05:
            improve(
                sched,
                free,
                pros,
                time_limit_s=wall,
                workers=1,
                k=REPAIR_CANDIDATES,
                max_moves=budget,
                work=REPAIR_WORK,
            )
    plan = finish(sched, status="repaired", started=started, eject=False)
    return _checked(problem, plan, lambda: _fallback(problem, started))


def greedy(problem: Problem, *, k: int = CANDIDATES) -> Plan:
    """Return the greedy plan: current plan kept where it fits, then cheapest insertions."""
    t0 = time.monotonic()
    sched = from_current(Data(problem))
    fill(sched, k=k)
    return finish(sched, status="greedy", started=t0, eject=False)
