"""review-page: today's month has no review; lists the unbroken run of months without one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.agenda.notes import agenda_of, of_code, project_yml, review_note
from tests.conftest import ProjectFactory


def review_items(root: Path, today: str) -> list[tuple[tuple[str, ...] | None, dt.date, bool]]:
    return [(i.months, i.due, i.overdue) for i in of_code(agenda_of(root, today), "review-page")]


def test_a_review_for_the_current_month_clears_it(make_project: ProjectFactory) -> None:
    root = make_project({"reviews/march.md": review_note("2026-03", "2026-03-05")}, goal=False)
    assert review_items(root, "2026-03-05") == []
    assert review_items(root, "2026-03-31") == []


def test_fires_for_the_current_month_due_on_its_last_day(make_project: ProjectFactory) -> None:
    root = make_project({"reviews/february.md": review_note("2026-02", "2026-02-20")},
                        goal=False)
    items = of_code(agenda_of(root, "2026-03-10"), "review-page")
    assert [(i.subject, i.months, i.due, i.overdue, i.case, i.url) for i in items] == [
        (None, ("2026-03",), dt.date(2026, 3, 31), False, 3, "reviews/")]


def test_lists_the_unbroken_run_due_at_the_end_of_its_first_month(
        make_project: ProjectFactory) -> None:
    root = make_project({"reviews/january.md": review_note("2026-01", "2026-01-25")},
                        goal=False)
    assert review_items(root, "2026-04-10") == [
        (("2026-02", "2026-03", "2026-04"), dt.date(2026, 2, 28), True)]


def test_months_missed_before_the_last_review_are_not_back_filled(
        make_project: ProjectFactory) -> None:
    # January is missed, but February was reviewed: only March and April are due.
    root = make_project({"reviews/february.md": review_note("2026-02", "2026-02-20")},
                        goal=False)
    assert review_items(root, "2026-04-01") == [
        (("2026-03", "2026-04"), dt.date(2026, 3, 31), True)]


def test_the_run_starts_no_earlier_than_the_project(make_project: ProjectFactory) -> None:
    root = make_project(goal=False)  # project start 2026-01-01, no review yet
    assert review_items(root, "2026-03-10") == [
        (("2026-01", "2026-02", "2026-03"), dt.date(2026, 1, 31), True)]
    assert review_items(root, "2026-01-01") == [(("2026-01",), dt.date(2026, 1, 31), False)]


def test_nothing_in_a_month_before_the_project_starts(make_project: ProjectFactory) -> None:
    root = make_project(project=project_yml(start="2026-03-15"), goal=False)
    assert review_items(root, "2026-02-28") == []
    assert review_items(root, "2026-03-01") == [(("2026-03",), dt.date(2026, 3, 31), False)]


def test_the_overdue_boundary_is_the_day_after_the_due_date(
        make_project: ProjectFactory) -> None:
    root = make_project(project=project_yml(start="2028-02-01"), goal=False)
    # A leap year: February 2028 ends on the 29th.
    assert review_items(root, "2028-02-29") == [(("2028-02",), dt.date(2028, 2, 29), False)]
    assert review_items(root, "2028-03-01") == [
        (("2028-02", "2028-03"), dt.date(2028, 2, 29), True)]


def test_a_review_dated_after_today_is_not_yet_written(make_project: ProjectFactory) -> None:
    root = make_project({"reviews/march.md": review_note("2026-03", "2026-03-20")},
                        project=project_yml(start="2026-03-01"), goal=False)
    assert review_items(root, "2026-03-19") == [(("2026-03",), dt.date(2026, 3, 31), False)]
    assert review_items(root, "2026-03-20") == []


def test_a_review_written_late_for_an_earlier_month_ends_the_run_there(
        make_project: ProjectFactory) -> None:
    # The February review was written in March; it counts for February, not March.
    root = make_project({"reviews/february.md": review_note("2026-02", "2026-03-03")},
                        goal=False)
    assert review_items(root, "2026-03-02") == [
        (("2026-01", "2026-02", "2026-03"), dt.date(2026, 1, 31), True)]
    assert review_items(root, "2026-03-03") == [(("2026-03",), dt.date(2026, 3, 31), False)]


def test_the_run_crosses_a_year(make_project: ProjectFactory) -> None:
    root = make_project({"reviews/november.md": review_note("2026-11", "2026-11-20")},
                        goal=False)
    assert review_items(root, "2027-01-15") == [
        (("2026-12", "2027-01"), dt.date(2026, 12, 31), True)]
