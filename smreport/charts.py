"""KPI charts as small inline SVG, drawn at build time (no JavaScript).

A chart shows the baseline and the target as horizontal lines labelled with
their values, the expected path from start to due as a dashed line, today as
a dotted mark, and the readings as a line with dots, the latest labelled. It
reads in grey scale and in print: line styles, not colour, carry the meaning,
and the page states the same facts in words beside it. No `style` attribute
is used, so the pages' Content-Security-Policy needs no exception.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache

from markupsafe import Markup, escape

from .i18n import Translator
from .model import Kpi, Reading

# About 400 px wide on a desktop and 340 on a phone, where 13 units stay legible text.
WIDTH, HEIGHT = 400, 160
PAD_LEFT, PAD_TOP, PAD_BOTTOM = 8, 20, 24
MIN_PAD_RIGHT, MAX_PAD_RIGHT = 80, 170  # room for the target and baseline labels
FONT = 13
MIN_LABEL_GAP = FONT + 2


# A coordinate to one decimal, without a needless ".0". Formatting a float takes about
# 3,500 instructions, and a goal's charts write about 110 coordinates, four in five of
# which a 5,000-note project's charts have written before (the plot's edges, the label
# column, the dates shared by goals of the same period): each is written once per process.
# Adding 0.0 makes -0.0 (equal to 0.0, so one cache entry) write as "0" whichever comes first.
@lru_cache(maxsize=65536)
def _fmt(value: float) -> str:
    return f"{value + 0.0:.1f}".rstrip("0").rstrip(".")


class _Frame:
    """Maps days and values of one KPI to SVG coordinates inside a plot area."""

    def __init__(self, kpi: Kpi, readings: Sequence[Reading], start: dt.date, due: dt.date,
                 box: tuple[float, float, float, float]) -> None:
        values = [kpi.baseline, kpi.target, *(r.value for r in readings)]
        self.low, self.high = min(values), max(values)
        if self.high == self.low:
            self.high = self.low + 1
        self.first = min([start, *(r.date for r in readings)])
        self.last = max([due, *(r.date for r in readings)])
        self.days = max(1, (self.last - self.first).days)
        self.left, self.top, self.right, self.bottom = box

    def x(self, day: dt.date) -> float:
        return self.left + (self.right - self.left) * (day - self.first).days / self.days

    def y(self, value: float) -> float:
        return self.top + (self.bottom - self.top) * (self.high - value) / (self.high - self.low)


def _line(css_class: str, x1: float, y1: float, x2: float, y2: float, stroke: str,
          width: float = 1, dash: str = "") -> str:
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line class="{css_class}" x1="{_fmt(x1)}" y1="{_fmt(y1)}" x2="{_fmt(x2)}" '
            f'y2="{_fmt(y2)}" stroke="{stroke}" stroke-width="{_fmt(width)}"{dashes}/>')


def _text(text: str, x: float, y: float, anchor: str = "start", bold: bool = False,
          fill: str = "#505a5f") -> str:
    weight = ' font-weight="bold"' if bold else ""
    # A white halo keeps a label readable where it crosses a line.
    return (f'<text x="{_fmt(x)}" y="{_fmt(y)}" font-size="{FONT}" text-anchor="{anchor}" '
            f'fill="{fill}" stroke="#fff" stroke-width="3" paint-order="stroke"{weight}>'
            f'{escape(text)}</text>')


def _spread(wanted: list[float], top: float, bottom: float) -> list[float]:
    """Label positions near `wanted`, at least MIN_LABEL_GAP apart, kept inside top..bottom."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    placed = [0.0] * len(wanted)
    previous = top - MIN_LABEL_GAP
    for index in order:
        placed[index] = max(wanted[index], previous + MIN_LABEL_GAP)
        previous = placed[index]
    overflow = previous - bottom
    if overflow > 0:
        placed = [p - overflow for p in placed]
    return placed


def _text_width(text: str) -> float:
    """A generous estimate of a (bold) label's width in SVG units."""
    return len(text) * FONT * 0.62


def _latest_label_place(x: float, y: float, width: float, plot_right: float,
                        margin_labels: list[float]) -> tuple[float, float, str]:
    """Where the latest value's label goes: right of its dot when it fits there without
    touching the target and baseline labels, else above the dot (below at the top)."""
    right_end = x + 8 + width
    clear = all(abs(y + 4 - label) > FONT for label in margin_labels)
    if right_end <= WIDTH - 2 and (right_end <= plot_right + 4 or clear):
        return x + 8, y + 4, "start"
    y_label = y - 9 if y - 9 - FONT >= 0 else y + FONT + 7
    anchor = "end" if x > plot_right - width / 2 else "middle"
    left = x - width if anchor == "end" else x - width / 2
    if left < 2:  # a large value with a long unit: kept inside the chart, flush left
        return 2, y_label, "start"
    if left + width > WIDTH - 2:
        return WIDTH - 2, y_label, "end"
    return x, y_label, anchor


def kpi_chart(kpi: Kpi, readings: Sequence[Reading], start: dt.date, due: dt.date,
              today: dt.date, translate: Translator, label: str) -> Markup:
    """An SVG chart of one KPI; `label` is its text alternative for screen readers."""
    points = sorted((r for r in readings if r.kpi == kpi.id), key=lambda r: r.date)
    target_text = translate("site.chart_target", value=translate.number(kpi.target))
    baseline_text = translate("site.chart_baseline", value=translate.number(kpi.baseline))
    pad_right = min(MAX_PAD_RIGHT, max(MIN_PAD_RIGHT, 12 + max(
        _text_width(target_text), _text_width(baseline_text))))
    frame = _Frame(kpi, points, start, due,
                   (PAD_LEFT, PAD_TOP, WIDTH - pad_right, HEIGHT - PAD_BOTTOM))
    y_base, y_target = frame.y(kpi.baseline), frame.y(kpi.target)
    parts = [
        f'<svg class="kpi-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'font-family="system-ui, sans-serif">',
        f"<title>{escape(label)}</title>",
        _line("baseline", frame.left, y_base, frame.right, y_base, "#b1b4b6"),
        _line("target", frame.left, y_target, frame.right, y_target, "#505a5f", 1.5),
        _line("expected", frame.x(start), y_base, frame.x(due), y_target, "#505a5f", 1.5, "5 4"),
    ]
    if frame.first <= today <= frame.last:
        x_today = frame.x(today)
        parts.append(_line("today", x_today, frame.top - 6, x_today, frame.bottom, "#0b0c0c",
                           1, "1 3"))
        parts.append(_text(translate("site.chart_today"), x_today, frame.top - 8,
                           anchor="middle" if frame.left + 24 < x_today < frame.right - 24
                           else ("start" if x_today <= frame.left + 24 else "end")))
    label_x = frame.right + 8
    target_label_y, base_label_y = _spread([y_target + 4, y_base + 4], FONT, HEIGHT - 4)
    parts.append(_text(target_text, label_x, target_label_y, fill="#0b0c0c"))
    parts.append(_text(baseline_text, label_x, base_label_y))
    if points:
        # Each reading's place, written once for the line and its dot.
        places = [(_fmt(frame.x(r.date)), _fmt(frame.y(r.value))) for r in points]
        path = " ".join(f"{x},{y}" for x, y in places)
        parts.append(f'<polyline class="readings" points="{path}" fill="none" stroke="#0b0c0c" '
                     f'stroke-width="2.5" stroke-linejoin="round"/>')
        parts.extend(f'<circle cx="{x}" cy="{y}" r="3.5" fill="#0b0c0c" stroke="#fff" '
                     'stroke-width="1"/>' for x, y in places)
        latest = points[-1]
        value = translate.quantity(latest.value, kpi.unit)
        if _text_width(value) > WIDTH - 4:  # a unit too long for the chart: the number alone
            value = translate.number(latest.value)
        x_label, y_label, anchor = _latest_label_place(
            frame.x(latest.date), frame.y(latest.value), _text_width(value), frame.right,
            [target_label_y, base_label_y])
        parts.append(_text(value, x_label, y_label, anchor=anchor, bold=True, fill="#0b0c0c"))
    parts.append(_text(translate.date(frame.first, "short"), frame.left, HEIGHT - 6))
    parts.append(_text(translate.date(frame.last, "short"), frame.right, HEIGHT - 6,
                       anchor="end"))
    parts.append("</svg>")
    return Markup("".join(parts))


SPARK_WIDTH, SPARK_HEIGHT = 96, 28


def kpi_sparkline(kpi: Kpi, readings: Sequence[Reading], start: dt.date,
                  due: dt.date) -> Markup:
    """A word-sized chart for lists: target, expected path, readings. Decorative: the
    progress is always written beside it, so screen readers skip it."""
    points = sorted((r for r in readings if r.kpi == kpi.id), key=lambda r: r.date)
    frame = _Frame(kpi, points, start, due, (2, 3, SPARK_WIDTH - 4, SPARK_HEIGHT - 3))
    y_target = frame.y(kpi.target)
    parts = [
        f'<svg class="sparkline" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" '
        f'width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" aria-hidden="true" focusable="false">',
        _line("target", frame.left, y_target, frame.right, y_target, "#505a5f", 1),
        _line("expected", frame.x(start), frame.y(kpi.baseline), frame.x(due), y_target,
              "#505a5f", 1, "3 2"),
    ]
    if points:
        path = " ".join(f"{_fmt(frame.x(r.date))},{_fmt(frame.y(r.value))}" for r in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#0b0c0c" '
                     f'stroke-width="2" stroke-linejoin="round"/>')
        latest = points[-1]
        parts.append(f'<circle cx="{_fmt(frame.x(latest.date))}" '
                     f'cy="{_fmt(frame.y(latest.value))}" r="2.5" fill="#0b0c0c"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
