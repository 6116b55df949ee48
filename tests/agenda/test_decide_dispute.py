"""decide-dispute: a cross-unit dispute without `decision`; due on decide_by, else date + days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from smreport.model import Subject
from tests.agenda.notes import agenda_of, dispute_note, of_code, project_yml
from tests.conftest import ProjectFactory


def disputes(root: Path, today: str) -> list[tuple[str, dt.date, bool]]:
    return [(i.subject.id if i.subject else "", i.due, i.overdue)
            for i in of_code(agenda_of(root, today), "decide-dispute")]


def test_fires_for_an_open_cross_unit_dispute(make_project: ProjectFactory) -> None:
    # ivanov is in the agency, kuznetsova in PR.
    root = make_project({"disputes/comments.md": dispute_note(date="2026-02-10")}, goal=False)
    items = of_code(agenda_of(root, "2026-02-12"), "decide-dispute")
    assert [(i.subject, i.due, i.overdue, i.case, i.url) for i in items] == [
        (Subject("dispute", "comments"), dt.date(2026, 2, 17), False, 4, "disputes/comments/")]


def test_decide_by_replaces_the_default_due_date(make_project: ProjectFactory) -> None:
    root = make_project({
        "disputes/soon.md": dispute_note(date="2026-02-10", decide_by="2026-02-12"),
        "disputes/late.md": dispute_note(date="2026-02-10", decide_by="2026-03-01"),
    }, goal=False)
    assert disputes(root, "2026-02-13") == [("soon", dt.date(2026, 2, 12), True),
                                            ("late", dt.date(2026, 3, 1), False)]


def test_decision_days_come_from_the_project_rules(make_project: ProjectFactory) -> None:
    root = make_project({"disputes/comments.md": dispute_note(date="2026-02-10")},
                        project=project_yml(rules="decision_days: 1"), goal=False)
    assert disputes(root, "2026-02-11") == [("comments", dt.date(2026, 2, 11), False)]
    assert disputes(root, "2026-02-12") == [("comments", dt.date(2026, 2, 11), True)]


def test_a_dispute_inside_one_unit_never_reaches_the_agenda(
        make_project: ProjectFactory) -> None:
    # smirnova and lebedev are both in marketing.
    root = make_project({"disputes/inside.md": dispute_note(parties=("smirnova", "lebedev"))},
                        goal=False)
    assert disputes(root, "2026-03-01") == []


def test_two_units_among_several_parties_make_it_cross_unit(
        make_project: ProjectFactory) -> None:
    root = make_project({"disputes/three.md": dispute_note(
        parties=("smirnova", "lebedev", "kuznetsova"))}, goal=False)
    assert disputes(root, "2026-02-11") == [("three", dt.date(2026, 2, 17), False)]


def test_a_decided_dispute_is_off_the_agenda(make_project: ProjectFactory) -> None:
    root = make_project({"disputes/comments.md": dispute_note(decided="2026-02-15")},
                        goal=False)
    assert disputes(root, "2026-02-14") == [("comments", dt.date(2026, 2, 17), False)]
    assert disputes(root, "2026-02-15") == []


def test_a_dispute_dated_after_today_is_not_yet_raised(make_project: ProjectFactory) -> None:
    root = make_project({"disputes/comments.md": dispute_note(date="2026-02-10")}, goal=False)
    assert disputes(root, "2026-02-09") == []
    assert disputes(root, "2026-02-10") == [("comments", dt.date(2026, 2, 17), False)]
