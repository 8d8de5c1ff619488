"""A proven lower bound on travel: the cheapest way to give every covered service one trip in and
one trip out.

In any valid plan each covered service is entered from home or from a service that can precede it
the same day, and left to home or to a service that can follow it, each service at most once on
either side. Choosing those trips at least cost (a min-cost flow, homes at the nearest
professional with the skill) relaxes only the tours themselves, so no valid plan that covers the
same services travels less. That is the figure `bound_travel_km` states.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from ortools.graph.python import min_cost_flow

from assignment._data import Data
from assignment.problem import EARTH_RADIUS_KM

SLACK_MIN = 1  # validators allow a minute of rounding on travel times; so does the bound
UNITS_PER_KM = 1000  # costs are whole metres, rounded down so the bound stays a bound
FLOW_ROWS = 2500  # services of one day up to which the flow's n x n arrays are built (~0.3 GB)


def _km(lat1, lon1, lat2, lon2) -> np.ndarray:
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def _nearest_home(data: Data, r: int) -> float:
    if data.required[r] >= 0:
        return data.km_pr(data.required[r], r)
    mask = data.skill_mask[data.reqs[r].skill]
    return float(data.pro_distances(r)[mask].min()) if mask.any() else 0.0


def _groups(data: Data, covered: list[int]) -> list[list[int]]:
    """Split the services into sets of whole days: trips never join two of them."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for r in covered:
        first = root(data.ws[r] // 1440)
        for day in range(data.ws[r] // 1440 + 1, data.we[r] // 1440 + 1):
            parent[root(day)] = first
    out: dict[int, list[int]] = defaultdict(list)
    for r in covered:
        out[root(data.ws[r] // 1440)].append(r)
    return list(out.values())


def _group_bound(data: Data, rows: list[int]) -> int:
    a = np.array(rows)
    n = len(rows)
    home_km = np.array([_nearest_home(data, r) for r in rows])
    home = np.floor(home_km * UNITS_PER_KM).astype(np.int64)
    if n > FLOW_ROWS:
        return _split_bound(data, a, home)
    ws, we, dur = (np.array(v)[a] for v in (data.ws, data.we, data.dur))
    km = _km(data.r_lat[a][:, None], data.r_lon[a][:, None], data.r_lat[a], data.r_lon[a])
    trip = np.ceil(km * 60 / data.speed) - SLACK_MIN
    cost = np.floor(km * UNITS_PER_KM).astype(np.int64)
    # j can follow i the same day only if i's earliest end plus the trip reaches j's latest start;
    # a trip dearer than going home and out again is never needed
    arcs = ((ws + dur)[:, None] + trip <= we) & (cost < home[:, None] + home)
    np.fill_diagonal(arcs, False)
    i, j = np.nonzero(arcs)
    home_in, home_out = 2 * n, 2 * n + 1
    idx = np.arange(n)
    tails = np.concatenate([i, idx, [home_in], np.full(n, home_out)])
    heads = np.concatenate([n + j, np.full(n, home_in), [home_out], n + idx])
    costs = np.concatenate([cost[i, j], home, [0], home])
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32),
        heads.astype(np.int32),
        np.ones(len(tails), dtype=np.int64) + np.where(tails == home_in, n, 0),
        costs,
    )
    flow.set_nodes_supplies(
        np.arange(2 * n + 2, dtype=np.int32),
        np.concatenate([np.ones(n), -np.ones(n), [0, 0]]).astype(np.int64),
    )
    if flow.solve() != flow.OPTIMAL:
        return 0
    return flow.optimal_cost()


def _split_bound(data: Data, a: np.ndarray, home: np.ndarray) -> int:
    """A weaker bound for a day too large for the flow's n x n arrays, in blocks of rows.

    Each trip between two services is split in half, one half to the service it leaves and one
    to the service it enters; a service then pays at least the cheaper of a trip from home and
    half its cheapest possible trip in, and the same on the way out.
    """
    ws, we, dur = (np.array(v)[a] for v in (data.ws, data.we, data.dur))
    lat, lon = data.r_lat[a], data.r_lon[a]
    best_in = np.full(len(a), np.iinfo(np.int64).max)
    best_out = np.full(len(a), np.iinfo(np.int64).max)
    for lo in range(0, len(a), FLOW_ROWS):
        hi = min(len(a), lo + FLOW_ROWS)
        km = _km(lat[lo:hi, None], lon[lo:hi, None], lat, lon)
        trip = np.ceil(km * 60 / data.speed) - SLACK_MIN
        cost = np.floor(km * UNITS_PER_KM).astype(np.int64)
        arcs = (ws + dur)[lo:hi, None] + trip <= we
        arcs[np.arange(hi - lo), np.arange(lo, hi)] = False
        cost = np.where(arcs, cost, np.iinfo(np.int64).max)
        best_out[lo:hi] = cost.min(axis=1)
        best_in = np.minimum(best_in, cost.min(axis=0))
    half_in = np.where(best_in == np.iinfo(np.int64).max, home, best_in // 2)
    half_out = np.where(best_out == np.iinfo(np.int64).max, home, best_out // 2)
    return int(np.minimum(home, half_in).sum() + np.minimum(home, half_out).sum())


def travel_lower_bound(data: Data, covered: list[int]) -> float:
    """Return a lower bound, in km rounded down to 0.01, on the travel of plans covering these."""
    total = sum(_group_bound(data, rows) for rows in _groups(data, covered))
    return math.floor(total / UNITS_PER_KM * 100) / 100
