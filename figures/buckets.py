"""Durations kept as histograms of bucketed values; percentiles read back from them. Pure.

A bucket is named by its lower bound. Buckets are exact where people read the figures
closely (minutes under an hour, seconds under five minutes) and coarser further out, so a
week's histogram stays a few dozen entries whatever its size. A percentile is the nearest
rank (the smallest bucket at or under which at least that share of the values lie), given as
its bucket's lower bound: the same answer whether the histogram was summed from weekly rows or
built from raw rows.
"""

import math
from collections.abc import Iterable, Mapping

# (below, width): values under `below` fall in buckets `width` wide.
MINUTE_STEPS = ((60, 1), (8 * 60, 5), (48 * 60, 30), (30 * 1440, 360), (math.inf, 1440))
SECOND_STEPS = ((300, 5), (3600, 30), (math.inf, 300))


def bucket(value: float, steps=MINUTE_STEPS) -> int:
    """Return the lower bound of the bucket value falls in (negative values count as 0)."""
    value = max(value, 0)
    for below, width in steps:
        if value < below:
            return int(value // width * width)
    raise AssertionError("the last step has no upper bound")


def histogram(values: Iterable[float], steps=MINUTE_STEPS) -> dict[str, int]:
    """Return {bucket: count} of values, keys as text (the form a JSON column keeps)."""
    out: dict[str, int] = {}
    for v in values:
        k = str(bucket(v, steps))
        out[k] = out.get(k, 0) + 1
    return out


def merge(into: dict[str, int], other: Mapping[str, int] | None) -> dict[str, int]:
    """Add other's counts into into and return it."""
    for k, c in (other or {}).items():
        into[k] = into.get(k, 0) + c
    return into


def percentile(hist: Mapping[str, int] | None, share: float) -> int | None:
    """Return the nearest-rank percentile (share 0.5: median) of a histogram; None if empty."""
    return percentiles(hist, (share,))[0]


def percentiles(hist: Mapping[str, int] | None, shares: tuple[float, ...]) -> list[int | None]:
    """Return the nearest-rank percentile of each share (ascending), sorting the histogram once."""
    if not hist:
        return [None] * len(shares)
    items = sorted((int(k), c) for k, c in hist.items() if c)
    n = sum(c for _, c in items)
    if n == 0:
        return [None] * len(shares)
    out, seen, i = [], 0, 0
    for share in shares:
        rank = max(1, math.ceil(share * n))
        while seen < rank and i < len(items):
            seen += items[i][1]
            i += 1
        out.append(items[i - 1][0] if i else items[0][0])
    return out
