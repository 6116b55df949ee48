"""One or more KPIs of an approved, active goal are behind the expected path.

For each current KPI, the latest reading is judged against the current
definition, start and due: progress `(value - baseline) / (target -
baseline)` is off track when below `expected * (1 - off_track_tolerance)`,
expected being the share of the goal's time gone by at the reading's date.
A KPI is excused once any change to the goal is dated on or after its latest
reading: the team has answered it. Off track means the goal may need changing
(case 2). One item per goal, due on the latest of those readings' dates plus
`decision_days`.

Passes: `leads` 100 -> 200 over 120 days, read at 140 on day 60 (0.4 of the way,
expected 0.5, tolerance 0.2). Fires: read at 139 that day, with no change to
the goal dated on or after the reading.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from ..model import Subject
from .base import AgendaContext, Finding

CODE = "kpi-off-track"
CASE = 2


def find(context: AgendaContext) -> Iterator[Finding]:
    tolerance = context.content.project.rules.off_track_tolerance
    change_dates: dict[str, list[dt.date]] = {}
    for change in context.content.changes.values():
        change_dates.setdefault(change.goal, []).append(change.date)
    for goal in context.current.values():
        if not goal.goal.approved or goal.status != "active" or context.today > goal.due:
            continue
        answered = change_dates.get(goal.id, [])
        off_track = []
        for kpi in goal.kpis:
            reading = goal.latest_reading(kpi.id)
            if reading is None:
                continue
            if goal.on_track(kpi, reading, tolerance):
                continue
            expected = goal.expected_progress(reading.date)
            if any(date >= reading.date for date in answered):
                continue
            off_track.append((kpi, reading, expected))
        if off_track:
            latest = max(reading.date for _kpi, reading, _expected in off_track)
            yield Finding(
                Subject("goal", goal.id), latest + context.decision_days,
                {"goal": goal.title, "kpis": [kpi.name for kpi, _r, _e in off_track]},
                kpis=tuple(kpi.id for kpi, _r, _e in off_track),
                details={"readings": {kpi.id: (reading.value, expected)
                                      for kpi, reading, expected in off_track}})
