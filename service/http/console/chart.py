"""A stock level over time as an inline SVG, drawn on the server (no script, no style
attribute: the CSP allows neither; the look is console.css's, by class).

The level is a step line: it holds its value until the next movement moves it. The x axis is
time when the movements span some; movements all at one moment are spaced evenly instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

WIDTH, HEIGHT = 600, 200
# Room for the axis labels: left for the levels, below for the two dates.
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 24


@dataclass(frozen=True)
class Point:
    at: datetime
    level: int


def _xs(points: Sequence[Point]) -> list[float]:
    span = (points[-1].at - points[0].at).total_seconds()
    inner = WIDTH - LEFT - RIGHT
    if span <= 0:
        if len(points) == 1:
            return [LEFT + inner / 2]
        return [LEFT + inner * i / (len(points) - 1) for i in range(len(points))]
    return [LEFT + inner * (p.at - points[0].at).total_seconds() / span for p in points]


def _scale(low: int, high: int) -> tuple[int, int]:
    """The levels the y axis runs between: always including 0, never empty."""
    low, high = min(low, 0), max(high, 0)
    return (low, high) if high > low else (low, low + 1)


def level_chart(points: Sequence[Point], title: str, labels: tuple[str, str]) -> Markup:
    """The chart of ``points`` (in time order, each the level after a movement) with an
    accessible ``title``; ``labels`` are the first and last times as the reader writes them.
    Empty markup for no points."""
    if not points:
        return Markup("")
    low, high = _scale(min(p.level for p in points), max(p.level for p in points))
    inner_h = HEIGHT - TOP - BOTTOM

    def y(level: int) -> float:
        return TOP + inner_h * (high - level) / (high - low)

    xs = _xs(points)
    path = [f"M{LEFT:.1f},{y(0):.1f}", f"H{xs[0]:.1f}", f"V{y(points[0].level):.1f}"]
    for x, p in zip(xs[1:], points[1:], strict=True):
        path += [f"H{x:.1f}", f"V{y(p.level):.1f}"]
    path.append(f"H{WIDTH - RIGHT:.1f}")
    dot = Markup('<circle class="dot" cx="{:.1f}" cy="{:.1f}" r="2.5"></circle>')
    dots = Markup("").join(dot.format(x, y(p.level)) for x, p in zip(xs, points, strict=True))
    return Markup(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="chart-title"'
        ' xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
        '<title id="chart-title">{title}</title>'
        '<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"></line>'
        '<line class="zero" x1="{left}" y1="{zero:.1f}" x2="{right}" y2="{zero:.1f}"></line>'
        '<text class="label" x="{lx}" y="{ty:.1f}" text-anchor="end">{high}</text>'
        '<text class="label" x="{lx}" y="{by:.1f}" text-anchor="end">{low}</text>'
        '<path class="level" d="{path}" fill="none"></path>{dots}'
        '<text class="label" x="{left}" y="{h}" dy="-4">{first}</text>'
        '<text class="label" x="{right}" y="{h}" dy="-4" text-anchor="end">{last}</text>'
        "</svg>"
    ).format(
        w=WIDTH,
        h=HEIGHT,
        title=title,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=HEIGHT - BOTTOM,
        zero=y(0),
        lx=LEFT - 6,
        ty=y(high) + 4,
        by=y(low) + 4,
        high=high,
        low=low,
        path=" ".join(path),
        dots=dots,
        first=labels[0],
        last=labels[1],
    )
