"""A goal awaits the executive's approval.

Fires for a goal without `approved` whose current status is active. Setting
the goal and agreeing its KPIs is the executive's first duty (case 1): until
then the team works without an agreed aim. Due on the goal's start.

Passes: `approved: {by: petrov, date: 2026-01-10}`. Fires: no `approved` block.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..i18n import Count
from ..model import Subject
from .base import AgendaContext, Finding

CODE = "approve-goal"
CASE = 1


def find(context: AgendaContext) -> Iterator[Finding]:
    people = context.content.project
    for goal in context.current.values():
        if goal.goal.approved is None and goal.status == "active":
            yield Finding(
                Subject("goal", goal.id), goal.start,
                {"goal": goal.title, "owner": people.person_name(goal.goal.owner),
                 "kpis": Count("kpis", len(goal.kpis))})
