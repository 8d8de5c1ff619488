"""The page's inline SVG charts (no script, no CDN): lines over weeks and bars.

A year's charts hold some two thousand marks; they are written here in one pass rather than
by the template, which took most of a page view's time.
"""

from dataclasses import dataclass, field

from markupsafe import Markup, escape

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 200, 44, 10, 12, 26
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


@dataclass
class Point:
    x: float
    y: float
    label: str  # the week
    value: float
    text: str  # the value as the reader reads it


@dataclass
class Line:
    name: str
    colour: str
    points: list[Point] = field(default_factory=list)

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass
class Chart:
    w: int
    h: int
    lines: list = field(default_factory=list)
    bars: list = field(default_factory=list)
    x_labels: list = field(default_factory=list)  # (x, text)
    y_ticks: list = field(default_factory=list)  # (y, text)
    target: tuple | None = None  # (y, text): a goal line

    @property
    def empty(self) -> bool:
        return not any(line.points for line in self.lines) and not self.bars

    def svg(self, id: str, label: str) -> Markup:
        """Return the chart as SVG with its legend; every text is escaped."""
        e, right = escape, self.w - 10
        out = [f'<svg id="{e(id)}" width="100%" viewBox="0 0 {self.w} {self.h}" role="img" '
               f'aria-label="{e(label)}">']
        for y, text in self.y_ticks:
            out.append(f'<line x1="40" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e5e5e5"/>'
                       f'<text x="36" y="{y + 3:.1f}" font-size="9" text-anchor="end">'
                       f'{e(text)}</text>')
        if self.target:
            y, text = self.target
            out.append(f'<line x1="40" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#d62728" '
                       f'stroke-dasharray="4"><title>{e(text)}</title></line>')
        for b in self.bars:
            rect = (f'<rect x="{b["x"]}" y="{b["y"]}" width="{b["w"]}" height="{b["h"]}" '
                    f'fill="{b["colour"]}"><title>{e(b["title"])}</title></rect>')
            out.append(f'<a href="{e(b["link"])}">{rect}</a>' if b["link"] else rect)
        for line in self.lines:
            if not line.points:
                continue
            name = e(line.name)
            out.append(f'<polyline fill="none" stroke="{line.colour}" stroke-width="2" '
                       f'points="{line.polyline}"/>')
            out.extend(f'<circle cx="{p.x:.1f}" cy="{p.y:.1f}" r="3" fill="{line.colour}">'
                       f'<title>{name} · {e(p.label)}: {e(p.text)}</title></circle>'
                       for p in line.points)
        out.extend(f'<text x="{x:.1f}" y="{self.h - 8}" font-size="9" text-anchor="middle">'
                   f'{e(text)}</text>' for x, text in self.x_labels)
        out.append('</svg>\n<div class="small">')
        out.extend(f'<span class="mr-3"><span style="display:inline-block;width:10px;'
                   f'height:10px;background:{line.colour}"></span> {e(line.name)}</span>'
                   for line in self.lines)
        out.append("</div>")
        return Markup("".join(out))


def _x(i: int, count: int) -> float:
    span = W - PAD_L - PAD_R
    return PAD_L + (span * (i + 0.5) / count if count else 0)


def _y(value: float, top: float) -> float:
    return PAD_T + (H - PAD_T - PAD_B) * (1 - (value / top if top else 0))


def lines(labels: list[str], series: list[tuple[str, list, callable]], *, top: float | None = None,
          tick_text=str, target: tuple[float, str] | None = None) -> Chart:
    """Return a line chart: series are (name, values with None for no value, value_text)."""
    values = [v for _, vs, _ in series for v in vs if v is not None]
    top = top if top is not None else (max(values) * 1.1 if values and max(values) > 0 else 1)
    chart = Chart(W, H)
    for i, (name, vs, text) in enumerate(series):
        line = Line(name, COLOURS[i % len(COLOURS)])
        line.points = [Point(_x(j, len(labels)), _y(v, top), labels[j], v, text(v))
                       for j, v in enumerate(vs) if v is not None]
        chart.lines.append(line)
    chart.x_labels = _x_labels(labels)
    chart.y_ticks = [(_y(top * f, top), tick_text(top * f)) for f in (0, 0.5, 1)]
    if target is not None:
        chart.target = (_y(target[0], top), target[1])
    return chart


def stacked(labels: list[str], stacks: list[list[tuple[str, float, str, str | None]]],
            names: list[str], *, tick_text=str) -> Chart:
    """Return a bar chart: one bar per label, each a stack of (name, value, text, link)."""
    top = max((sum(v for _, v, _, _ in s) for s in stacks), default=0) * 1.1 or 1
    chart = Chart(W, H)
    width = (W - PAD_L - PAD_R) / max(len(labels), 1) * 0.7
    colour = {n: COLOURS[i % len(COLOURS)] for i, n in enumerate(names)}
    for i, stack in enumerate(stacks):
        base = 0.0
        for name, value, text, link in stack:
            if not value:
                continue
            y0, y1 = _y(base, top), _y(base + value, top)
            chart.bars.append({"x": round(_x(i, len(labels)) - width / 2, 1),
                               "y": round(y1, 1), "w": round(width, 1),
                               "h": round(y0 - y1, 1), "colour": colour[name],
                               "title": f"{labels[i]} · {name}: {text}", "link": link})
            base += value
    chart.x_labels = _x_labels(labels)
    chart.y_ticks = [(_y(top * f, top), tick_text(top * f)) for f in (0, 0.5, 1)]
    chart.lines = [Line(n, colour[n]) for n in names]  # the legend
    return chart


def _x_labels(labels: list[str]) -> list[tuple[float, str]]:
    step = max(1, len(labels) // 8)  # at most about eight labels under the axis
    return [(_x(i, len(labels)), t) for i, t in enumerate(labels) if i % step == 0]
