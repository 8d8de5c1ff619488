"""Why a request is unassigned, and the one change that would let it be covered."""

from __future__ import annotations

from assignment._data import Data, from_minute, to_minute, week_of
from assignment._schedule import Schedule
from assignment.greedy import make_room
from assignment.problem import Assignment, Problem, Reason, Unassigned

NEAREST = 10  # professionals with the skill named in the reasons
STRETCH_MIN = 180  # the largest shift extension or window widening suggested


def _hhmm(m: int) -> str:
    return f"{m % 1440 // 60:02d}:{m % 60:02d}"


def _when(m: int) -> str:
    return from_minute(m).strftime("%Y-%m-%dT%H:%M")


def _shift_weeks(data: Data, r: int, p: int) -> list[tuple[int, int]]:
    """Return (first start, week) of every day on which a shift of p can hold r in its window."""
    dur, ws, we = data.dur[r], data.ws[r], data.we[r]
    out = []
    for s0, s1 in data.shifts[p]:
        lo, hi = max(ws, s0), min(we, s1 - dur)
        while lo <= hi:
            out.append((lo, week_of(lo)))
            lo = (lo // 1440 + 1) * 1440
    return sorted(out)


def _clash(sched: Schedule, r: int, p: int, t: int) -> int | None:
    """Return a service of p that r starting at t would clash with (to the minute, with travel)."""
    data = sched.data
    end = t + data.dur[r]
    for s, x in sched.items[p]:
        e = s + data.dur[x]
        if t < e and s < end:
            return x
        if s // 1440 == t // 1440:
            if s <= t and t < e + data.tt(x, r):
                return x
            if s > t and end + data.tt(r, x) > s:
                return x
    return None


def reason(sched: Schedule, r: int, p: int) -> Reason | None:
    """Return the first rule that rules p out for r, or None when p could take r as it stands."""
    data = sched.data
    req, pro = data.reqs[r], data.pros[p]
    if req.client in pro.excluded_clients:
        return Reason(pro.id, "excluded_client")
    if data.required[r] >= 0 and data.required[r] != p:
        return Reason(pro.id, "required_professional")
    starts = _shift_weeks(data, r, p)
    if not starts:
        return Reason(pro.id, "no_shift")
    open_starts = [t for t, w in starts if sched.week_min[p].get(w, 0) + data.dur[r] <= data.cap[p]]
    if not open_starts:
        return Reason(pro.id, "weekly_hours")
    if next(sched.gaps(r, p), None) is not None:
        return None
    x = _clash(sched, r, p, open_starts[0])
    if x is None:  # the earliest start clashes with nothing, yet no start fits: name the nearest
        x = min((abs(s - open_starts[0]), x) for s, x in sched.items[p])[1]
    s = sched.start[x]
    return Reason(pro.id, "busy", f"{data.reqs[x].id} {_hhmm(s)}-{_hhmm(s + data.dur[x])}")


def _extend_shift(sched: Schedule, r: int, pros: list[int]) -> tuple[int, str] | None:
    data = sched.data
    best = None
    for p in pros:
        shifts = data.shifts[p]
        for i, (s0, s1) in enumerate(shifts):
            day = s0 // 1440
            same_day = [s for s in shifts if s[0] // 1440 == day]
            label = "" if len(same_day) == 1 else f" {_hhmm(s0)}-{_hhmm(s1)}"
            nxt = shifts[i + 1][0] if i + 1 < len(shifts) else s1 + STRETCH_MIN
            prv = shifts[i - 1][1] if i > 0 else s0 - STRETCH_MIN
            later = min(s1 + STRETCH_MIN, nxt, day * 1440 + 1439)
            earlier = max(s0 - STRETCH_MIN, prv, day * 1440)
            trial = shifts[:i] + [(s0, later)] + shifts[i + 1 :]
            for lo, _, _ in sched.gaps(r, p, shifts=trial):
                end = lo + data.dur[r]
                if end > s1 and (best is None or end - s1 < best[0]):
                    when = f"{from_minute(s0).date()}{label}"
                    best = (end - s1, f"extend {data.pros[p].id}'s shift on {when} to {_hhmm(end)}")
            trial = shifts[:i] + [(earlier, s1)] + shifts[i + 1 :]
            for _, hi, _ in sched.gaps(r, p, shifts=trial):
                if hi < s0 and (best is None or s0 - hi < best[0]):
                    when = f"{from_minute(s0).date()}{label}"
                    best = (
                        s0 - hi,
                        f"extend {data.pros[p].id}'s shift on {when} to start at {_hhmm(hi)}",
                    )
    return best


def _widen_window(sched: Schedule, r: int, pros: list[int]) -> tuple[int, str] | None:
    data = sched.data
    ws, we = data.ws[r], data.we[r]
    rid = data.reqs[r].id
    best = None
    for p in pros:
        for lo, hi, _ in sched.gaps(r, p, window=(ws - STRETCH_MIN, we + STRETCH_MIN)):
            pid = data.pros[p].id
            if hi < ws and (best is None or ws - hi < best[0]):
                when = _hhmm(hi) if hi // 1440 == ws // 1440 else _when(hi)
                best = (
                    ws - hi,
                    f"widen {rid}'s window to start at {when} so that {pid} can take it",
                )
            if lo > we and (best is None or lo - we < best[0]):
                when = _hhmm(lo) if lo // 1440 == we // 1440 else _when(lo)
                best = (lo - we, f"widen {rid}'s window to end at {when} so that {pid} can take it")
    return best


def suggestion(sched: Schedule, r: int, pros: list[int]) -> str | None:
    """Return one change that would let r be covered, in words an agent can act on, or None."""
    data = sched.data
    able = [p for p in pros if data.allowed(r, p)]
    if not able:
        return None
    for found in (_extend_shift(sched, r, able), _widen_window(sched, r, able)):
        if found is not None:
            return found[1]
    moved = make_room(sched, r, k=5, commit=False)
    if moved is not None:
        x, q, t, p = moved
        return (
            f"move {data.reqs[x].id} to {data.pros[q].id} at {_when(t)} "
            f"so that {data.pros[p].id} can take {data.reqs[r].id}"
        )
    return None


def explain_request(sched: Schedule, r: int, *, suggest: bool = True) -> Unassigned | None:
    """Explain why r is unassigned, or return None when one of the nearest could take it;
    suggest=False leaves out the suggestion, the costly part."""
    data = sched.data
    nearest = data.skilled_by_distance(r)[:NEAREST]
    if not nearest:
        return Unassigned(data.reqs[r].id, (Reason(None, "skill"),), None)
    reasons = []
    for p in nearest:
        why = reason(sched, r, p)
        if why is None:
            return None
        reasons.append(why)
    return Unassigned(data.reqs[r].id, tuple(reasons),
                      suggestion(sched, r, nearest) if suggest else None)


def explain(problem: Problem, assignments: tuple[Assignment, ...] | list) -> tuple[Unassigned, ...]:
    """Explain every request that a valid plan's assignments leave unassigned."""
    data = Data(problem)
    sched = Schedule(data)
    for a in assignments:
        sched.assign(data.req_index[a.request], data.pro_index[a.professional], to_minute(a.start))
    out = []
    for r in sched.unassigned():
        u = explain_request(sched, r)
        if u is None:
            raise ValueError(f"plan is not maximal: {data.reqs[r].id} fits as the plan stands")
        out.append(u)
    return tuple(out)
