"""Figures of the coverage board: percent covered per day, zone and skill, and the chart."""

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy.orm import Session

from assignment import service

CHART_W, CHART_H, PAD = 640, 180, 32


def _pct(covered: int, requests: int) -> float:
    return 100.0 * covered / requests if requests else 100.0


def _rollup(cells, key) -> list[dict]:
    acc: dict = defaultdict(lambda: [0, 0])
    for c in cells:
        acc[key(c)][0] += c.requests
        acc[key(c)][1] += c.covered
    return [{"key": k, "requests": n, "covered": c, "uncovered": n - c, "pct": _pct(c, n)}
            for k, (n, c) in acc.items()]


def board_figures(session: Session, *, today: date, days: int = service.HORIZON_DAYS) -> dict:
    """Return the board's tables: by day, by zone (worst first), by skill, zone x day, at risk."""
    cells = service.coverage_cells(session, start=today, days=days)
    by_day = {r["key"]: r for r in _rollup(cells, lambda c: c.day)}
    day_list = [today + timedelta(days=i) for i in range(days)]
    matrix = {(r["key"]): r for r in _rollup(cells, lambda c: (c.zone, c.day))}
    zones = sorted(_rollup(cells, lambda c: c.zone), key=lambda r: (r["pct"], r["key"]))
    n, c = sum(x.requests for x in cells), sum(x.covered for x in cells)
    return {
        "days": [by_day.get(d, {"key": d, "requests": 0, "covered": 0, "uncovered": 0,
                                "pct": 100.0}) for d in day_list],
        "day_list": day_list,
        "zones": zones,
        "skills": sorted(_rollup(cells, lambda c: c.skill), key=lambda r: (r["pct"], r["key"])),
        "matrix": matrix,
        "total": {"requests": n, "covered": c, "uncovered": n - c, "pct": _pct(c, n)},
        "at_risk": service.at_risk(session, start=today, days=days),
        "latest": service.latest_run(session),
    }


def chart(session: Session, *, today: date, weeks: int = 6) -> dict:
    """Return an SVG polyline of the horizon's coverage as recorded each day (server-side)."""
    history = service.coverage_history(session, since=today - timedelta(weeks=weeks))
    points = [(d, _pct(int(c or 0), int(n or 0))) for d, n, c in history]
    if not points:
        return {"points": [], "polyline": "", "w": CHART_W, "h": CHART_H}
    lo = min(80.0, min(p for _, p in points) - 2)
    first, span = points[0][0], max(1, (points[-1][0] - points[0][0]).days)
    out = []
    for d, p in points:
        x = PAD + (CHART_W - 2 * PAD) * (d - first).days / span
        y = PAD + (CHART_H - 2 * PAD) * (100.0 - p) / (100.0 - lo)
        out.append({"x": round(x, 1), "y": round(y, 1), "day": d, "pct": p})
    return {"points": out, "polyline": " ".join(f"{p['x']},{p['y']}" for p in out),
            "w": CHART_W, "h": CHART_H, "lo": lo, "pad": PAD,
            "y_lo": CHART_H - PAD, "y_hi": PAD}
