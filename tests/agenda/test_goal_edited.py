"""goal-edited without git: the rule needs the history of the goal files, so it stays silent."""

from __future__ import annotations

import datetime as dt

from smreport.agenda import derive_agenda
from smreport.pipeline import Options, check
from tests.agenda.notes import agenda_of, goal_note, of_code
from tests.conftest import ProjectFactory


def test_yields_nothing_without_edits(make_project: ProjectFactory) -> None:
    root = make_project()
    # Edit the approved goal's title and due date in place: without git there is no
    # approved version to compare with.
    goal = root / "goals" / "double-leads.md"
    goal.write_text(goal_note(title="Triple qualified leads", due="2026-08-01"),
                    encoding="utf-8")
    assert of_code(agenda_of(root, "2026-02-15"), "goal-edited") == []
    result = check(Options(content=root))
    assert result.content is not None
    items = derive_agenda(result.content, dt.date(2026, 2, 15), edits=None)
    assert [i.code for i in items if i.code == "goal-edited"] == []
