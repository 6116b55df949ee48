"""KPI charts: coordinates written once per process, readings' line and dots in step."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from smreport import charts
from smreport.i18n import translator
from smreport.model import Kpi, Reading


def plain(value: float) -> str:
    """How a coordinate was written before coordinates were cached."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def test_a_cached_coordinate_reads_as_its_plain_formatting() -> None:
    generator = random.Random(7)
    values = [generator.uniform(-50, 450) for _ in range(5000)]
    values += [0.25, 0.35, 12.25, 12.35, 399.95, 399.96, -0.04, -0.06, 8, 136, 1e6]
    charts._fmt.cache_clear()
    for value in values + values:  # the second time from the cache
        assert charts._fmt(value) == plain(value), value
    assert charts._fmt.cache_info().hits >= len(values)


@pytest.mark.parametrize("first", [0.0, -0.0])
def test_zero_and_negative_zero_write_the_same_whichever_comes_first(first: float) -> None:
    charts._fmt.cache_clear()
    assert charts._fmt(first) == "0"
    assert charts._fmt(-first) == "0"


def test_each_reading_has_its_dot_where_the_line_passes() -> None:
    kpi = Kpi(id="subscribers", name="Subscribers", baseline=100, target=1000)
    readings = [Reading(kpi="subscribers", date=dt.date(2026, month, 1), value=value)
                for month, value in ((2, 150), (3, 320.5), (5, 610.25), (7, 880))]
    svg = charts.kpi_chart(kpi, readings, dt.date(2026, 1, 1), dt.date(2026, 12, 31),
                           dt.date(2026, 8, 1), translator("en"), "Subscribers")
    line = re.search(r'<polyline class="readings" points="([^"]+)"', svg)
    assert line is not None
    points = [tuple(point.split(",")) for point in line.group(1).split()]
    dots = re.findall(r'<circle cx="([^"]+)" cy="([^"]+)" r="3.5"', svg)
    assert len(points) == len(readings)
    assert [tuple(dot) for dot in dots] == points
    assert len(set(points)) == len(points)  # four different places, not one repeated


@pytest.mark.parametrize("language, value, unit", [
    ("en", 9934722.1, "roubles (incl. VAT)"),
    ("ru", 7406.3, "просмотров на публикацию"),
    ("en", 12.5, "qualified leads from social networks per month")])
@pytest.mark.parametrize("day", [1, 60, 150, 240, 330, 364])
def test_the_latest_value_label_stays_inside_the_chart(language: str, value: float, unit: str,
                                                        day: int) -> None:
    # A long label placed left of a dot near the chart's right end ran past its left edge:
    # "9,934,722.1 roubles (incl. VAT)" lost its first digits.
    kpi = Kpi(id="k", name="Revenue", baseline=0, target=value * 1.3, unit=unit)
    start = dt.date(2026, 1, 1)
    for reached in (0.05, 0.5, 0.99):
        readings = [Reading(kpi="k", date=start + dt.timedelta(days=day), value=value * reached)]
        svg = charts.kpi_chart(kpi, readings, start, dt.date(2026, 12, 31),
                               dt.date(2026, 12, 31), translator(language), "Revenue")
        found = re.search(r'<text x="([^"]+)" y="[^"]+" font-size="13" text-anchor="(\w+)"[^>]*'
                          r'font-weight="bold">([^<]+)</text>', svg)
        assert found is not None
        x, anchor, text = float(found.group(1)), found.group(2), found.group(3)
        width = charts._text_width(text)  # generous: the real text is no wider
        left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
        assert left >= 0 and left + width <= charts.WIDTH, (text, reached, anchor, x)
