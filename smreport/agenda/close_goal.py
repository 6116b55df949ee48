"""An approved, active goal is past its due date.

Fires for an approved goal whose current status is active when today is
after its current due. Closing or extending a goal is a change of goal
(case 2): only the executive can record the result or approve a new date.
Due on the goal's current due date.

Passes: on its due date itself, or once an approved change sets `status:
achieved` or a later `due`. Fires: `due: 2026-06-30`, still active on 2026-07-01.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Subject
from .base import AgendaContext, Finding

CODE = "close-goal"
CASE = 2


def find(context: AgendaContext) -> Iterator[Finding]:
    for goal in context.current.values():
        if goal.goal.approved and goal.status == "active" and context.today > goal.due:
            yield Finding(Subject("goal", goal.id), goal.due,
                          {"goal": goal.title, "due": goal.due})
