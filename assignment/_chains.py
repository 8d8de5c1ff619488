"""Ejection chains: cover a request by moving a chain of others, each to a professional with room.

Weekly hours are what run out first: the request's able professionals have a free slot that day but
not the minutes left that week. Giving it to one of them means passing one of their services on to
someone else, who may in turn pass one on, until the chain ends at a professional with room. A
breadth-first search over such moves finds the shortest chain; it is exact (every step is checked
to the minute on the schedule as the earlier steps leave it) and does not depend on the clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from assignment._data import week_of
from assignment._schedule import Schedule


@dataclass(frozen=True, slots=True)
class _Step:
    item: int  # the request to place
    pro: int  # where it goes
    start: int
    out: int  # the service that leaves pro to make room, or -1 at the end of the chain
    km: float  # travel added by this step
    parent: _Step | None
    retimes: tuple[tuple[int, int], ...] = ()  # pro's other services that day at new starts


def _ejectable(sched: Schedule, y: int, q: int) -> list[int]:
    """Return q's services whose leaving could make room for y (same day, or same week)."""
    data = sched.data
    days = set(range(data.ws[y] // 1440, data.we[y] // 1440 + 1))
    weeks = {week_of(data.ws[y]), week_of(data.we[y])}
    need = max(sched.week_min[q].get(w, 0) + data.dur[y] - data.cap[q] for w in weeks)
    out = []
    for t, z in sched.items[q]:
        if data.required[z] >= 0:
            continue  # it cannot go anywhere else
        if t // 1440 in days or (need > 0 and week_of(t) in weeks and data.dur[z] >= need):
            out.append(z)
    return out


def _day_km(sched: Schedule, q: int, days: set[int]) -> float:
    data = sched.data
    km, prev = 0.0, None
    for t, x in sched.items[q]:
        if t // 1440 not in days:
            continue
        if prev is None or sched.start[prev] // 1440 != t // 1440:
            km += (data.km_pr(q, prev) if prev is not None else 0.0) + data.km_pr(q, x)
        else:
            km += data.km_rr(prev, x)
        prev = x
    return km + (data.km_pr(q, prev) if prev is not None else 0.0)


def _repack(sched: Schedule, y: int, q: int):
    """Return (start, km, retimes) if q can take y once q's services that day are re-timed."""
    data = sched.data
    days = set(range(data.ws[y] // 1440, data.we[y] // 1440 + 1))
    day_items = [(t, x) for t, x in sched.items[q] if t // 1440 in days]
    if not day_items:
        return None
    before = _day_km(sched, q, days)
    home = sched.unassign(y) if sched.pro[y] >= 0 else None  # y is tried at q, not in two places
    for _, x in day_items:
        sched.unassign(x)
    others = sorted((x for _, x in day_items), key=lambda x: (data.we[x], x))
    old = dict((x, t) for t, x in day_items)
    found = None
    # the newcomer first, then the rest where they fit best; else the rest first
    for order in ([y, *others], [*others, y]):
        placed = []
        for x in order:
            ins = sched.best_insertion(x, q, near=old.get(x))
            if ins is None:
                break
            sched.assign(x, q, ins[1])
            placed.append(x)
        if len(placed) == len(order):
            retimes = tuple((x, sched.start[x]) for x in others if sched.start[x] != old[x])
            found = (sched.start[y], _day_km(sched, q, days) - before, retimes)
        for x in placed:
            sched.unassign(x)
        if found:
            break
    for t, x in day_items:
        sched.assign(x, q, t)
    if home is not None:
        sched.assign(y, *home)
    return found


def _moves(sched: Schedule, y: int, q: int, near: int | None):
    """Yield (start, leaving service or -1, km, retimes) for each way q can take y.

    q may re-time its other services that day and pass at most one service on.
    """
    ins = sched.best_insertion(y, q, near=near)
    if ins is not None:
        yield ins[1], -1, ins[0], ()
        return
    rep = _repack(sched, y, q)
    if rep is not None:
        yield rep[0], -1, rep[1], rep[2]
        return
    for z in _ejectable(sched, y, q):
        saving = sched.removal_saving(z)
        zp, zt = sched.unassign(z)
        ins = sched.best_insertion(y, q, near=near)
        move = None
        if ins is not None:
            move = (ins[1], z, ins[0] - saving, ())
        else:
            rep = _repack(sched, y, q)
            if rep is not None:
                move = (rep[0], z, rep[1] - saving, rep[2])
        sched.assign(z, zp, zt)
        if move is not None:
            yield move


def eject_chain(
    sched: Schedule,
    r: int,
    *,
    k: int = 16,
    depth: int = 6,
    max_nodes: int = 4000,
) -> int | None:
    """Cover unassigned r by a chain of single moves; return the chain's length, or None.

    Professionals are used once each along a chain, and a chain moves at most depth - 1 others
    (a repair's move budget sets it).
    """
    data = sched.data
    used = set()
    seen = {r}
    layer = [(_Step(r, -1, -1, -1, 0.0, None), 0.0)]
    nodes = 0
    for _ in range(depth):
        ends: list[tuple[float, _Step]] = []
        nxt = []
        for parent, km in layer:
            y = parent.item
            cur = data.current[y]
            for q in data.candidates(y, k):
                if q in used or q == sched.pro[y]:
                    continue
                near = cur[1] if cur is not None and cur[0] == q else None
                for t, z, dkm, retimes in _moves(sched, y, q, near):
                    nodes += 1
                    step = _Step(y, q, t, z, dkm, parent, retimes)
                    if z < 0:
                        ends.append((km + dkm, step))
                    elif z not in seen:
                        seen.add(z)
                        nxt.append((_Step(z, -1, -1, -1, 0.0, step), km + dkm))
                used.add(q)
                if nodes > max_nodes:
                    break
        if ends:
            best = min(ends, key=lambda e: e[0])[1]
            _apply(sched, best)
            return _length(best)
        if not nxt or nodes > max_nodes:
            return None
        layer = nxt
    return None


def _length(step: _Step | None) -> int:
    n = 0
    while step is not None:
        n += step.pro >= 0
        step = step.parent
    return n


def _apply(sched: Schedule, last: _Step) -> None:
    """Carry out a chain from its last step back, so that each service leaves before its place
    is filled: a step's `out` is the item of the step after it, already moved on."""
    step: _Step | None = last
    while step is not None:
        if step.pro >= 0:
            if sched.pro[step.item] >= 0:
                sched.unassign(step.item)
            for x, _ in step.retimes:
                sched.unassign(x)
            for x, t in ((step.item, step.start), *step.retimes):
                if not sched.fits_at(x, step.pro, t):
                    raise AssertionError("ejection chain step no longer fits")
                sched.assign(x, step.pro, t)
        step = step.parent


def clear_the_way(sched: Schedule, r: int, q: int, *, k: int = 16) -> bool:
    """Give r to q by clearing q's day (and hours), then re-placing everyone who had to leave.

    The last resort for a request that needs several services moved at once: q's services that
    day leave, r goes in, those that fit come back (re-timed), and each of the rest, and any
    service of the week that has to leave for hours, is covered elsewhere by a chain; if any
    cannot be, nothing changes.
    """
    data = sched.data
    saved = sched.copy()
    days = set(range(data.ws[r] // 1440, data.we[r] // 1440 + 1))
    weeks = {week_of(data.ws[r]), week_of(data.we[r])}
    day = sorted((x for t, x in sched.items[q] if t // 1440 in days), key=lambda x: data.we[x])
    for x in day:
        sched.unassign(x)
    # for hours, the longest of the week's other services leave until r fits, pinned ones last
    week = sorted(
        (x for t, x in sched.items[q] if week_of(t) in weeks),
        key=lambda x: (data.required[x] >= 0, -data.dur[x]),
    )
    out = []
    while sched.best_insertion(r, q) is None and week:
        out.append(week.pop(0))
        sched.unassign(out[-1])
    ins = sched.best_insertion(r, q)
    if ins is None:
        sched.restore(saved)
        return False
    sched.assign(r, q, ins[1])
    old = {x: saved.start[x] for x in day}
    # pinned services first: they have nowhere else to go
    for x in sorted(day, key=lambda x: (data.required[x] < 0, data.we[x])):
        back = sched.best_insertion(x, q, near=old[x])
        if back is None:
            out.append(x)
        else:
            sched.assign(x, q, back[1])
    for x in out:
        if data.required[x] >= 0 or eject_chain(sched, x, k=k) is None:
            sched.restore(saved)
            return False
    return True


def cover(sched: Schedule, *, k: int = 16, deadline: float | None = None, tick=None) -> int:
    """Cover what ejection chains can, most valuable first; return how many were covered.

    A request whose nearest able professionals are all short of hours in ways one move cannot
    fix is tried again with more of them (their services can be shorter than the shortfall).
    tick, if given, is called after each request and stops the search when it returns True.
    """
    data = sched.data
    covered = 0
    todo = sorted(sched.unassigned(), key=lambda r: (-data.prio[r], r))
    for wide in (k, 2 * k, 4 * k):
        left = []
        for r in todo:
            if deadline is not None and time.monotonic() > deadline:
                return covered
            if tick is not None and tick():
                return covered
            if sched.pro[r] < 0 and eject_chain(sched, r, k=wide) is None:
                left.append(r)
            else:
                covered += 1
        todo = left
        if not todo:
            break
    return covered
