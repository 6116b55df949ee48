"""An approved goal was edited without an approved change.

Only where the content root is in a git repository: fires for an approved
goal whose definition (`title`, `due`, `status`, `kpis`) in the working tree
differs from the version committed with its current `approved` block, where
no approved change sets that field to that value. Quietly editing an approved
goal changes the goal behind the executive's back (case 2). Due on the date
of the first later commit that made the difference (today for an uncommitted
edit) plus `decision_days`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..i18n import Term
from ..model import Subject
from .base import AgendaContext, Finding

CODE = "goal-edited"
CASE = 2


def find(context: AgendaContext) -> Iterator[Finding]:
    if context.edits is None:
        return
    for goal_id, edits in sorted(context.edits.items()):
        goal = context.current.get(goal_id)
        if goal is None or not goal.goal.approved or not edits:
            continue
        since = min(edit.since for edit in edits)
        yield Finding(Subject("goal", goal_id), since + context.decision_days,
                      {"goal": goal.title, "fields": [Term(f"field.{e.field}") for e in edits]},
                      details={"edits": edits})
