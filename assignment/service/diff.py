"""What publishing a plan would change in today's bookings: new, moved, re-timed, lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from assignment.problem import (
    Plan,
)
from assignment.service.rows import (
    booking,
    row_id,
)
from backoffice.models import Professional, ServiceRequest


@dataclass
class Change:
    request: ServiceRequest
    before: tuple[int, datetime] | None
    after: tuple[int, datetime] | None


@dataclass
class Diff:
    new: list[Change] = field(default_factory=list)
    moved: list[Change] = field(default_factory=list)
    retimed: list[Change] = field(default_factory=list)
    unassigned: list[Change] = field(default_factory=list)
    uncovered: list[Change] = field(default_factory=list)
    unchanged: int = 0
    names: dict[int, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "moved": len(self.moved), "retimed": len(self.retimed),
                "unassigned": len(self.unassigned), "uncovered": len(self.uncovered),
                "unchanged": self.unchanged}

    def changes(self) -> list[Change]:
        return self.new + self.moved + self.retimed + self.unassigned


def compare(session: Session, *, plan: Plan) -> Diff:
    """Tell what publishing plan would change in today's bookings."""
    target = {row_id(a.request): (row_id(a.professional), a.start) for a in plan.assignments
              if a.request.startswith("R")}
    ids = list(target) + [row_id(u.request) for u in plan.unassigned if u.request.startswith("R")]
    rows = {r.id: r for i in range(0, len(ids), 500) for r in session.scalars(
        sa.select(ServiceRequest).where(ServiceRequest.id.in_(ids[i:i + 500])))}
    diff = Diff()
    for rid in ids:
        row = rows.get(rid)
        if row is None:
            continue
        before, after = booking(row), target.get(rid)
        change = Change(row, before, after)
        if before == after:
            if before is None:
                diff.uncovered.append(change)
            else:
                diff.unchanged += 1
        elif before is None:
            diff.new.append(change)
        elif after is None:
            diff.unassigned.append(change)
        elif before[0] != after[0]:
            diff.moved.append(change)
        else:
            diff.retimed.append(change)
    pro_ids = {c[0] for ch in diff.changes() for c in (ch.before, ch.after) if c}
    if pro_ids:
        diff.names = dict(session.execute(sa.select(Professional.id, Professional.name)
                                          .where(Professional.id.in_(pro_ids))).all())
    for lst in (diff.new, diff.moved, diff.retimed, diff.unassigned, diff.uncovered):
        lst.sort(key=lambda c: (c.request.service_date, c.request.window_start, c.request.id))
    return diff
