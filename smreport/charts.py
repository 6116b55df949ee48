"""KPI charts as small inline SVG, drawn at build time (no JavaScript).

Each chart shows the baseline and target as faint lines, the expected path
from start to due as a dashed line, the readings as a line with dots, and the
latest value labelled. It reads in grey scale: shapes and dashes, not colour,
carry the meaning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup, escape

from .i18n import Translator
from .model import Kpi, Reading

WIDTH, HEIGHT = 320, 96
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 6, 64, 10, 18


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def kpi_chart(kpi: Kpi, readings: Sequence[Reading], start: dt.date, due: dt.date,
              translate: Translator, label: str) -> Markup:
    """An SVG sparkline of one KPI; `label` is the text alternative for screen readers."""
    points = sorted((r for r in readings if r.kpi == kpi.id), key=lambda r: r.date)
    values = [kpi.baseline, kpi.target, *(r.value for r in points)]
    low, high = min(values), max(values)
    if high == low:
        high = low + 1
    first_day = min([start, *(r.date for r in points)])
    last_day = max([due, *(r.date for r in points)])
    days = max(1, (last_day - first_day).days)
    plot_width = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_height = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(day: dt.date) -> float:
        return PAD_LEFT + plot_width * (day - first_day).days / days

    def y(value: float) -> float:
        return PAD_TOP + plot_height * (high - value) / (high - low)

    parts = [
        f'<svg class="kpi-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        # baseline and target
        f'<line class="baseline" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
        f'y1="{_fmt(y(kpi.baseline))}" y2="{_fmt(y(kpi.baseline))}" stroke="#999" '
        f'stroke-width="1"/>',
        f'<line class="target" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
        f'y1="{_fmt(y(kpi.target))}" y2="{_fmt(y(kpi.target))}" stroke="#555" '
        f'stroke-width="1"/>',
        f'<text x="{WIDTH - PAD_RIGHT + 4}" y="{_fmt(y(kpi.target) + 4)}" font-size="10" '
        f'fill="#555">{escape(translate("site.target"))} {escape(translate.number(kpi.target))}'
        "</text>",
        # the expected path, start to due
        f'<line class="expected" x1="{_fmt(x(start))}" y1="{_fmt(y(kpi.baseline))}" '
        f'x2="{_fmt(x(due))}" y2="{_fmt(y(kpi.target))}" stroke="#555" stroke-width="1" '
        f'stroke-dasharray="3 3"/>',
    ]
    if points:
        path = " ".join(f"{_fmt(x(r.date))},{_fmt(y(r.value))}" for r in points)
        parts.append(f'<polyline class="readings" points="{path}" fill="none" stroke="#000" '
                     f'stroke-width="2"/>')
        for reading in points:
            parts.append(f'<circle cx="{_fmt(x(reading.date))}" cy="{_fmt(y(reading.value))}" '
                         f'r="2.5" fill="#000"/>')
        latest = points[-1]
        parts.append(f'<text class="latest" x="{_fmt(x(latest.date) + 5)}" '
                     f'y="{_fmt(y(latest.value) - 4)}" font-size="11" font-weight="bold" '
                     f'fill="#000">{escape(translate.number(latest.value))}</text>')
    parts.append(f'<text x="{PAD_LEFT}" y="{HEIGHT - 4}" font-size="10" fill="#555">'
                 f'{escape(translate.date(start, "short"))}</text>')
    parts.append(f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 4}" font-size="10" fill="#555" '
                 f'text-anchor="end">{escape(translate.date(due, "short"))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
