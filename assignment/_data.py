"""The engine's view of a problem: integer minutes, positions instead of ids, numpy arrays."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from assignment.problem import EARTH_RADIUS_KM, Problem

_EPOCH = datetime(1, 1, 1)


def to_minute(t: datetime) -> int:
    """Return the minutes since 0001-01-01 00:00, a Monday."""
    return t.toordinal() * 1440 + t.hour * 60 + t.minute


def from_minute(m: int) -> datetime:
    """Return the datetime of a minute number."""
    return datetime.fromordinal(m // 1440) + timedelta(minutes=m % 1440)


def week_of(m: int) -> int:
    """Return a number shared by all minutes of one ISO week (Monday to Sunday)."""
    # ordinal 1 is Monday 0001-01-01, so ordinals 1..7 form the first Monday-to-Sunday week
    return (m // 1440 - 1) // 7


class Data:
    """Read-only arrays and lookups derived once from a Problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.speed = problem.speed_kmh
        self.pros = problem.professionals
        self.reqs = problem.requests
        self.pro_index = {p.id: i for i, p in enumerate(self.pros)}
        self.req_index = {r.id: i for i, r in enumerate(self.reqs)}
        self.n_reqs, self.n_pros = len(self.reqs), len(self.pros)
        self.ws = [to_minute(r.window_start) for r in self.reqs]
        self.we = [to_minute(r.window_end) for r in self.reqs]
        self.dur = [r.duration_min for r in self.reqs]
        self.prio = [r.priority for r in self.reqs]
        self.pref = [self.pro_index.get(r.preferred_professional, -1) for r in self.reqs]
        self.required = [self.pro_index.get(r.required_professional, -1) for r in self.reqs]
        self.shifts = [
            [(to_minute(s.start), to_minute(s.end)) for s in p.shifts] for p in self.pros
        ]
        self.cap = [p.max_minutes_per_week for p in self.pros]
        self.current: list[tuple[int, int] | None] = [None] * self.n_reqs
        for a in problem.current_plan:
            self.current[self.req_index[a.request]] = (
                self.pro_index[a.professional],
                to_minute(a.start),
            )
        # radians and cosines so that one distance is a handful of float operations
        self.r_lat = np.radians([r.location.lat for r in self.reqs])
        self.r_lon = np.radians([r.location.lon for r in self.reqs])
        self.p_lat = np.radians([p.location.lat for p in self.pros])
        self.p_lon = np.radians([p.location.lon for p in self.pros])
        self._r = [
            (la, lo, math.cos(la))
            for la, lo in zip(self.r_lat.tolist(), self.r_lon.tolist(), strict=True)
        ]
        self._p = [
            (la, lo, math.cos(la))
            for la, lo in zip(self.p_lat.tolist(), self.p_lon.tolist(), strict=True)
        ]
        skills = sorted({s for p in self.pros for s in p.skills} | {r.skill for r in self.reqs})
        self.skill_mask = {
            s: np.array([s in p.skills for p in self.pros], dtype=bool) for s in skills
        }
        self._cand: dict[tuple[int, int], list[int]] = {}
        self._able: dict[int, np.ndarray] = {}
        # every shift as arrays, so that who can hold a request is one vector operation
        rows = [(p, s0, s1) for p, shifts in enumerate(self.shifts) for s0, s1 in shifts]
        self.sh_pro = np.array([x[0] for x in rows], dtype=np.int64)
        self.sh_s0 = np.array([x[1] for x in rows], dtype=np.int64)
        self.sh_s1 = np.array([x[2] for x in rows], dtype=np.int64)
        # the horizon's weeks numbered 0.., for per-week arrays (a service starts in a shift)
        ends = (self.sh_s0.tolist() + self.sh_s1.tolist()) or [0]
        first = week_of(min(ends))
        self.week_ix = {w: w - first for w in range(first, week_of(max(ends)) + 1)}
        self.cap_arr = np.array(self.cap, dtype=np.int64)
        self.excluding: dict[str, list[int]] = {}
        for i, p in enumerate(self.pros):
            for c in p.excluded_clients:
                self.excluding.setdefault(c, []).append(i)

    # distances -----------------------------------------------------------------------------

    @staticmethod
    def _hav(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
        h = math.sin((b[0] - a[0]) / 2) ** 2 + a[2] * b[2] * math.sin((b[1] - a[1]) / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))

    def km_rr(self, i: int, j: int) -> float:
        """Return km between two requests."""
        return self._hav(self._r[i], self._r[j])

    def km_pr(self, p: int, r: int) -> float:
        """Return km between a professional's home and a request."""
        return self._hav(self._p[p], self._r[r])

    def tt(self, i: int, j: int) -> int:
        """Return travel minutes from request i to request j."""
        return math.ceil(self.km_rr(i, j) * 60 / self.speed)

    def pro_distances(self, r: int) -> np.ndarray:
        """Return km from request r to every professional's home."""
        la, lo = self.r_lat[r], self.r_lon[r]
        h = (
            np.sin((self.p_lat - la) / 2) ** 2
            + np.cos(la) * np.cos(self.p_lat) * np.sin((self.p_lon - lo) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))

    # eligibility ---------------------------------------------------------------------------

    def allowed(self, r: int, p: int) -> bool:
        """Tell whether rules 1, 6 and 7 let professional p take request r at all."""
        req = self.reqs[r]
        pro = self.pros[p]
        if req.skill not in pro.skills or req.client in pro.excluded_clients:
            return False
        return self.required[r] in (-1, p)

    def shift_fits(self, r: int, p: int) -> bool:
        """Tell whether some single shift of p can hold r somewhere in its window (rules 2, 3)."""
        d, ws, we = self.dur[r], self.ws[r], self.we[r]
        return any(max(ws, s0) <= min(we, s1 - d) for s0, s1 in self.shifts[p])

    def skilled_by_distance(self, r: int) -> list[int]:
        """Return the professionals having r's skill, nearest home first."""
        mask = self.skill_mask[self.reqs[r].skill]
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return []
        dist = self.pro_distances(r)[idx]
        return idx[np.argsort(dist, kind="stable")].tolist()

    def able(self, r: int) -> np.ndarray:
        """Return every professional who could ever take r (rules 1, 2, 3, 6, 7), nearest first."""
        mask = self.skill_mask[self.reqs[r].skill].copy()
        d = self.dur[r]
        fits = np.maximum(self.sh_s0, self.ws[r]) <= np.minimum(self.sh_s1 - d, self.we[r])
        held = np.zeros(self.n_pros, dtype=bool)
        held[self.sh_pro[fits]] = True
        mask &= held
        banned = self.excluding.get(self.reqs[r].client)
        if banned:
            mask[banned] = False
        if self.required[r] >= 0:
            keep = mask[self.required[r]]
            mask[:] = False
            mask[self.required[r]] = keep
        idx = np.flatnonzero(mask)
        if idx.size <= 1:
            return idx
        return idx[np.argsort(self.pro_distances(r)[idx], kind="stable")]

    def able_cached(self, r: int) -> np.ndarray:
        """Return able(r), computed once per request (candidates and insert_anywhere ask again)."""
        out = self._able.get(r)
        if out is None:
            out = self._able[r] = self.able(r).astype(np.int32)
        return out

    def candidates(self, r: int, k: int = 0) -> list[int]:
        """Return up to k (0: all) professionals who could ever take r, nearest first."""
        key = (r, k)
        if key not in self._cand:
            able = self.able_cached(r)
            out = (able if not k else able[:k]).tolist()
            if self.required[r] < 0:
                # the current and the preferred professional always stay in reach of the model
                for extra in (self.pref[r], (self.current[r] or (-1,))[0]):
                    if extra >= 0 and extra not in out and extra in able:
                        out.append(extra)
            self._cand[key] = out
        return self._cand[key]
