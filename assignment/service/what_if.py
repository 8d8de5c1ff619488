"""What-if: an absence or a demand spike simulated on the current bookings, nothing saved."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from assignment.problem import (
    Plan,
)
from assignment.service.diff import (
    Diff,
    compare,
)
from assignment.service.rows import (
    HORIZON_DAYS,
    build_problem,
    row_id,
)
from assignment.service.worked import without_blocks


@dataclass
class WhatIf:
    before_pct: float
    after_pct: float
    requests: int
    extra: int
    extra_covered: int
    diff: Diff
    plan: Plan


def what_if(
    session: Session, *, start: date, days: int = HORIZON_DAYS, now: datetime | None = None,
    absent_professional: int | None = None, absent_from: date | None = None,
    absent_to: date | None = None, spike_zone: str | None = None, spike_pct: int = 0,
    time_limit_s: float = 5.0, seed: int = 1,
) -> WhatIf:
    """Simulate an absence or a demand spike on the current bookings, in memory only."""
    from assignment import solver  # OR-Tools: loaded by what solves

    absent = {}
    if absent_professional is not None:
        lo, hi = absent_from or start, absent_to or (absent_from or start)
        absent[absent_professional] = {lo + timedelta(days=i) for i in range((hi - lo).days + 1)}
    built = build_problem(session, start=start, days=days, now=now, absent=absent)
    problem, extra = built.problem, []
    if spike_zone and spike_pct > 0:
        rng = random.Random(seed)
        pool = [r for r in problem.requests
                if r.id.startswith("R") and built.requests[row_id(r.id)].zone == spike_zone]
        for i in range(math.ceil(len(pool) * spike_pct / 100)):
            r = rng.choice(pool)
            extra.append(replace(r, id=f"X{i + 1}", client=f"X{i + 1}",
                                 required_professional=None,
                                 window_start=r.window_start, window_end=r.window_end))
        problem = replace(problem, requests=problem.requests + tuple(extra))
    plan = without_blocks(problem, solver.repair(problem, time_limit_s=time_limit_s))
    held = sum(1 for v in built.base.values() if v is not None)
    n = len(built.requests)
    extra_ids = {x.id for x in extra}
    return WhatIf(
        before_pct=100.0 * held / n if n else 100.0,
        after_pct=100.0 * plan.score.covered / (n + len(extra)) if n + len(extra) else 100.0,
        requests=n, extra=len(extra),
        extra_covered=sum(1 for a in plan.assignments if a.request in extra_ids),
        diff=compare(session, plan=plan), plan=plan,
    )
