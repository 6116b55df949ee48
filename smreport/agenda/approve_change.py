"""A proposed change to a goal awaits the executive's decision.

Fires for every change without `decision`, whatever the state of its goal.
Changing a goal and its KPIs is the executive's call (case 2); a change left
undecided leaves the team working towards an aim nobody agreed. Due on the
change's date plus `decision_days`.

Passes: `decision: {outcome: rejected, by: petrov, date: 2026-02-20}`.
Fires: no `decision` block, or one dated after today.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..i18n import Term
from ..model import Subject
from .base import AgendaContext, Finding

CODE = "approve-change"
CASE = 2


def find(context: AgendaContext) -> Iterator[Finding]:
    project = context.content.project
    for change in context.content.changes.values():
        if change.decision is not None:
            continue
        goal = context.current.get(change.goal)
        yield Finding(
            Subject("change", change.id), change.date + context.decision_days,
            {"change": change.title, "goal": goal.title if goal else change.goal,
             "proposer": project.person_name(change.proposed_by),
             # GoalPatch.keys() lists the keys the change sets; it is not a dict.
             "fields": [Term(f"field.{key}") for key in change.set.keys()]})  # noqa: SIM118
