"""The Banks charts, drawn on the server as SVG (no script, no chart library).

Each chart is an `<svg role="img">` named by its `<title>` and summarised by its `<desc>`;
the page puts the same numbers in a table beside it for screen readers and for anyone who
prefers numbers. Colours come from the page's CSS variables, so dark mode just works; a bar
or a point never says something by colour alone (every value is also written).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from markupsafe import Markup, escape

WIDTH: Final = 640
HEIGHT: Final = 240
_MARGIN_LEFT: Final = 70
_MARGIN_RIGHT: Final = 16
_MARGIN_TOP: Final = 16
_MARGIN_BOTTOM: Final = 36
BAR_HEIGHT: Final = 22
BAR_GAP: Final = 8


def _number(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")


def balance_chart(
    points: Sequence[tuple[str, float]], *, title: str, description: str, chart_id: str
) -> Markup:
    """A line of the balance at the end of each month; `points` are (month label, balance)."""
    if not points:
        return Markup("")
    values = [value for _, value in points]
    low, high = min(min(values), 0.0), max(max(values), 0.0)
    if high == low:
        high = low + 1.0
    plot_width = WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_height = HEIGHT - _MARGIN_TOP - _MARGIN_BOTTOM
    step = plot_width / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return _MARGIN_TOP + (high - value) / (high - low) * plot_height

    coordinates = [
        (_MARGIN_LEFT + index * step, y(value)) for index, (_, value) in enumerate(points)
    ]
    parts = [
        f'<svg class="chart balance-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        f'<line class="axis" x1="{_MARGIN_LEFT}" x2="{WIDTH - _MARGIN_RIGHT}" '
        f'y1="{y(0):.1f}" y2="{y(0):.1f}"/>',
        f'<text class="tick" x="{_MARGIN_LEFT - 6}" y="{y(high) + 4:.1f}" text-anchor="end">'
        f"{escape(_number(high))}</text>",
        f'<text class="tick" x="{_MARGIN_LEFT - 6}" y="{y(low) + 4:.1f}" text-anchor="end">'
        f"{escape(_number(low))}</text>",
    ]
    if low < 0 < high:
        parts.append(
            f'<text class="tick" x="{_MARGIN_LEFT - 6}" y="{y(0) + 4:.1f}" '
            'text-anchor="end">0</text>'
        )
    path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coordinates)
    parts.append(f'<polyline class="line" points="{path}"/>')
    every = max(1, len(points) // 6)
    for index, ((label, _), (x, yy)) in enumerate(zip(points, coordinates, strict=True)):
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{yy:.1f}" r="3"/>')
        if index % every == 0 or index == len(points) - 1:
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 12}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    # Every text in `parts` went through `escape`; the rest is numbers and fixed markup.
    return Markup("".join(parts))  # noqa: S704


def spending_chart(
    rows: Sequence[tuple[str, float]], *, title: str, description: str, chart_id: str
) -> Markup:
    """Horizontal bars, one per category, longest first; `rows` are (name, amount)."""
    if not rows:
        return Markup("")
    top = max(amount for _, amount in rows) or 1.0
    label_width = 200
    bar_space = WIDTH - label_width - 90
    height = len(rows) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    parts = [
        f'<svg class="chart spending-chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for index, (name, amount) in enumerate(rows):
        top_y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        width = max(2.0, amount / top * bar_space)
        parts.append(
            f'<text class="bar-label" x="{label_width - 8}" y="{top_y + BAR_HEIGHT * 0.7:.1f}" '
            f'text-anchor="end">{escape(name[:30])}</text>'
            f'<rect class="bar" x="{label_width}" y="{top_y}" width="{width:.1f}" '
            f'height="{BAR_HEIGHT}" rx="3"/>'
            f'<text class="bar-value" x="{label_width + width + 6:.1f}" '
            f'y="{top_y + BAR_HEIGHT * 0.7:.1f}">{escape(_number(amount))}</text>'
        )
    parts.append("</svg>")
    # Every text in `parts` went through `escape`; the rest is numbers and fixed markup.
    return Markup("".join(parts))  # noqa: S704
