"""The only bridge between rows and the engine: build a Problem, store a run, publish a Plan.

By role: `rows` (rows into a Problem), `diff` (a plan against today's bookings), `bookings`
(writing them, the double-booking guard, agents' manual bookings), `plans` (runs: draft and
publish), `coverage` (the board's figures and the services at risk), `what_if` (nothing saved).
"""

from assignment.service.bookings import (
    GUARD_NAMES,
    affected_bookings,
    apply_bookings,
    conflict,
    double_booking_message,
    is_double_booking,
    keep,
    pin,
    swap,
    unassign,
)
from assignment.service.coverage import (
    COUNTED,
    Cell,
    at_risk,
    coverage_cells,
    coverage_history,
    humanise,
    record_coverage,
)
from assignment.service.diff import Change, Diff, compare
from assignment.service.plans import discard, latest_run, publish, run_plan
from assignment.service.rows import (
    ACTIVE,
    HORIZON_DAYS,
    PLANNED,
    VALENCIA,
    Built,
    available_shifts,
    booking,
    build_problem,
    pro_key,
    req_key,
    row_id,
)
from assignment.service.what_if import WhatIf, what_if

__all__ = [
    "ACTIVE",
    "COUNTED",
    "GUARD_NAMES",
    "HORIZON_DAYS",
    "PLANNED",
    "VALENCIA",
    "Built",
    "Cell",
    "Change",
    "Diff",
    "WhatIf",
    "affected_bookings",
    "apply_bookings",
    "at_risk",
    "available_shifts",
    "booking",
    "build_problem",
    "compare",
    "conflict",
    "coverage_cells",
    "coverage_history",
    "discard",
    "double_booking_message",
    "humanise",
    "is_double_booking",
    "keep",
    "latest_run",
    "pin",
    "pro_key",
    "publish",
    "record_coverage",
    "req_key",
    "row_id",
    "run_plan",
    "swap",
    "unassign",
    "what_if",
]
