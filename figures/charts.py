"""The page's inline SVG charts (no script, no CDN): lines over weeks and bars.

A year's charts hold some two thousand marks; each is written here as SVG text once, when the
chart is made, with the names and week labels escaped once per chart rather than once per mark
(the template only places the finished chart: written there, the marks took most of a page
view's time). Values' texts are escaped with html.escape, a third of markupsafe's cost per
call (texts of numbers: the same output).
"""

import html
from collections.abc import Callable
from dataclasses import dataclass, field

from markupsafe import Markup, escape

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 200, 44, 10, 12, 26
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


@dataclass
class Chart:
    w: int
    h: int
    marks: list[str] = field(default_factory=list)  # bars and lines, as SVG already escaped
    legend: list[tuple[str, str]] = field(default_factory=list)  # (name, colour)
    x_labels: list = field(default_factory=list)  # (x, text)
    y_ticks: list = field(default_factory=list)  # (y, text)
    target: tuple | None = None  # (y, text): a goal line

    @property
    def empty(self) -> bool:
        return not self.marks

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
        out.extend(self.marks)
        out.extend(f'<text x="{x:.1f}" y="{self.h - 8}" font-size="9" text-anchor="middle">'
                   f'{e(text)}</text>' for x, text in self.x_labels)
        out.append('</svg>\n<div class="small">')
        out.extend(f'<span class="mr-3"><span style="display:inline-block;width:10px;'
                   f'height:10px;background:{colour}"></span> {e(name)}</span>'
                   for name, colour in self.legend)
        out.append("</div>")
        return Markup("".join(out))


def _xs(count: int) -> list[float]:
    span = W - PAD_L - PAD_R
    return [PAD_L + span * (i + 0.5) / count for i in range(count)]


def _y(value: float, top: float) -> float:
    return PAD_T + (H - PAD_T - PAD_B) * (1 - (value / top if top else 0))


def lines(labels: list[str], series: list[tuple[str, list, Callable]], *,
          top: float | None = None, tick_text=str,
          target: tuple[float, str] | None = None) -> Chart:
    """Return a line chart: series are (name, values with None for no value, value_text)."""
    values = [v for _, vs, _ in series for v in vs if v is not None]
    top = top if top is not None else (max(values) * 1.1 if values and max(values) > 0 else 1)
    chart = Chart(W, H)
    xs, shown = _xs(len(labels)), [escape(label) for label in labels]
    height, e = H - PAD_T - PAD_B, html.escape
    for i, (name, vs, text) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        chart.legend.append((name, colour))
        points = [(xs[j], PAD_T + height * (1 - (v / top if top else 0)), j, v)
                  for j, v in enumerate(vs) if v is not None]
        if not points:
            continue
        name_e = escape(name)
        chart.marks.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points) + '"/>')
        chart.marks.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                           f'<title>{name_e} · {shown[j]}: {e(text(v))}</title></circle>'
                           for x, y, j, v in points)
    chart.x_labels = _x_labels(labels)
    chart.y_ticks = [(_y(top * f, top), tick_text(top * f)) for f in (0, 0.5, 1)]
    if target is not None:
        chart.target = (_y(target[0], top), target[1])
    return chart


def stacked(labels: list[str], names: list[str], values: list[list[float]], *,
            text: Callable, link: Callable | None = None, tick_text=str) -> Chart:
    """Return a bar chart: one bar per label, each a stack of the names' values.

    values[i][n] is name n's value in bar i; text(value) is how a value reads, link(i, n) the
    address a part opens, already escaped for HTML (None: none). Parts worth nothing are left
    out."""
    top = max((sum(stack) for stack in values), default=0) * 1.1 or 1
    chart = Chart(W, H)
    width = (W - PAD_L - PAD_R) / max(len(labels), 1) * 0.7
    w = f"{width:.1f}"
    colours = [COLOURS[i % len(COLOURS)] for i in range(len(names))]
    names_e, e = [escape(n) for n in names], html.escape
    height, marks = H - PAD_T - PAD_B, chart.marks
    for i, (x, stack) in enumerate(zip(_xs(len(labels)), values, strict=True)):
        x, label, base = f"{x - width / 2:.1f}", escape(labels[i]), 0.0
        y0 = PAD_T + height * (1 - base / top)
        for n, value in enumerate(stack):
            if not value:
                continue
            base += value
            y1 = PAD_T + height * (1 - base / top)
            rect = (f'<rect x="{x}" y="{y1:.1f}" width="{w}" height="{y0 - y1:.1f}" '
                    f'fill="{colours[n]}"><title>{label} · {names_e[n]}: {e(text(value))}'
                    f'</title></rect>')
            href = link(i, n) if link is not None else None
            marks.append(f'<a href="{href}">{rect}</a>' if href else rect)
            y0 = y1
    chart.x_labels = _x_labels(labels)
    chart.y_ticks = [(_y(top * f, top), tick_text(top * f)) for f in (0, 0.5, 1)]
    chart.legend = list(zip(names, colours, strict=True))
    return chart


def _x_labels(labels: list[str]) -> list[tuple[float, str]]:
    step = max(1, len(labels) // 8)  # at most about eight labels under the axis
    xs = _xs(len(labels))
    return [(xs[i], t) for i, t in enumerate(labels) if i % step == 0]
