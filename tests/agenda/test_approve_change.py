"""approve-change: a change without `decision`, whatever its goal; due date + decision_days."""

from __future__ import annotations

import datetime as dt

from smreport.model import Subject
from tests.agenda.notes import agenda_of, change_note, goal_note, of_code, project_yml
from tests.conftest import ProjectFactory


def test_fires_for_a_pending_change_due_after_decision_days(make_project: ProjectFactory) -> None:
    root = make_project({"changes/later-due.md": change_note(date="2026-02-01")})
    items = of_code(agenda_of(root, "2026-02-03"), "approve-change")
    assert [(i.subject, i.due, i.overdue, i.case, i.url) for i in items] == [
        (Subject("change", "later-due"), dt.date(2026, 2, 8), False, 2, "changes/later-due/")]


def test_decision_days_come_from_the_project_rules(make_project: ProjectFactory) -> None:
    root = make_project({"changes/later-due.md": change_note(date="2026-02-01")},
                        project=project_yml(rules="decision_days: 3"))
    assert [i.due for i in of_code(agenda_of(root, "2026-02-03"), "approve-change")] == [
        dt.date(2026, 2, 4)]


def test_overdue_only_after_the_due_date(make_project: ProjectFactory) -> None:
    root = make_project({"changes/later-due.md": change_note(date="2026-02-01")})
    assert [i.overdue for i in of_code(agenda_of(root, "2026-02-08"), "approve-change")] == [False]
    assert [i.overdue for i in of_code(agenda_of(root, "2026-02-09"), "approve-change")] == [True]


def test_does_not_fire_for_a_decided_change(make_project: ProjectFactory) -> None:
    root = make_project({
        "changes/yes.md": change_note(outcome="approved", decided="2026-02-02"),
        "changes/no.md": change_note(outcome="rejected", decided="2026-02-02"),
    })
    assert of_code(agenda_of(root, "2026-02-03"), "approve-change") == []


def test_a_decision_dated_after_today_is_not_yet_taken(make_project: ProjectFactory) -> None:
    root = make_project({"changes/yes.md": change_note(outcome="approved", decided="2026-02-05")})
    assert [i.subject.id for i in of_code(agenda_of(root, "2026-02-04"), "approve-change")
            if i.subject] == ["yes"]
    assert of_code(agenda_of(root, "2026-02-05"), "approve-change") == []


def test_a_change_dated_after_today_is_not_yet_written(make_project: ProjectFactory) -> None:
    root = make_project({"changes/later-due.md": change_note(date="2026-02-01")})
    assert of_code(agenda_of(root, "2026-01-31"), "approve-change") == []
    assert len(of_code(agenda_of(root, "2026-02-01"), "approve-change")) == 1


def test_fires_whatever_the_state_of_its_goal(make_project: ProjectFactory) -> None:
    root = make_project({
        "goals/unapproved.md": goal_note(approved=None),
        "goals/finished.md": goal_note(status="achieved"),
        "goals/late.md": goal_note(due="2026-01-20"),
        "changes/for-unapproved.md": change_note(goal="unapproved"),
        "changes/for-finished.md": change_note(goal="finished", set_lines=["status: active"]),
        "changes/for-late.md": change_note(goal="late"),
    })
    items = of_code(agenda_of(root, "2026-03-01"), "approve-change")
    assert sorted(i.subject.id for i in items if i.subject) == [
        "for-finished", "for-late", "for-unapproved"]
