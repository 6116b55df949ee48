"""approve-goal: a goal without `approved` whose current status is active; due on its start."""

from __future__ import annotations

import datetime as dt

from smreport.model import Subject
from tests.agenda.notes import agenda_of, change_note, goal_note, of_code
from tests.conftest import ProjectFactory


def test_fires_for_a_goal_without_approval_due_on_its_start(make_project: ProjectFactory) -> None:
    root = make_project({"goals/new-goal.md": goal_note(start="2026-03-01", due="2026-09-30",
                                                         approved=None)})
    items = of_code(agenda_of(root, "2026-02-15"), "approve-goal")
    assert [(i.subject, i.due, i.overdue, i.case) for i in items] == [
        (Subject("goal", "new-goal"), dt.date(2026, 3, 1), False, 1)]
    assert items[0].url == "goals/new-goal/"


def test_does_not_fire_for_an_approved_goal(make_project: ProjectFactory) -> None:
    root = make_project()  # the default goal is approved on 2026-01-10
    assert of_code(agenda_of(root, "2026-02-15"), "approve-goal") == []


def test_overdue_only_after_the_start(make_project: ProjectFactory) -> None:
    root = make_project({"goals/new-goal.md": goal_note(start="2026-03-01", due="2026-09-30",
                                                         approved=None)})
    assert [i.overdue for i in of_code(agenda_of(root, "2026-03-01"), "approve-goal")] == [False]
    assert [i.overdue for i in of_code(agenda_of(root, "2026-03-02"), "approve-goal")] == [True]


def test_an_approval_dated_after_today_is_not_yet_given(make_project: ProjectFactory) -> None:
    root = make_project({"goals/new-goal.md": goal_note(approved="2026-01-20")})
    assert [i.subject for i in of_code(agenda_of(root, "2026-01-19"), "approve-goal")] == [
        Subject("goal", "new-goal")]
    assert of_code(agenda_of(root, "2026-01-20"), "approve-goal") == []


def test_a_goal_starting_after_today_is_kept(make_project: ProjectFactory) -> None:
    root = make_project({"goals/later.md": goal_note(start="2027-01-01", due="2027-06-30",
                                                      approved=None)})
    items = of_code(agenda_of(root, "2026-02-15"), "approve-goal")
    assert [(i.subject, i.due, i.overdue) for i in items] == [
        (Subject("goal", "later"), dt.date(2027, 1, 1), False)]


def test_does_not_fire_for_a_goal_achieved_or_dropped_in_its_file(
        make_project: ProjectFactory) -> None:
    root = make_project({"goals/done.md": goal_note(status="achieved", approved=None),
                         "goals/gone.md": goal_note(status="dropped", approved=None)})
    assert of_code(agenda_of(root, "2026-02-15"), "approve-goal") == []


def test_a_goal_dropped_by_an_approved_change_is_not_on_the_agenda(
        make_project: ProjectFactory) -> None:
    root = make_project({
        "goals/new-goal.md": goal_note(approved=None),
        "changes/drop-it.md": change_note(goal="new-goal", date="2026-02-01",
                                          set_lines=["status: dropped"],
                                          outcome="approved", decided="2026-02-03"),
    })
    assert of_code(agenda_of(root, "2026-02-03"), "approve-goal") == []
    # The day before the decision the change is still pending: the goal awaits approval.
    assert [i.subject for i in of_code(agenda_of(root, "2026-02-02"), "approve-goal")] == [
        Subject("goal", "new-goal")]


def test_a_rejected_or_pending_drop_leaves_it_on_the_agenda(make_project: ProjectFactory) -> None:
    root = make_project({
        "goals/new-goal.md": goal_note(approved=None),
        "changes/drop-it.md": change_note(goal="new-goal", set_lines=["status: dropped"],
                                          outcome="rejected", decided="2026-02-03"),
        "changes/drop-again.md": change_note(goal="new-goal", set_lines=["status: achieved"]),
    })
    assert [i.subject for i in of_code(agenda_of(root, "2026-02-15"), "approve-goal")] == [
        Subject("goal", "new-goal")]
