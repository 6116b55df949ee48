"""close-goal: an approved goal, current status active, after its current due; due on that due."""

from __future__ import annotations

import datetime as dt

from smreport.model import Subject
from tests.agenda.notes import agenda_of, change_note, goal_note, of_code
from tests.conftest import ProjectFactory


def test_fires_only_strictly_after_the_due_date(make_project: ProjectFactory) -> None:
    root = make_project()  # double-leads: due 2026-07-01
    assert of_code(agenda_of(root, "2026-07-01"), "close-goal") == []
    items = of_code(agenda_of(root, "2026-07-02"), "close-goal")
    assert [(i.subject, i.due, i.overdue, i.case, i.url) for i in items] == [
        (Subject("goal", "double-leads"), dt.date(2026, 7, 1), True, 2, "goals/double-leads/")]


def test_does_not_fire_for_an_unapproved_goal(make_project: ProjectFactory) -> None:
    root = make_project({"goals/new-goal.md": goal_note(approved=None)}, goal=False)
    items = agenda_of(root, "2026-06-01")
    assert of_code(items, "close-goal") == []
    assert [i.code for i in items if i.subject] == ["approve-goal"]


def test_does_not_fire_for_a_goal_closed_in_its_file(make_project: ProjectFactory) -> None:
    root = make_project({"goals/done.md": goal_note(status="achieved"),
                         "goals/gone.md": goal_note(status="dropped")}, goal=False)
    assert of_code(agenda_of(root, "2026-06-01"), "close-goal") == []


def test_a_goal_closed_by_an_approved_change_is_not_on_the_agenda(
        make_project: ProjectFactory) -> None:
    root = make_project({
        "goals/done.md": goal_note(),
        "changes/close-it.md": change_note(goal="done", date="2026-05-02",
                                           set_lines=["status: achieved"],
                                           outcome="approved", decided="2026-05-04"),
    }, goal=False)
    assert of_code(agenda_of(root, "2026-05-04"), "close-goal") == []
    # Before the decision the change is pending, and the goal is still open.
    items = agenda_of(root, "2026-05-03")
    assert [(i.code, i.due) for i in items if i.subject] == [
        ("close-goal", dt.date(2026, 5, 1)), ("approve-change", dt.date(2026, 5, 9))]


def test_uses_the_current_due_date(make_project: ProjectFactory) -> None:
    root = make_project({
        "goals/moved.md": goal_note(due="2026-05-01"),
        "changes/extend.md": change_note(goal="moved", date="2026-04-01",
                                         set_lines=["due: 2026-08-31"],
                                         outcome="approved", decided="2026-04-02"),
    }, goal=False)
    assert of_code(agenda_of(root, "2026-06-01"), "close-goal") == []
    items = of_code(agenda_of(root, "2026-09-01"), "close-goal")
    assert [(i.subject, i.due) for i in items] == [(Subject("goal", "moved"),
                                                    dt.date(2026, 8, 31))]


def test_a_rejected_extension_does_not_move_the_due_date(make_project: ProjectFactory) -> None:
    root = make_project({
        "goals/moved.md": goal_note(due="2026-05-01"),
        "changes/extend.md": change_note(goal="moved", date="2026-04-01",
                                         set_lines=["due: 2026-08-31"],
                                         outcome="rejected", decided="2026-04-02"),
    }, goal=False)
    assert [i.due for i in of_code(agenda_of(root, "2026-06-01"), "close-goal")] == [
        dt.date(2026, 5, 1)]


def test_an_approval_dated_after_today_does_not_count(make_project: ProjectFactory) -> None:
    root = make_project({"goals/short.md": goal_note(due="2026-02-01", approved="2026-02-10")},
                        goal=False)
    items = agenda_of(root, "2026-02-05")
    assert [(i.code, i.subject) for i in items if i.subject] == [
        ("approve-goal", Subject("goal", "short"))]
    assert [i.code for i in agenda_of(root, "2026-02-10") if i.subject] == ["close-goal"]
