"""Small charts drawn on the server as inline SVG: no script, no library, nothing fetched.  Labels,
series names and the title come in the page's language; ``number`` writes the values the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: Sequence[float]


def line_chart(labels: Sequence[str], series: Sequence[Series], *, width: int = 720, height: int = 240,
               title: str = "", number: Callable[[float], str] = lambda v: f"{v:g}") -> str:
    """A line chart of ``series`` over ``labels`` (x axis), with a y axis from 0 to the largest value."""
    left, right, top, bottom = 40, 10, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for s in series for v in s.values), default=0) or 1
    count = max(len(labels), 1)
    step = plot_w / max(count - 1, 1)

    def x(i: int) -> float:
        return left + i * step if count > 1 else left + plot_w / 2

    def y(v: float) -> float:
        return top + plot_h - (v / peak) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="{escape(title)}">']
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for frac in (0, 0.5, 1):
        value = peak * frac
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="10">'
                     f"{escape(number(value))}</text>")
    # as many x labels as fit side by side (a CJK character is about twice as wide as a digit)
    widest = max((sum(2 if ord(c) > 0x2E80 else 1 for c in label) for label in labels), default=1)
    every = max(1, -(-count * (widest * 6 + 10) // plot_w))
    for i, label in enumerate(labels):
        if i % every == 0 or i == count - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 14}" text-anchor="middle" font-size="10">'
                         f"{escape(label)}</text>")
    for n, s in enumerate(series):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(f'<polyline class="series" data-series="{escape(s.name)}" fill="none" stroke="{escape(s.color)}" '
                     f'stroke-width="2" points="{points}"/>')
        for i, v in enumerate(s.values):
            label = escape(labels[i]) if i < len(labels) else ""
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{escape(s.color)}">'
                         f"<title>{escape(s.name)} {label}: {escape(number(v))}</title>"
                         "</circle>")
        legend_x = left + n * 120
        parts.append(f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" fill="{escape(s.color)}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{height - 5}" font-size="11">{escape(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heat(value: float | None) -> str:
    """A background colour for a percentage in a heat map cell (white at 0, deep blue at 100)."""
    if value is None:
        return "#ffffff"
    share = max(0.0, min(value, 100.0)) / 100
    red = round(255 - share * (255 - 31))
    green = round(255 - share * (255 - 111))
    blue = round(255 - share * (255 - 235))
    return f"#{red:02x}{green:02x}{blue:02x}"
