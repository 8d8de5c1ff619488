"""A mutable week of work per professional with exact (to the minute) insertion and removal."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import defaultdict

import numpy as np

from assignment._data import Data, from_minute, week_of
from assignment.problem import Assignment


class Schedule:
    """Who does what when; every change keeps hard rules 1 to 7 true."""

    def __init__(self, data: Data) -> None:
        self.data = data
        self.pro = [-1] * data.n_reqs
        self.start = [-1] * data.n_reqs
        self.items: list[list[tuple[int, int]]] = [[] for _ in range(data.n_pros)]
        self.week_min: list[dict[int, int]] = [defaultdict(int) for _ in range(data.n_pros)]
        # when each professional last lost a service (a count of removals): a request no one
        # could take stays so until one of its able professionals loses one (see insert_anywhere)
        self.clock = 0
        self.freed_at = np.zeros(data.n_pros, dtype=np.int64)
        self.blocked: dict[int, int] = {}  # request -> the clock when no one could take it
        self.week_used = np.zeros((data.n_pros, max(1, len(data.week_ix))), dtype=np.int64)

    def copy(self) -> Schedule:
        """Return an independent copy."""
        other = Schedule.__new__(Schedule)
        other.data = self.data
        other.pro = list(self.pro)
        other.start = list(self.start)
        other.items = [list(x) for x in self.items]
        other.week_min = [defaultdict(int, w) for w in self.week_min]
        other.clock, other.freed_at = self.clock, self.freed_at.copy()
        other.blocked = dict(self.blocked)
        other.week_used = self.week_used.copy()
        return other

    def restore(self, saved: Schedule) -> None:
        """Go back to a copy taken earlier."""
        self.pro[:], self.start[:] = saved.pro, saved.start
        # going back can free room anyone took since the copy: as if those services left
        self.clock += 1
        for p, (mine, theirs) in enumerate(zip(self.items, saved.items, strict=True)):
            if mine != theirs:
                self.freed_at[p] = self.clock
        self.items[:] = [list(x) for x in saved.items]
        self.week_min[:] = [defaultdict(int, w) for w in saved.week_min]
        self.week_used[:] = saved.week_used

    # changes ---------------------------------------------------------------------------------

    def assign(self, r: int, p: int, t: int) -> None:
        """Give request r to professional p at minute t (the caller checked it fits)."""
        self.pro[r], self.start[r] = p, t
        insort(self.items[p], (t, r))
        w = week_of(t)
        self.week_min[p][w] += self.data.dur[r]
        self.week_used[p, self.data.week_ix[w]] += self.data.dur[r]

    def unassign(self, r: int) -> tuple[int, int]:
        """Take request r off its professional and return (professional, start)."""
        p, t = self.pro[r], self.start[r]
        self.items[p].remove((t, r))
        w = week_of(t)
        self.week_min[p][w] -= self.data.dur[r]
        self.week_used[p, self.data.week_ix[w]] -= self.data.dur[r]
        self.clock += 1
        self.freed_at[p] = self.clock
        self.pro[r], self.start[r] = -1, -1
        return p, t

    def with_room(self, r: int, pros: np.ndarray) -> np.ndarray:
        """Return those of pros who have r's minutes left in some week of r's window."""
        d = self.data
        room = np.zeros(len(pros), dtype=bool)
        for w in {week_of(d.ws[r]), week_of(d.we[r])}:
            i = d.week_ix.get(w)
            if i is not None:
                room |= self.week_used[pros, i] + d.dur[r] <= d.cap_arr[pros]
        return pros[room]

    def assigned(self) -> list[int]:
        """Return the assigned requests."""
        return [r for r, p in enumerate(self.pro) if p >= 0]

    def unassigned(self) -> list[int]:
        """Return the unassigned requests."""
        return [r for r, p in enumerate(self.pro) if p < 0]

    def assignments(self) -> tuple[Assignment, ...]:
        """Return the assignments in the problem's request order."""
        d = self.data
        return tuple(
            Assignment(d.reqs[r].id, d.pros[p].id, from_minute(self.start[r]))
            for r, p in enumerate(self.pro)
            if p >= 0
        )

    # exact feasibility -----------------------------------------------------------------------

    def gaps(self, r: int, p: int, *, ignore_cap: bool = False, window=None, shifts=None):
        """Yield (lo, hi, delta_km) for every range of starts where p could take r as it stands.

        delta_km is the exact change of p's travel that day; window and shifts override the
        request's window and p's shifts (explain uses them to try a wider window or a longer shift).
        """
        d = self.data
        dur = d.dur[r]
        ws, we = window if window else (d.ws[r], d.we[r])
        items = self.items[p]
        starts = [t for t, _ in items]
        cap = d.cap[p]
        for s0, s1 in shifts if shifts is not None else d.shifts[p]:
            lo, hi = max(ws, s0), min(we, s1 - dur)
            day = lo // 1440
            while lo <= hi:
                # one calendar day at a time: travel binds only services starting the same day
                a, b = lo, min(hi, day * 1440 + 1439)
                lo, day = b + 1, day + 1
                if not ignore_cap and self.week_min[p].get(week_of(a), 0) + dur > cap:
                    continue
                for i in range(bisect_left(starts, a), bisect_right(starts, b) + 1):
                    t0, t1 = a, b
                    before = after = None
                    if i > 0:
                        ps, pr = items[i - 1]
                        same = ps // 1440 == a // 1440
                        t0 = max(t0, ps + d.dur[pr] + (d.tt(pr, r) if same else 0))
                        before = pr if same else None
                    if i < len(items):
                        ns, nr = items[i]
                        same = ns // 1440 == a // 1440
                        t1 = min(t1, ns - dur - (d.tt(r, nr) if same else 0))
                        after = nr if same else None
                    if t0 <= t1:
                        yield t0, t1, self._delta(p, r, before, after)

    def _delta(self, p: int, r: int, before: int | None, after: int | None) -> float:
        d = self.data
        into = d.km_pr(p, r) if before is None else d.km_rr(before, r)
        out = d.km_pr(p, r) if after is None else d.km_rr(r, after)
        if before is None and after is None:
            was = 0.0
        elif before is None:
            was = d.km_pr(p, after)
        elif after is None:
            was = d.km_pr(p, before)
        else:
            was = d.km_rr(before, after)
        return into + out - was

    def best_insertion(self, r: int, p: int, *, near: int | None = None):
        """Return (delta_km, start) of the cheapest way p could take r, or None.

        Among starts of one range the earliest is taken (it leaves the most room later),
        or the one nearest `near` (to keep a service where the current plan has it).
        """
        best = None
        for lo, hi, delta in self.gaps(r, p):
            t = lo if near is None else min(max(near, lo), hi)
            key = (delta, 0 if near is None else abs(t - near))
            if best is None or key < best[0]:
                best = (key, t)
        return None if best is None else (best[0][0], best[1])

    def fits_at(self, r: int, p: int, t: int) -> bool:
        """Tell whether p could take r starting exactly at minute t."""
        if not self.data.allowed(r, p):
            return False
        return any(lo <= t <= hi for lo, hi, _ in self.gaps(r, p, window=(t, t)))

    def removal_saving(self, r: int) -> float:
        """Return the km p's travel would shrink by if r were taken off."""
        p, t = self.pro[r], self.start[r]
        items = self.items[p]
        i = bisect_left(items, (t, r))
        day = t // 1440
        before = items[i - 1][1] if i > 0 and items[i - 1][0] // 1440 == day else None
        after = items[i + 1][1] if i + 1 < len(items) and items[i + 1][0] // 1440 == day else None
        return self._delta(p, r, before, after)

    def travel_km(self) -> float:
        """Return the total travel of the schedule."""
        d = self.data
        total = 0.0
        for p, items in enumerate(self.items):
            prev_day, prev = None, None
            for t, r in items:
                day = t // 1440
                if day != prev_day:
                    if prev is not None:
                        total += d.km_pr(p, prev)
                    total += d.km_pr(p, r)
                else:
                    total += d.km_rr(prev, r)
                prev_day, prev = day, r
            if prev is not None:
                total += d.km_pr(p, prev)
        return total

    def key(self) -> tuple[int, int, int, float]:
        """Return the spec's lexicographic score as a tuple that sorts better plans higher."""
        d = self.data
        prio = moved = pref = 0
        for r, p in enumerate(self.pro):
            if p >= 0:
                prio += d.prio[r]
                pref += d.pref[r] == p
            cur = d.current[r]
            if cur is not None and cur[0] != p:
                moved += 1
        return (prio, -moved, pref, -round(self.travel_km(), 6))
